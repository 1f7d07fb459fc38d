/* dtrace: -q */
BEGIN
{
	@a["x"] = count();
	@a["y"] = count();
	@a["y"] = count();
	@b["x"] = sum(100);
	@b["z"] = sum(5);
	printa("%s %@d\n", @a);
	printa(@a, @b);
	printa("%-4s %@5d %@5d\n", @a, @b);
	exit(0);
}
