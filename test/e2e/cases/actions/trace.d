/* dtrace: -q */
BEGIN
{
	trace(1);
	trace(-1);
	trace((char)65);
	trace((short)-2);
	trace(0x1234567890LL);
	trace("string");
	trace(timestamp > 0);
	printf("\n");
	exit(0);
}
