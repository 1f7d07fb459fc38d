/* fill keeps room for END's records: a buffer smaller than that is refused */
#pragma D option bufpolicy=fill
#pragma D option bufsize=32

BEGIN
{
	exit(0);
}

END
{
	trace(execname);
}
