// The pid provider's live tests trace this: a few functions with known arguments and return
// values, a string argument, and libc's malloc and free. Run with an argument, it loops forever
// (for -p), else once.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile long sink;

__attribute__((noinline)) long add3(long a, long b, long c) { sink = a; return a + b + c; }
__attribute__((noinline)) int greet(const char *s) { sink = (long)s; return (int)strlen(s); }
__attribute__((noinline)) long many(long a, long b, long c, long d, long e, long f, long g, long h) {
  sink = a; return a + b + c + d + e + f + g + h;
}

static void once(void) {
  for (long i = 0; i < 3; i++) sink += add3(i, 10, 100);
  char *p = malloc(4321);
  strcpy(p, "hello, pid");
  sink += greet(p);
  free(p);
  sink += many(1, 2, 3, 4, 5, 6, 7, 8);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) for (;;) { once(); usleep(20000); }
  once();
  return 0;
}
