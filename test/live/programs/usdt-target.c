/*
 * A program whose probes come from the header dtrace -h writes for usdt-prov.d:
 * usdt-target [LOOPS [SLEEP_MS [LOG]]] fires query-start (a string and an int), query-done
 * (an int, a 64-bit constant, an unsigned char constant) and tick (no arguments) LOOPS
 * times, and writes to LOG whether query-start is enabled at each turn ("enabled 0", ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "usdt-prov.h"

static volatile int sink;

__attribute__((noinline)) static void work(const char *q, int n)
{
	MYSERV_QUERY_START((char *)q, n);
	sink += n;
	MYSERV_QUERY_DONE(n * 2, -5000000000LL, 200);
}

int main(int argc, char **argv)
{
	int loops = argc > 1 ? atoi(argv[1]) : 3;
	int ms = argc > 2 ? atoi(argv[2]) : 0;
	FILE *log = argc > 3 ? fopen(argv[3], "w") : NULL;
	char buf[32];

	if (log != NULL)
		setvbuf(log, NULL, _IOLBF, 0);
	for (int i = 0; i < loops; i++) {
		snprintf(buf, sizeof(buf), "select %d", i);
		if (log != NULL)
			fprintf(log, "%s %d\n", MYSERV_QUERY_START_ENABLED() ? "enabled" : "disabled", i);
		work(buf, i);
		MYSERV_TICK();
		if (ms > 0)
			usleep(ms * 1000);
	}
	return 0;
}
