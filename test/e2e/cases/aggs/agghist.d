/* dtrace: -q -x agghist */
/* agghist: count() and sum() drawn as histograms over their keys; other functions as before */
BEGIN
{
	@calls["read"] = count();
	@calls["read"] = count();
	@calls["read"] = count();
	@calls["write"] = count();
	@bytes[1] = sum(10);
	@bytes[2] = sum(-5);
	@most = max(7);
	exit(0);
}
