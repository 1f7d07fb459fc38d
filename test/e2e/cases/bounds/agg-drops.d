/* dtrace: -x droptags */
/*
 * The aggregation buffer holds aggsize / (key record + data record) entries, as Oracle DTrace
 * sizes its map: with 512-byte strings, 1024 bytes hold one key; the others are dropped, and
 * reported as DTrace reports aggregation drops.
 */
#pragma D option quiet
#pragma D option strsize=512
#pragma D option aggsize=1024

BEGIN
{
	@["Harding"] = count();
	@["Hoover"] = count();
	@["Nixon"] = count();
	@["Bush"] = count();
	@["Harding"] = count();
}

BEGIN
{
	exit(0);
}
