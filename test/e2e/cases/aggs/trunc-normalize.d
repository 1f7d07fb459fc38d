/* dtrace: -q */
BEGIN
{
	@[1] = sum(10);
	@[2] = sum(20);
	@[3] = sum(30);
	@[4] = sum(40);
	trunc(@, 2);
	normalize(@, 10);
	printa(@);
	clear(@);
	printa(@);
	denormalize(@);
	@[5] = sum(7);
	exit(0);
}
