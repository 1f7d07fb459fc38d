/* A known mix of system calls for the in-kernel tests: after an optional pause (so a test can
 * look at the tracer while it runs), N rounds of read() on bad descriptors with computed
 * counts, lseek() with large offsets, and getppid(). Every call fails or does nothing. */
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  long pause_ms = argc > 2 ? atol(argv[2]) : 0;
  if (pause_ms > 0) {
    struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  for (long i = 0; i < n; i++) {
    syscall(SYS_read, 100 + i % 5, 0, i * 37 - 500);
    syscall(SYS_lseek, -1 - (i % 3), i * 1000003 - 4000000000L, 0);
    syscall(SYS_getppid);
  }
  return 0;
}
