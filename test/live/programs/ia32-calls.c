/* 32-bit (compat) system calls from a 64-bit process: N times `int $0x80` with eax = 20,
 * getpid in the i386 table (writev in x86-64's). The syscall provider must not see them as
 * writev: the kernel's syscall tracepoints leave compat calls out. x86-64 only. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 5;
  long r = 0;
  for (long i = 0; i < n; i++) __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
  printf("%ld\n", r);
  return 0;
}
