BEGIN
{
	n = 1;
}

BEGIN
{
	printf("hello %d", n);
}

BEGIN
{
}

BEGIN
{
	trace(n + 6);
}

BEGIN
{
	exit(0);
}
