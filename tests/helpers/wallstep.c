/* wallstep.c: an LD_PRELOAD shim for tests that moves the wall clock (gettimeofday,
 * clock_gettime(CLOCK_REALTIME), time) by the number of seconds written in the file named by
 * $WALLSTEP_FILE (read at each call; missing or empty = 0). Monotonic clocks are untouched:
 * this is what an NTP step or a resumed VM does to a running process. Built by the test that
 * uses it: cc -shared -fPIC -o wallstep.so wallstep.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long offset(void) {
  const char *path = getenv("WALLSTEP_FILE");
  char buf[32];
  ssize_t n;
  int fd;
  if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return strtol(buf, NULL, 10);
}

int gettimeofday(struct timeval *tv, void *tz) {
  static int (*real)(struct timeval *, void *);
  int rc;
  if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
  rc = real(tv, tz);
  if (rc == 0 && tv) tv->tv_sec += offset();
  return rc;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
  static int (*real)(clockid_t, struct timespec *);
  int rc;
  if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
  rc = real(id, ts);
  if (rc == 0 && ts && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += offset();
  return rc;
}

time_t time(time_t *t) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  if (t) *t = tv.tv_sec;
  return tv.tv_sec;
}
