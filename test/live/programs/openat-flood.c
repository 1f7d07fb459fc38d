/* openat() on N distinct paths, one after another, all built in one reused buffer: a string
 * read late (after the buffer was rewritten) shows up as a wrong or repeated path. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 1000;
	char path[64];
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "/nonexistent/dtrace-ts-flood/%07ld", i);
		openat(AT_FDCWD, path, O_RDONLY);
	}
	return 0;
}
