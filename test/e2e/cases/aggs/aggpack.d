/* dtrace: -q -x aggpack -x encoding=ascii */
/* aggpack: a quantization per line, over the buckets any key has data in */
BEGIN
{
	@q["x"] = quantize(1);
	@q["x"] = quantize(100);
	@q["y"] = quantize(7);
	@q["y"] = quantize(8);
	@q["y"] = quantize(8);
	@l = lquantize(3, 0, 10, 2);
	@l = lquantize(7, 0, 10, 2);
	@l = lquantize(7, 0, 10, 2);
	exit(0);
}
