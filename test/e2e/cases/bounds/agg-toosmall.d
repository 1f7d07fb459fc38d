/* dtrace: -x aggsize=40 */
/* Not even one entry fits: refused when tracing would start, as Oracle DTrace refuses it. */
BEGIN
{
	@[probename, 1] = count();
	exit(0);
}
