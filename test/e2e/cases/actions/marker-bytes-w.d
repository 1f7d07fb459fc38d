/* dtrace: -qw */
/* bytes that once meant "run this command" to the output sink are only bytes, with -w too */
BEGIN
{
	printf("%cSYSTEM%cecho PWNED%c\n", 0, 0, 0);
	printf("%cFREOPEN%c/tmp/dtrace-ts-pwned%c\n", 0, 0, 0);
	exit(0);
}
