/* dtrace: -q -s $FILE 1 */
/* the DTraceToolkit's idiom: a ?: on a constant option or argument chooses the action */
inline int OPT_time = 0;
inline int OPT_count = 1;

BEGIN
{
	OPT_time ? printf("time\n") : 1;
	OPT_count ? @calls["begin"] = count() : 1;
	$1 ? printf("first\n") : printf("second\n");
	!$1 ? printf("no\n") : printf("yes\n");
	exit(0);
}
