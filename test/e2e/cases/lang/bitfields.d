/* dtrace: -q */
struct flags {
	int a : 3;
	unsigned int b : 5;
	long d : 35;
} f;

BEGIN
{
	f.a = 7;
	f.b = 31;
	f.d = 0x755555555;
	printf("%d %d %d %d\n", f.a, f.b, f.d, sizeof (f));
	exit(0);
}
