/* fence: the process-wide "may this process act for a unit" check; see fence.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "fence.h"

static uv_once_t once = UV_ONCE_INIT;
static uv_rwlock_t lock;
static fence_check_fn check_fn;
static void *check_arg;
static char member[128];

static void init(void) {
  const char *m = getenv("RECWATCH_MEMBER");
  uv_rwlock_init(&lock);
  if (m && *m) {
    snprintf(member, sizeof member, "%s", m);
  } else {
    char host[64] = "host";
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = 0;
    snprintf(member, sizeof member, "%s:%ld", host, (long)getpid());
  }
}

void fence_set(fence_check_fn fn, void *arg) {
  uv_once(&once, init);
  uv_rwlock_wrlock(&lock);
  check_fn = fn;
  check_arg = arg;
  uv_rwlock_wrunlock(&lock);
}

int fence_check(const char *unit, double *until, char *why, size_t whyn) {
  int ok = 1;
  uv_once(&once, init);
  if (until) *until = 0;
  if (why && whyn) why[0] = 0;
  uv_rwlock_rdlock(&lock);
  if (check_fn) ok = check_fn(check_arg, unit ? unit : "", until, why, whyn);
  uv_rwlock_rdunlock(&lock);
  return ok;
}

int fence_active(void) {
  int on;
  uv_once(&once, init);
  uv_rwlock_rdlock(&lock);
  on = check_fn != NULL;
  uv_rwlock_rdunlock(&lock);
  return on;
}

const char *fence_unit_name(char *out, size_t n, const char *provider, const char *id) {
  snprintf(out, n, "%s:%s", provider ? provider : "", id ? id : "");
  return out;
}

const char *fence_member(void) {
  uv_once(&once, init);
  return member;
}

double fence_now(void) { return (double)uv_hrtime() / 1e9; }
