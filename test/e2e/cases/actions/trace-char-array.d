/* dtrace: -q */
/* a char array traces as a string (what it holds up to its first NUL) */
BEGIN
{
	trace(curpsinfo->pr_fname);
	printf("|\n");
	trace(curpsinfo->pr_psargs);
	printf("|\n");
	exit(0);
}
