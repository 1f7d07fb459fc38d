/* bench/pid.ts's target: calls f() argv[1] times in a tight loop and prints the loop's time in
   ns ("loop-ns N"), so that a tracer's cost per call is the difference with the untraced run. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) long f(long i) {
	__asm__ volatile("" ::: "memory");
	return i + 1;
}

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000000, sum = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) sum += f(i);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("loop-ns %lld\n", (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	return sum == 0;
}
