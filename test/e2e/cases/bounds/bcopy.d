/* dtrace: -q */
/*
 * bcopy() writes only into the scratch space the clause alloca()ed, checked as DTrace checks
 * it: the size first, then the source, then the destination. Past the end of what was
 * allocated is an invalid size, outside it an invalid address; within it, one alloca()ed
 * buffer may run into the next, as in DTrace.
 */
char g[8];

BEGIN
{
	a = (char *)alloca(4);
	bcopy("abcdefg", a, 8);
	printf("not printed: 8 bytes into alloca(4)\n");
}

BEGIN
{
	a = (char *)alloca(8);
	bcopy(a, a, 16);
	printf("not printed: a 16-byte source in alloca(8)\n");
}

BEGIN
{
	a = (char *)alloca(8);
	bcopy("abcdefg", a + 8, 1);
	printf("not printed: past the allocated scratch\n");
}

BEGIN
{
	bcopy("abcdefg", (char *)g, 8);
	printf("not printed: a global is not scratch\n");
}

BEGIN
{
	a = (char *)alloca(8);
	bcopy("abcdefg", a, -1);
	printf("not printed: a negative size\n");
}

BEGIN
{
	a = (char *)alloca(8);
	bcopy("abcdefg", a, 0x7fffffffff);
	printf("not printed: more than the scratch space\n");
}

BEGIN
{
	a = (char *)alloca(8);
	b = (char *)alloca(8);
	bcopy("abcdefghijklmno", a, 16);
	printf("%s %s\n", stringof(a), stringof(b));
	exit(0);
}

ERROR
{
	printf("ERROR: fault %d\n", arg4);
}
