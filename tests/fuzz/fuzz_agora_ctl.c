/* fuzz_agora_ctl: the replies of Agora's control calls, the way call.c reads them: jdec's
 * decoding and facts, agctl_interpret's verdict (a failure always has a kind, an outcome is
 * one of the documented ones), and for a 200 the one-pass path with the call's schema
 * (jdec_reply) held to the general path (lnorm_check): when the one pass takes a reply, the
 * general path must take it too, with the same facts and a deep-equal value.
 * Input: byte 0 picks the call (bits 0..2, modulo 6) and the HTTP status (bits 3..6); the
 * rest is the reply body. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agora_ctl.h"
#include "jdec.h"
#include "lnorm.h"
#include "log.h"
#include "rerr.h"
#include "luasame.h"

static const long statuses[16] = {200, 200, 200, 201, 206, 400, 401, 403,
                                  404, 429, 500, 502, 503, 504, 302, 999};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  static unsigned runs;
  const char *body = (const char *)data + 1;
  size_t len;
  long status;
  agctl_call c;
  agctl_outcome oc;
  reply_facts f;
  rec_err err;
  int ok;
  if (size < 1) return 0;
  if (!L) {
    L = luaL_newstate();
    luaL_openlibs(L);
    log_set_level(LOG_ERROR);
  }
  c = (agctl_call)((data[0] & 7) % AGCTL_NCALLS);
  status = statuses[(data[0] >> 3) & 15];
  len = size - 1;
  memset(&f, 0, sizeof f);
  memset(&err, 0, sizeof err);
  ok = len > 0 && jdec_decode(L, body, len);
  if (ok) lnorm_facts(L, -1, &f);
  else lua_pushnil(L);
  if (agctl_interpret(c, status, body, len, &f, &oc, &err) != 0) {
    if (err.kind == REC_OK) abort();  /* a failure always carries a kind */
  } else if ((unsigned)oc > AGCTL_NOTHING_RECORDED) {
    abort();
  }
  if (status == 200 && c != AGCTL_QUERY && len > 0) {
    const sch_node *node = agctl_reply_schema(c);
    jdec_schema s = {node, NULL, NULL};
    reply_facts ff;
    rec_err e2;
    if (jdec_reply(L, body, len, &s, &ff)) {
      memset(&e2, 0, sizeof e2);
      if (!ok || !same_facts(&f, &ff)) abort();
      lua_pushvalue(L, -2);
      if (lnorm_check(L, -1, node, node->name, &e2) != 0) abort();  /* took a broken reply */
      if (!same(L, -1, -2, 0)) abort();
    }
  }
  lua_settop(L, 0);
  if (++runs % 1000 == 0) lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
