/* dtrace: -q */
tick-10ms
/i++ == 3/
{
	printf("tick %d\n", i);
	exit(0);
}

profile:::tick-20ms
/j++ == 100/
{
	printf("never\n");
}
