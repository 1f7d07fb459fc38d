/* dtrace: -q */
int array[5];

BEGIN
{
	array[0] = 100;
	array[4] = 500;
	p = &array[0];
	printf("%d %d %d\n", *p, p[4], *(p + 4));
	s = (char *)alloca(8);
	s[0] = 'h';
	s[1] = 'i';
	s[2] = 0;
	printf("%s %d\n", stringof(s), strlen(stringof(s)));
	bcopy("abc", s, 4);
	printf("%s\n", stringof(s));
	exit(0);
}
