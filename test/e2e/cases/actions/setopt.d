BEGIN
{
	setopt("quiet");
	printf("quiet now\n");
	setopt("nosuchoption");
	exit(0);
}
