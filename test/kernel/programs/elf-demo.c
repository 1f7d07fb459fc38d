// A program for the ELF reader's tests: a global and a static function, and one USDT probe
// (provider demo, probe tick) written as the note SystemTap's sys/sdt.h writes, with a semaphore.
#include <stdio.h>
static __attribute__((noinline)) int helper(int x) { return x * 3; }
int work(int n) { int s = 0; for (int i = 0; i < n; i++) s += helper(i); return s; }
unsigned short sem_demo_tick __attribute__((section(".probes"), used));
int main(int argc, char **argv) {
  __asm__ volatile(
    "990: nop\n"
    ".pushsection .note.stapsdt,\"?\",\"note\"\n"
    ".balign 4\n"
    ".4byte 992f-991f, 994f-993f, 3\n"
    "991: .asciz \"stapsdt\"\n"
    "992: .balign 4\n"
    "993: .8byte 990b\n"
    ".8byte _.stapsdt.base\n"
    ".8byte sem_demo_tick\n"
    ".asciz \"demo\"\n"
    ".asciz \"tick\"\n"
    ".asciz \"-4@%%edi 8@%%rsi\"\n"
    "994: .balign 4\n"
    ".popsection\n"
    ".ifndef _.stapsdt.base\n"
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"
    ".weak _.stapsdt.base\n"
    ".hidden _.stapsdt.base\n"
    "_.stapsdt.base: .space 1\n"
    ".size _.stapsdt.base, 1\n"
    ".popsection\n"
    ".endif\n" :: "D"(argc), "S"(argv));
  printf("%d\n", work(argc));
  return 0;
}
