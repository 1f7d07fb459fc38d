/* The pid provider's test of objects loaded later: sleeps a little (argv[4] ms, else 100),
   dlopen()s the library named by argv[1], then calls its function f argv[2] times (f(i) returns
   i + 1), and dlcloses it. "glob" as argv[3] also calls g once. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	usleep(argc > 4 ? atol(argv[4]) * 1000 : 100000);
	void *h = dlopen(argv[1], RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	long (*f)(long) = (long (*)(long))dlsym(h, "f");
	long (*g)(long) = (long (*)(long))dlsym(h, "g");
	long n = atol(argv[2]), sum = 0;
	for (long i = 0; i < n; i++) sum += f(i);
	if (argc > 3 && strcmp(argv[3], "glob") == 0) sum += g(sum);
	dlclose(h);
	return sum > 0 ? 0 : 1;
}
