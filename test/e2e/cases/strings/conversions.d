/* dtrace: -q */
BEGIN
{
	printf("%d %d %d %d\n", strtoll("123"), strtoll("-0x10", 16), strtoll("777", 8), strtoll("  42abc"));
	printf("%s %s %s\n", lltostr(0), lltostr(9223372036854775807LL), tolower("ABC def"));
	this->ip = (ipaddr_t *)alloca(4);
	*this->ip = htonl(0x7f000001);
	printf("%s\n", inet_ntoa(this->ip));
	exit(0);
}
