/* fixture: reads a reply fixture from tests/fixtures/ (FIXTURES is set by CMake). Include
 * after <cmocka.h>. */
#ifndef REC_TEST_FIXTURE_H
#define REC_TEST_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>

/* The whole file, NUL-terminated (malloc'd); *len is its size. Fails the test if missing. */
static char *read_fixture(const char *name, size_t *len) {
  char path[512];
  FILE *fp;
  char *buf;
  long n;
  snprintf(path, sizeof path, "%s/%s", FIXTURES, name);
  fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
  buf[n] = '\0';
  fclose(fp);
  *len = (size_t)n;
  return buf;
}

#ifdef REC_PROVIDER_H
#include <string.h>
#include <lua.h>
#include "lnorm.h"

typedef int (*interpret_fn)(long http_status, const char *body, size_t len,
                            const reply_facts *f, rec_err *e);

/* What call.c does with a reply: decode the fixture, extract the facts, interpret them as
 * HTTP status `status`. Returns the provider's result; e is filled on failure. */
static int interpret_fixture(lua_State *L, const char *name, long status, interpret_fn fn,
                             rec_err *e) {
  size_t len;
  char *body = read_fixture(name, &len);
  int top = lua_gettop(L), rc;
  reply_facts f;
  memset(&f, 0, sizeof f);
  if (lnorm_decode(L, body, len)) lnorm_facts(L, -1, &f);
  memset(e, 0x5a, sizeof *e);  /* every field the provider leaves alone shows up */
  rc = fn(status, body, len, &f, e);
  lua_settop(L, top);
  free(body);
  return rc;
}
#endif

#endif
