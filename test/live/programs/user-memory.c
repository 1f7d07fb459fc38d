/* User memory for the in-kernel tests of strings and copyin(): N rounds of openat() on paths
 * from a fixed table (one longer than the default strsize, one empty) and write() of a record
 * from a fixed table to a bad descriptor; then a second's wait, so that dtrace without BPF
 * (which reads user memory as it handles events, not as probes fire) still finds it all. */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

struct rec {
	int id;
	short kind;
	char name[10];
	long value;
};

static char long_path[300];
static const char *paths[] = {"/nonexistent/a", "/nonexistent/bb/ccc", "", long_path, "/nonexistent/dtrace-ts"};
static struct rec recs[] = {
	{1, -2, "first", 1000000000000L},
	{-7, 300, "second", -5},
	{123456, 0, "ninechars", 42},
};

int main(int argc, char **argv) {
	long n = argc > 1 ? atol(argv[1]) : 10;
	memcpy(long_path, "/nonexistent/", 13);
	memset(long_path + 13, 'x', sizeof long_path - 14);
	/* touched first: a probe reads only memory that is there (it cannot fault a page in) */
	volatile long touched = 0;
	for (int k = 0; k < 5; k++) touched += strlen(paths[k]);
	for (int k = 0; k < 3; k++) touched += recs[k].id;
	for (long i = 0; i < n; i++) {
		openat(AT_FDCWD, paths[i % 5], O_RDONLY);
		write(-1, &recs[i % 3], sizeof recs[0]);
	}
	struct timespec ts = {1, 0};
	nanosleep(&ts, NULL);
	return 0;
}
