/* dtrace: -x droptags */
/* a firing whose records do not fit what is left of the buffer is dropped, and counted */
#pragma D option quiet
#pragma D option strsize=1k
#pragma D option bufsize=4k

BEGIN { trace("a"); }
BEGIN { trace("b"); }
BEGIN { trace("c"); }
BEGIN { trace("d"); }
BEGIN { trace("e"); }
BEGIN { printf("\n"); exit(0); }
