/* One writer per state file, also inside one process: a second engine opening the state file
 * an engine of this process holds is refused (an fcntl lock would let it through); once the
 * first engine is freed, a new one (a reload) takes the file over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lauxlib.h>
#include "engine.h"
#include "setup.h"

static int open_store(engine_t *e, const char *path, char *msg, size_t n) {
  lua_State *L = engine_lua(e);
  int rc, top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "rec.store");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    snprintf(msg, n, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  lua_getfield(L, -1, "open");
  lua_pushstring(L, path);
  rc = lua_pcall(L, 1, 1, 0);
  snprintf(msg, n, "%s", rc == LUA_OK ? "" : luaL_tolstring(L, -1, NULL));  /* a typed error */
  lua_settop(L, top);
  return rc == LUA_OK ? 0 : -1;
}

static void test_second_engine_refused(void **state) {
  char dir[] = "/tmp/storelockXXXXXX", path[128], err[256], msg[512];
  engine_t *a, *b, *c;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/state.db", dir);
  a = engine_new(err, sizeof err);
  assert_non_null(a);
  assert_int_equal(open_store(a, path, msg, sizeof msg), 0);
  b = engine_new(err, sizeof err);
  assert_non_null(b);
  assert_int_equal(open_store(b, path, msg, sizeof msg), -1);
  assert_non_null(strstr(msg, "already in use by another engine in this process"));
  assert_int_equal(engine_run(b), 2);   /* the refusal stops that engine with status 2 */
  engine_free(b);
  engine_free(a);
  c = engine_new(err, sizeof err);   /* the reload's engine */
  assert_non_null(c);
  assert_int_equal(open_store(c, path, msg, sizeof msg), 0);
  engine_free(c);
  snprintf(msg, sizeof msg, "rm -rf '%s'", dir);
  assert_int_equal(system(msg), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_second_engine_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
