/* dtrace: -q */
BEGIN
{
	@counts["b"] = count();
	@counts["a"] = count();
	@counts["a"] = count();
	exit(0);
}

END
{
	printf("end\n");
}
