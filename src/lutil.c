/* lutil: the helpers that keep text safe: rec.secret (redact a value from every log line and
 * error), rec.excerpt (a printable one-line excerpt), rec.safe_id (an id fit for a header or
 * a log field). */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "log.h"
#include "lrec_int.h"
#include "rerr.h"

/* ---- rec.secret, rec.excerpt, rec.safe_id ---- */

static int l_secret(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (strlen(s) != n) return luaL_argerror(L, 1, "a secret must not contain a NUL byte");
  log_add_secret(s);
  return 0;
}

/* rec.excerpt(s [, max=200]): s as a printable one-line excerpt of at most max bytes, with
 * every registered secret and credential value redacted before the cut. */
static int l_excerpt(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_Integer max = luaL_optinteger(L, 2, 200);
  char *out;
  if (max < 1 || max > 65536) return luaL_argerror(L, 2, "max must be 1..65536");
  out = malloc((size_t)max + 1);
  if (!out) return luaL_error(L, "out of memory");
  rec_excerpt(out, (size_t)max + 1, s, n);
  lua_pushstring(L, out);
  free(out);
  return 1;
}

/* rec.safe_id(s [, header]): s (a string or number) with every byte that would be syntax
 * somewhere an id goes (control bytes, space, DEL; '/' and '#', the separators of state
 * keys) as %XX; with header = true only control bytes and DEL (what a header value must not
 * hold). Other bytes, '%' included, stay: safe_id(safe_id(s)) == safe_id(s), and an id that
 * was safe already (every id the providers document) is unchanged. */
static int l_safe_id(lua_State *L) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n, i;
  int header;
  const char *s;
  luaL_Buffer b;
  if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
    return luaL_argerror(L, 1, "expected a string or a number");
  s = lua_tolstring(L, 1, &n);
  header = lua_toboolean(L, 2);
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || (!header && (c == ' ' || c == '/' || c == '#'))) {
      luaL_addchar(&b, '%');
      luaL_addchar(&b, hex[c >> 4]);
      luaL_addchar(&b, hex[c & 15]);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

void lutil_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"secret", l_secret}, {"safe_id", l_safe_id}, {"excerpt", l_excerpt}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
