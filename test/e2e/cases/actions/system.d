/* dtrace: -qw */
BEGIN
{
	printf("before\n");
	system("echo from system %d", 42);
	printf("after\n");
	exit(0);
}
