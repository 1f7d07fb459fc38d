/* dtrace: -q -x defaultargs -s $FILE */
BEGIN
{
	printf("[%d] [%s]\n", $1, $$2);
	exit(0);
}
