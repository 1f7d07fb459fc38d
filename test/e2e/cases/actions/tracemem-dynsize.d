/* dtrace: -q */
/* tracemem() with a dynamic size: the smaller of the two, all of it for a negative size, none for 0 */
BEGIN
{
	x = "Linux version 6";
	p = &x[0];
	tracemem(p, 14);
	tracemem(p, 14, -1);
	tracemem(p, 14, 0);
	tracemem(p, 14, 2);
	n = 7;
	tracemem(p, 14, n);
	tracemem(p, 14, 15);
	exit(0);
}
