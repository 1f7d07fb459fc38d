/* dtrace: -q */
BEGIN
{
	printf("%s|%s|%s\n", basename("/usr/lib/libc.so"), dirname("/usr/lib/libc.so"), cleanpath("/a/./b//../c"));
	printf("%d %d %d\n", index("hello", "l"), rindex("hello", "l"), index("hello", "z"));
	printf("%s|%s|%s\n", strchr("hello", 'l'), strrchr("hello", 'l'), strstr("hello", "ell"));
	printf("%s|%s\n", substr("hello", 1, 3), substr("hello", -3));
	printf("%s|%s|%d\n", lltostr(-1234), toupper("MiXed"), strtoll("0x1f", 16));
	printf("%x %x %x\n", htons(0x1234), htonl(0x12345678), ntohll(0x0102030405060708LL));
	exit(0);
}
