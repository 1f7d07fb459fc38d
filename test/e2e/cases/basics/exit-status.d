/* dtrace: -q */
BEGIN
{
	exit(3);
}

BEGIN
{
	printf("not reached\n");
}

END
{
	printf("END runs after exit()\n");
}
