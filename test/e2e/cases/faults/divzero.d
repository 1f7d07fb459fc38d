/* dtrace: -q */
BEGIN
{
	x = 0;
	printf("before\n");
	y = 10 / x;
	printf("not printed\n");
}

ERROR
{
	printf("ERROR fired: fault %d\n", arg4);
}

BEGIN
{
	exit(0);
}
