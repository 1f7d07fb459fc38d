/* dtrace: -q */
BEGIN
{
	@q = quantize(0);
	@q = quantize(1);
	@q = quantize(3);
	@q = quantize(3);
	@q = quantize(1000);
	@q = quantize(-5);
	@l = lquantize(3, 0, 10, 2);
	@l = lquantize(7, 0, 10, 2);
	@l = lquantize(-1, 0, 10, 2);
	@l = lquantize(12, 0, 10, 2);
	@ll = llquantize(5, 10, 0, 3, 10);
	@ll = llquantize(55, 10, 0, 3, 10);
	@ll = llquantize(555, 10, 0, 3, 10);
	exit(0);
}
