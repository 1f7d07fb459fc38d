/* dtrace: -q */
unsigned char C;
unsigned short S;
signed char c;

BEGIN
{
	C = -3;
	S = -3;
	c = -3;
	/* D does not promote to int: unsigned char + unsigned char is an unsigned char */
	printf("%d %d %d\n", C + C, S + S, c + c);
	printf("%d\n", C + c);
	exit(0);
}
