/*
 * The lab's user-space target (built on the host when the lab builds its initramfs):
 * lab-target N calls hot() N times from middle(), from main(); each call fires the USDT probe
 * lab:::hot-call (from the dtrace -h header) with its number. lab-target N spin keeps calling
 * hot() until killed (a hot process for profile-N).
 */
#include <stdlib.h>
#include <string.h>
#include "lab-prov.h"

volatile long sink;

__attribute__((noinline)) long hot(long i)
{
	LAB_HOT_CALL(i);
	sink += i;
	return sink;
}

__attribute__((noinline)) void middle(long n)
{
	for (long i = 0; i < n; i++)
		hot(i);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;

	if (argc > 2 && strcmp(argv[2], "spin") == 0)
		for (;;)
			middle(n);
	middle(n);
	return 0;
}
