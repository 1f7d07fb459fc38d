#pragma D option quiet
BEGIN
{
	printf("quiet: no heading, no probe columns\n");
	exit(0);
}
