/* The library dlopen-target.c loads. */
__attribute__((noinline)) long f(long i) { return i + 1; }
__attribute__((noinline)) long g(long i) { return i * 2; }
