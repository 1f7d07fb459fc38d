/* an integer literal has no type worth printing: refused, as Oracle refuses it */
BEGIN
{
	print(1);
}
