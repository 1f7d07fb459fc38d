/*
 * ustack() on a program built without frame pointers (-O2): main -> a -> b -> c, each
 * noinline and each doing work after its call, so that no call is a tail call.
 *   ustack-chain chain N   calls a() N times; c() makes a write(2) of 0 bytes each time
 *   ustack-chain hot MS    spins in hot() -> spin() for MS milliseconds
 *   ustack-chain fork      forks; the child runs the chain once and exits, the parent waits
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile long sink;

__attribute__((noinline)) long c(long x)
{
	(void)write(1, "", 0);
	sink += x;
	return x + 1;
}

__attribute__((noinline)) long b(long x)
{
	long r = c(x * 3);
	sink += r;
	return r * 2;
}

__attribute__((noinline)) long a(long x)
{
	long r = b(x + 1);
	sink ^= r;
	return r - 1;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

__attribute__((noinline)) void spin(long n)
{
	for (long i = 0; i < n; i++)
		sink += i * i;
}

__attribute__((noinline)) void hot(long ms)
{
	long end = now_ms() + ms;
	while (now_ms() < end)
		spin(100000);
	sink++;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "chain";
	long n = argc > 2 ? atol(argv[2]) : 3;

	if (strcmp(mode, "hot") == 0) {
		hot(n);
	} else if (strcmp(mode, "fork") == 0) {
		pid_t p = fork();
		if (p == 0) {
			sink += a(1);
			_exit(0);
		}
		waitpid(p, NULL, 0);
	} else {
		for (long i = 0; i < n; i++)
			sink += a(i);
	}
	return 0;
}
