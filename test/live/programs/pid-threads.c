// Three threads, started before dtrace attaches (-p), each calling work() with its own number
// every 10 ms, forever: the pid provider must see the calls of threads that already run.
#include <pthread.h>
#include <unistd.h>

volatile long sink;

__attribute__((noinline)) long work(long n) { sink = n; return n + 1; }

static void *loop(void *arg) {
  for (;;) { sink += work((long)arg); usleep(10000); }
  return 0;
}

int main(void) {
  pthread_t t[3];
  for (long i = 0; i < 3; i++) pthread_create(&t[i], 0, loop, (void *)(i + 1));
  for (;;) { sink += work(0); usleep(10000); }
}
