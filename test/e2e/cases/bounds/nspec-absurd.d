/* dtrace: -x nspec=100000000 */
/*
 * A hundred million speculations cannot be had (DTrace's kernel fails to allocate their state);
 * nothing is allocated for them beforehand either.
 */
BEGIN
{
	exit(0);
}
