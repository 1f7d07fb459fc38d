/* dtrace: -q */
BEGIN
{
	i = 25920;
	i = i - (i + (i * 3) + i) * i / i * i;
	printf("%d\n", i);
	x = 0x7fffffffffffffffLL;
	printf("%d %d\n", x + 1, x * 2);
	u = 0xffffffffffffffffULL;
	printf("%u %d\n", u, u);
	printf("%d %d %d %d\n", 19 / 5, 19 % 5, -19 / 5, -19 % 5);
	printf("%d %d\n", 19 % -5, -19 % -5);
	printf("%d %d\n", 1 << 40, -1 >> 1);
	printf("%x %x\n", ~0xdeadbeef, ~0xdeadbeefdeadbeefULL);
	c = (char)300;
	s = (short)70000;
	printf("%d %d %d\n", c, s, (unsigned char)-1);
	exit(0);
}
