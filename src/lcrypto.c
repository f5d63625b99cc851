/* lcrypto: rec.crypto, what the notifiers need for signed webhooks: HMAC-SHA256, base64 and
 * MD5 through OpenSSL (crypto.c), URL encoding through libcurl. */
#include <stdlib.h>
#include <curl/curl.h>
#include <lauxlib.h>
#include "crypto.h"
#include "lrec_int.h"

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

void lcrypto_open(lua_State *L) {
  static const luaL_Reg cryptof[] = {
    {"hmac_sha256", l_hmac_sha256}, {"base64", l_base64}, {"md5_hex", l_md5_hex},
    {"urlencode", l_urlencode}, {NULL, NULL}};
  luaL_newlib(L, cryptof);
  lua_setfield(L, -2, "crypto");
}
