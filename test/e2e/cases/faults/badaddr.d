/* dtrace: -q */
BEGIN
{
	trace(*(int *)64);
}

BEGIN
/x++ == 0/
{
	exit(0);
}
