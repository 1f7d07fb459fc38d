/* dtrace: -q -x nspec=2 */
BEGIN
{
	a = speculation();
	b = speculation();
	c = speculation();
	printf("%d %d %d\n", a, b, c);
}

BEGIN
{
	speculate(a);
	printf("kept\n");
}

BEGIN
{
	speculate(b);
	printf("thrown away\n");
}

BEGIN
{
	commit(a);
	discard(b);
}

BEGIN
{
	exit(0);
}
