/* fuzz_reply: reply normalisation of both providers, the way call.c runs it: JSON decoding
 * (jdec; it must accept exactly what lua-cjson accepts: the deep comparison of those values
 * is tests/unit/test_jdec.c), the facts, the provider's verdict (typed error or success) and
 * the schema check with the in-place normalisation. The one-pass path (lnorm_reply) is held
 * to that general path: when it takes a reply, the general path must succeed with the same
 * facts and a deep-equal value (array marks included). A QingCloud task that breaks the
 * contract makes only itself unreadable on the general path; the one-pass path leaves such a
 * page to it.
 * Input: byte 0 picks the provider (bit 0), the HTTP status (bits 1..4) and the Agora mode
 * of the query URL built alongside (bits 5..6); the rest is the reply body. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agora.h"
#include "jdec.h"
#include "lnorm.h"
#include "lnorm_reply.h"
#include "log.h"
#include "qingcloud.h"
#include "rerr.h"
#include "luasame.h"

static const long statuses[16] = {200, 200, 200, 200, 206, 400, 401, 403,
                                  404, 429, 500, 502, 503, 504, 302, 999};
static const char *const modes[4] = {"mix", "individual", "web", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  static unsigned runs;
  const char *body = (const char *)data + 1;
  size_t len;
  long status;
  reply_facts f;
  rec_err err;
  int agora, ok_new, ok_old;
  if (size < 1) return 0;
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    log_set_level(LOG_ERROR);  /* unreadable tasks are logged as warnings: not per input */
  }
  agora = data[0] & 1;
  status = statuses[(data[0] >> 1) & 15];
  len = size - 1;
  memset(&f, 0, sizeof f);
  memset(&err, 0, sizeof err);
  ok_old = len > 0 && lnorm_decode(L, body, len);
  if (ok_old) lua_pop(L, 1);
  ok_new = len > 0 && jdec_decode(L, body, len);
  if (ok_new != ok_old) abort();  /* jdec refuses or accepts what lua-cjson does not */
  if (ok_new) lnorm_facts(L, -1, &f);
  else lua_pushnil(L);
  /* the one-pass path on the same body, before the general path's pass changes its value */
  {
    reply_facts ff;
    rec_err e2;
    int fast = len > 0 && lnorm_reply(L, body, len, agora ? LNORM_AGORA : LNORM_QINGCLOUD, &ff);
    if (fast) {
      memset(&e2, 0, sizeof e2);
      if (!ok_new || !same_facts(&f, &ff)) abort();  /* took what is not JSON, other facts */
      lua_pushvalue(L, -2);  /* the general path's value, normalised in place */
      if ((agora ? lnorm_agora(L, -1, 200, &e2) : lnorm_qingcloud(L, -1, 200, &e2)) != 0)
        abort();  /* took a reply that breaks the contract */
      if (!same(L, -1, -2, 0)) abort();  /* a different value */
      lua_pop(L, 2);
      /* the general path's value was normalised above: decode it again for the verdict */
      lua_pop(L, 1);
      if (!jdec_decode(L, body, len)) abort();
      lnorm_facts(L, -1, &f);
    }
  }
  if (agora) {
    agora_query_params q = {"appid", "resource", "sid-1", modes[(data[0] >> 5) & 3]};
    char *url = agora_build_query_url("http://127.0.0.1:1", &q, &err);
    free(url);
    if (agora_interpret(status, body, len, &f, &err) != 0 || lnorm_agora(L, -1, status, &err) != 0)
      if (err.kind == REC_OK) abort();  /* a failure always carries a kind */
  } else {
    if (qc_interpret(status, body, len, &f, &err) != 0 || lnorm_qingcloud(L, -1, status, &err) != 0)
      if (err.kind == REC_OK) abort();
  }
  lua_settop(L, 0);
  if (++runs % 1000 == 0) lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
