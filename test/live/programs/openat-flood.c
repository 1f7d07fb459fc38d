/* openat() on N distinct paths, one after another, all built in one reused buffer: a string
 * read late (after the buffer was rewritten) shows up as a wrong or repeated path. With a
 * second argument, at about that many calls a second (0: as fast as it can). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000;
	long rate = argc > 2 ? atol(argv[2]) : 0;
	char path[64];
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/nonexistent/dtrace-ts-flood/%07ld", i);
		openat(AT_FDCWD, path, O_RDONLY);
		if (rate > 0 && (i & 255) == 0) {
			do
				clock_gettime(CLOCK_MONOTONIC, &t);
			while (((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9) * rate < i);
		}
	}
	return 0;
}
