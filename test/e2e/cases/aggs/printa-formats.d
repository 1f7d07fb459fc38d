/* dtrace: -q */
BEGIN
{
	@lat["read"] = quantize(3);
	@lat["read"] = quantize(5);
	@lat["write"] = quantize(100);
	@avg["read"] = avg(10);
	@avg["read"] = avg(21);
	printa("%-6s %@d\n", @lat);
	printa("mean for %s is %@d\n", @avg);
	exit(0);
}
