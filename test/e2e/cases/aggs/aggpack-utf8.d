/* dtrace: -q -x aggpack -x encoding=utf8 */
/* aggpack in UTF-8: block elements, taller for fuller buckets */
BEGIN
{
	@q = quantize(1);
	@q = quantize(100);
	@q = quantize(100);
	@q = quantize(100);
	exit(0);
}
