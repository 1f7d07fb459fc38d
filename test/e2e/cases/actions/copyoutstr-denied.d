BEGIN
{
	copyoutstr("x", 0, 2);
	exit(0);
}
