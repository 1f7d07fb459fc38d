/* dtrace: -q -x nspec=1000000 -x quietresize */
/*
 * A million speculations allocate nothing until used. speculate() of an ID that names no
 * active speculation drops the rest of the clause without a word, as DTrace does
 * (dtrace_speculation_buffer() returns no buffer: CPU_DTRACE_DROP, which DTrace checks
 * before any fault); commit() or discard() of an ID past nspec is an illegal operation.
 */
BEGIN
{
	a = speculation();
	b = speculation();
	printf("speculations %d %d\n", a, b);
	i = 0;
}

BEGIN
{
	speculate(3456710);
	i++;
	printf("not printed: invalid ID\n");
}

BEGIN
{
	speculate(-1);
	i++;
	printf("not printed: negative ID\n");
}

BEGIN
{
	speculate(3);
	printf("not printed: an ID never handed out\n");
}

BEGIN
{
	speculate(b);
	printf("speculated into %d\n", b);
}

BEGIN
{
	printf("i is %d\n", i);
}

BEGIN
{
	commit(b);
	discard(a);
}

BEGIN
{
	commit(1000001);
}

BEGIN
{
	exit(0);
}

ERROR
{
	printf("ERROR: fault %d\n", arg4);
}
