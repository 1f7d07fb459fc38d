/* dtrace: -x errtags -s $FILE */
nosuchprovider:::nosuchprobe
{
	exit(0);
}
