/* dtrace: -q */
BEGIN
{
	@c = count();
	@c = count();
	@s = sum(10);
	@s = sum(-3);
	@a = avg(4);
	@a = avg(7);
	@mn = min(5);
	@mn = min(-2);
	@mx = max(5);
	@mx = max(9);
	@sd = stddev(2);
	@sd = stddev(4);
	@sd = stddev(6);
	exit(0);
}
