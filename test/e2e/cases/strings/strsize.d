/* dtrace: -q -x strsize=5 */
BEGIN
{
	printf("%s %d\n", "123456789", strlen("123456789"));
	printf("%s\n", strjoin("abc", "defgh"));
	exit(0);
}
