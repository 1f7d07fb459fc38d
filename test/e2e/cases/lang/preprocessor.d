/* dtrace: -q -C -D GREETING="howdy" -s $FILE */
#define TWICE(x) ((x) * 2)

BEGIN
{
#ifdef GREETING
	printf("%s %d\n", GREETING, TWICE(21));
#else
	printf("no greeting\n");
#endif
	exit(0);
}
