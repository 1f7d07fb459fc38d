/* dtrace: -q -x rawbytes */
BEGIN
{
	trace("ab");
	exit(0);
}
