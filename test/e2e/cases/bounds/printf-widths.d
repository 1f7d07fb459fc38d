/* dtrace: -q */
/*
 * Widths and precisions from traced data are C ints, as DTrace reads them; a field too large
 * to print is an error of that record only: the clause's other actions, END and the
 * aggregations are still there.
 */
BEGIN
{
	w = 2147483647;
	printf("a%*d|\n", w, 1);
	printf("%1000000000s|\n", "x");
	printf("%.*d|\n", w, 1);
	printf("%*d|\n", -2147483648, 1);
	printf("%lc|\n", 300);
	printf("%.*s|\n", w, "a precision only cuts a string");
	printf("%*d|\n", 0x100000005, 1);
	@n["kept"] = count();
	exit(0);
}

END
{
	printf("END\n");
}
