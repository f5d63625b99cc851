/* One writer per state file inside one process, whatever path names it: an engine that opens
 * its state file through a symbolic link, a hard link in another directory or a "../" path
 * gets the connection it already has (one cache, one writer); a second engine is refused
 * through every one of those paths; once the first engine is freed, a new engine (a reload)
 * takes the file over through any of them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <lauxlib.h>
#include "engine.h"
#include "setup.h"

/* store.open(path) in e's main state: 0 with the db left on the stack, or -1 with the
 * error's text in msg (nothing left on the stack). */
static int open_store(engine_t *e, const char *path, char *msg, size_t n) {
  lua_State *L = engine_lua(e);
  int rc, top = lua_gettop(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "rec.store");
  assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
  lua_getfield(L, -1, "open");
  lua_pushstring(L, path);
  rc = lua_pcall(L, 1, 1, 0);
  msg[0] = 0;
  if (rc != LUA_OK) {
    snprintf(msg, n, "%s", luaL_tolstring(L, -1, NULL));
    lua_settop(L, top);
    return -1;
  }
  lua_remove(L, -2);
  return 0;
}

static void test_paths_share_one_writer(void **state) {
  char dir[] = "/tmp/storeidXXXXXX", path[160], lnk[160], hard[160], dots[200], err[256],
       msg[512];
  const char *others[3];
  engine_t *a, *b, *c;
  lua_State *L;
  int i;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/a", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/b", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/a/state.db", dir);
  snprintf(lnk, sizeof lnk, "%s/b/link.db", dir);
  snprintf(hard, sizeof hard, "%s/b/hard.db", dir);
  snprintf(dots, sizeof dots, "%s/b/../a/state.db", dir);
  others[0] = lnk, others[1] = hard, others[2] = dots;

  a = engine_new(err, sizeof err);
  assert_non_null(a);
  L = engine_lua(a);
  assert_int_equal(open_store(a, path, msg, sizeof msg), 0);   /* creates the file */
  assert_int_equal(symlink("../a/state.db", lnk), 0);
  assert_int_equal(link(path, hard), 0);
  for (i = 0; i < 3; i++) {   /* the same engine: the same connection */
    assert_int_equal(open_store(a, others[i], msg, sizeof msg), 0);
    assert_true(lua_rawequal(L, -1, -2));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);

  b = engine_new(err, sizeof err);
  assert_non_null(b);
  for (i = 0; i < 3; i++) {   /* another engine: refused by every path */
    assert_int_equal(open_store(b, others[i], msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "already in use by another engine in this process"));
    assert_non_null(strstr(msg, "invalid_argument"));   /* a typed error */
  }
  assert_int_equal(engine_run(b), 2);
  engine_free(b);
  engine_free(a);

  c = engine_new(err, sizeof err);   /* a reload's engine, through a hard link */
  assert_non_null(c);
  assert_int_equal(open_store(c, hard, msg, sizeof msg), 0);
  lua_pop(engine_lua(c), 1);
  engine_free(c);
  snprintf(msg, sizeof msg, "rm -rf '%s'", dir);
  assert_int_equal(system(msg), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_paths_share_one_writer)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
