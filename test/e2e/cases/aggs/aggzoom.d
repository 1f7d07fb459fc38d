/* dtrace: -q -x aggzoom */
/* aggzoom: the tallest bar takes 95% of the width, the others in proportion to it */
BEGIN
{
	@ = quantize(1);
	@ = quantize(1);
	@ = quantize(100);
	exit(0);
}
