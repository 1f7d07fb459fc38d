#!/usr/sbin/dtrace -qs
#pragma D option strsize=16
BEGIN
{
	printf("%s\n", "the #! line is ignored and pragmas apply");
	exit(0);
}
