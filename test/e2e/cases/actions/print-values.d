/* dtrace: -q */
/* print() of values that are not pointers: each with its type, as illumos prints them */
enum color { RED, GREEN };

BEGIN
{
	print((char)'a');
	print((char)0);
	print((char)10);
	print((short)3);
	print((uint8_t)200);
	print((int)-1);
	print((long)0);
	print("abc");
	print(GREEN);
	c = (enum color)7;
	print(c);
	exit(0);
}
