/* dtrace: -q */
/* a ring buffer keeps the newest records that fit, printed when tracing stops */
#pragma D option bufpolicy=ring
#pragma D option bufsize=40

int i;

tick-1ms
/i < 50/
{
	printf("%d\n", i++);
}

tick-1ms
/i == 50/
{
	exit(0);
}
