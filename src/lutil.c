/* lutil: the small helpers of `rec`: rec.secret, rec.excerpt, rec.safe_id; rec.json
 * (decode through lnorm.c, encode through ljson.c); rec.crypto (what the notifiers need for
 * signed webhooks); rec.qingcloud and rec.agora (status names, failed statuses). */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include "agora.h"
#include "crypto.h"
#include "ljson.h"
#include "lnorm.h"
#include "log.h"
#include "lrec_int.h"
#include "qingcloud.h"
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

/* ---- rec.json ---- */

static int l_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  if (lnorm_decode(L, s, len)) return 1;
  lua_pushnil(L);
  lua_pushstring(L, "malformed JSON");
  return 2;
}

static int l_json_encode(lua_State *L) {
  lua_settop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
  lua_insert(L, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  return 1;
}

/* ---- rec.crypto: what the notifiers need for signed webhooks ---- */

static int l_hmac_sha256(lua_State *L) {
  size_t kl, ml;
  const char *k = luaL_checklstring(L, 1, &kl), *m = luaL_checklstring(L, 2, &ml);
  unsigned char out[32];
  if (crypto_hmac_sha256(k, kl, m, ml, out) != 0) return luaL_error(L, "HMAC failed");
  lua_pushlstring(L, (const char *)out, sizeof out);
  return 1;
}

static int l_base64(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char *b = crypto_base64(s, n);
  if (!b) return luaL_error(L, "out of memory");
  lua_pushstring(L, b);
  free(b);
  return 1;
}

static int l_md5_hex(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char hex[33];
  crypto_md5_hex(s, n, hex);
  lua_pushstring(L, hex);
  return 1;
}

static int l_urlencode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char *q = curl_easy_escape(NULL, s, (int)n);
  if (!q) return luaL_error(L, "out of memory");
  lua_pushstring(L, q);
  curl_free(q);
  return 1;
}

/* ---- status names ---- */

static void push_status_table(lua_State *L, const char *(*name)(long), int (*failure)(long)) {
  long code;
  lua_newtable(L);
  lua_newtable(L);
  for (code = 0; code < 100; code++) {
    const char *n = name(code);
    if (!n) continue;
    lua_pushstring(L, n);
    lua_rawseti(L, -2, code);
  }
  lua_setfield(L, -2, "status");
  if (failure) {
    lua_newtable(L);
    for (code = 0; code < 100; code++)
      if (name(code) && failure(code)) {
        lua_pushboolean(L, 1);
        lua_rawseti(L, -2, code);
      }
    lua_setfield(L, -2, "failed");
  }
}

static int agora_failed(long code) { return code == 20; }

void lutil_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"secret", l_secret}, {"safe_id", l_safe_id}, {"excerpt", l_excerpt}, {NULL, NULL}};
  static const luaL_Reg jsonf[] = {{"encode", l_json_encode}, {"decode", l_json_decode},
                                   {"array", ljson_array}, {NULL, NULL}};
  static const luaL_Reg cryptof[] = {
    {"hmac_sha256", l_hmac_sha256}, {"base64", l_base64}, {"md5_hex", l_md5_hex},
    {"urlencode", l_urlencode}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
  luaL_newlib(L, cryptof);
  lua_setfield(L, -2, "crypto");
  luaL_newlib(L, jsonf);
  lnorm_cjson(L);  /* the instance reply decoding uses: one cjson.null for everything */
  lua_pushcfunction(L, ljson_encode);  /* arrays stay arrays, see ljson.h */
  lua_setfield(L, LUA_REGISTRYINDEX, "rec.json.encode");
  lua_getfield(L, -1, "null");
  lua_setfield(L, -3, "null");
  lua_pop(L, 1);
  lua_setfield(L, -2, "json");
  push_status_table(L, qc_status_name, qc_status_is_failure);
  lua_setfield(L, -2, "qingcloud");
  push_status_table(L, agora_status_name, agora_failed);
  lua_setfield(L, -2, "agora");
}
