/* dtrace: -q */
/* a narrower operand converts to its own type, and both to a narrower common type: -1u is 0xffffffff */
BEGIN
{
	x = 4294967295;
	i = -1;
	printf("%d %d %d %d %d %d\n", -1u, x == -1u, (int64_t)4294967295 == -1u, -1 == -1u, i == -1u, i < 1u);
	exit(0);
}
