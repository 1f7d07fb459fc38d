/* dtrace: -x strsize=512m */
/* A string type larger than 64 KiB is refused (strings, keys and dumps are strsize bytes). */
BEGIN
{
	exit(0);
}
