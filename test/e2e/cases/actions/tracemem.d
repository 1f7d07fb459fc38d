/* dtrace: -q */
BEGIN
{
	p = (char *)alloca(20);
	bcopy("0123456789abcdefXYZ", p, 20);
	tracemem(p, 20);
	tracemem(p, 20, 5);
	exit(0);
}
