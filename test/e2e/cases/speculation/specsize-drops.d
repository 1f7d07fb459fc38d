/* dtrace: -q -x specsize=40 */
BEGIN
{
	s = speculation();
}

BEGIN
{
	speculate(s);
	printf("a rather long line that does not fit in a 40-byte speculation buffer\n");
}

BEGIN
{
	commit(s);
}

BEGIN
{
	exit(0);
}
