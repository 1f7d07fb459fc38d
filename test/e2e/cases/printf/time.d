/* dtrace: -q */
BEGIN
{
	/* 2026-01-02 03:04:05 UTC, printed in UTC */
	printf("%Y\n", 1767323045000000000LL);
	printf("%d\n", walltimestamp > 1700000000000000000LL);
	exit(0);
}
