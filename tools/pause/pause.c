/* The pod sandbox's one process (what registry.k8s.io/pause is): it holds the pod's namespaces, reaps
 * the zombies a shared PID namespace leaves it, and exits 0 on SIGINT or SIGTERM. Built static, so the
 * image is this file alone, FROM scratch (tools/image pause). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop = {.sa_handler = quit}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (getpid() != 1) { /* as registry.k8s.io/pause: only as a namespace's init */
    static const char msg[] = "pause: not PID 1\n";
    (void)!write(2, msg, sizeof msg - 1);
  }
  sigaction(SIGINT, &stop, 0);
  sigaction(SIGTERM, &stop, 0);
  sigaction(SIGCHLD, &child, 0);
  for (;;) pause();
}
