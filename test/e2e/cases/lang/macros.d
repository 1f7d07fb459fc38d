/* dtrace: -q -s $FILE 7 hello */
BEGIN
{
	printf("%d %s %s %d\n", $1 + 1, $$2, $$1, $1 * $1);
	exit(0);
}
