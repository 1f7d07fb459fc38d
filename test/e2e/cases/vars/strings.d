/* dtrace: -q */
BEGIN
{
	s = "hello";
	t = strjoin(s, ", world");
	printf("%s|%d|%s\n", t, strlen(t), substr(t, 7));
	printf("%d %d %d\n", s == "hello", s < "help", s > "hell");
	n = strchr("abc", 'z');
	printf("%s\n", n == NULL ? "NULL" : n);
	exit(0);
}
