/* dtrace: -q */
BEGIN
{
	@bykey["beta", 2] = sum(20);
	@bykey["alpha", 1] = sum(10);
	@bykey["gamma", 3] = sum(5);
	@bykey["alpha", 1] = sum(1);
	@n[1] = count();
	@n[-7] = count();
	@n[-7] = count();
	exit(0);
}
