// Changes who it is between getppid() calls, each right after the other: its parent (the
// parent exits; it is reparented), its name (prctl) and its credentials (setgid/setuid); it
// says on stderr who it is before the last call, and exits at once after it, before a tracer
// handling the events could read /proc.
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  // the first process ends when the last one does: when the pipe's last writer is gone
  int done[2];
  if (pipe(done) != 0) return 1;
  pid_t child = fork();
  if (child != 0) {
    char c;
    close(done[1]);
    waitpid(child, 0, 0);
    while (read(done[0], &c, 1) > 0) {
    }
    return 0;
  }
  close(done[0]);
  pid_t mid = getpid();
  if (fork() != 0) _exit(0);
  syscall(SYS_getppid);
  while (getppid() == mid) usleep(1000);
  prctl(PR_SET_NAME, "renamed-task");
  setgid(4321);
  setuid(1234);
  fprintf(stderr, "task-change pid=%d ppid=%d\n", getpid(), getppid());
  syscall(SYS_getppid);
  _exit(0);
}
