/*
 * A program whose probes' arguments are of each kind a .note.stapsdt specification has:
 * usdt-kinds [LOOPS] fires, LOOPS times (i = 0, 1, ...), mem(i, -3000000000 * i, -i) with
 * its arguments in memory off %rbp (a function built at -O0: "-4@-24(%rbp)"), reg(-i,
 * 5000000000 + i) in registers ("-4@%edi") and konst(-7, -5000000000, 200) as constants
 * ("-4@$-7"). usdt-kinds N loop fires reg N times in a tight loop and prints the loop's time
 * in ns ("loop-ns N"), for bench/pid.ts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "usdt-kinds.h"

struct item {
	int id;
	long long size;
	short delta;
};

static volatile long sink;

__attribute__((noinline, optimize("O0"))) static void in_memory(const struct item *it)
{
	int id = it->id;
	long long size = it->size;
	short delta = it->delta;

	KINDS_MEM(id, size, delta);
}

__attribute__((noinline)) static void in_registers(int id, long long size)
{
	KINDS_REG(id, size);
	sink += id;
}

int main(int argc, char **argv)
{
	long loops = argc > 1 ? atol(argv[1]) : 3;

	if (argc > 2 && strcmp(argv[2], "loop") == 0) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < loops; i++)
			in_registers((int)i, i);
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("loop-ns %lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
		return 0;
	}
	for (long i = 0; i < loops; i++) {
		struct item it = { (int)i, -3000000000LL * i, (short)-i };

		in_memory(&it);
		in_registers((int)-i, 5000000000LL + i);
		KINDS_KONST(-7, -5000000000LL, 200);
	}
	return 0;
}
