/* dtrace: -q */
BEGIN
{
	printf("[%d] [%5d] [%-5d] [%05d] [%+d] [% d]\n", 42, 42, 42, 42, 42, 42);
	printf("[%i] [%u] [%x] [%X] [%o] [%#x] [%#o]\n", -7, -7, 255, 255, 8, 255, 8);
	printf("[%c] [%s] [%10s] [%-10s] [%.3s]\n", 'A', "str", "right", "left", "truncate");
	printf("[%ld] [%lld] [%lu] [%hd]\n", 1L << 40, -1LL, (unsigned long)-1, (short)70000);
	printf("[%p] [%%] [%*d] [%-*d]\n", (void *)0x1000, 4, 7, 4, 7);
	printf("[%5.2s]\n", "abcdef");
	exit(0);
}
