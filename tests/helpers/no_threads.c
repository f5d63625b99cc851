/* no_threads: an LD_PRELOAD shim for sh.engine_no_guard_thread. pthread_create fails, as it
 * would in a process out of threads or memory. */
#include <errno.h>
#include <pthread.h>

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  (void)t, (void)a, (void)fn, (void)arg;
  return EAGAIN;
}
