/* dtrace: -qw */
BEGIN
{
	/* BEGIN fires in dtrace itself: SIGWINCH is ignored by default, so tracing goes on */
	raise(SIGWINCH);
	printf("still running\n");
	exit(0);
}
