/* lnorm_reply: the one-pass path for a 2xx provider reply: jdec's walk in schema mode with
 * lnorm's derived fields (status, status_name, created_ts/updated_ts) added in the same pass.
 * Above both jdec.c and lnorm.c, so neither calls the other back. */
#include <string.h>
#include <lua.h>
#include "agora.h"
#include "jdec.h"
#include "lnorm.h"
#include "lnorm_reply.h"
#include "qingcloud.h"
#include "schema.h"

typedef struct lnorm_fast {
  int prov;                   /* LNORM_AGORA | LNORM_QINGCLOUD */
  int has_status;             /* Agora: serverResponse.status, once read */
  lua_Integer status;
  int has_off;                /* QingCloud: the zone, once read */
  long off;
} lnorm_fast;

/* The stack index of field f's value in the object of node n being derived (0: absent). */
#define LNORM_POS(n, pos, f) ((pos)[(f) - (n)->fields])

/* Pushes field f's name under the value on top: a (key, value) pair for jdec. */
static int lnorm_push_pair(lua_State *L, const sch_node *n, int names, const sch_field *f) {
  jdec_push_key(L, names, n, f);
  lua_insert(L, -2);
  return 1;
}

static int lnorm_fast_time(lua_State *L, const sch_node *n, const int *pos, int names,
                           lnorm_fast *u, const sch_field *field, const sch_field *ts) {
  int at = LNORM_POS(n, pos, field);
  long long t;
  if (!at || lua_type(L, at) != LUA_TSTRING) return 0;
  if (!u->has_off) u->off = lnorm_qc_utc_offset(L), u->has_off = 1;
  if (!lnorm_parse_local_time(lua_tostring(L, at), u->off, &t)) return 0;
  lua_pushinteger(L, (lua_Integer)t);
  return lnorm_push_pair(L, n, names, ts);
}

/* What lnorm_agora_k / lnorm_qingcloud_k add after the checks, as pairs for jdec. */
static int lnorm_derive(lua_State *L, const sch_node *n, const int *pos, int names, void *ud) {
  const sch_derived *d = &sch_derive;
  lnorm_fast *u = ud;
  int at, k = 0;
  const char *name;
  if (u->prov == LNORM_AGORA) {
    if (n == d->ag_sr) {
      at = LNORM_POS(n, pos, d->ag_sr_status);
      if (at) u->has_status = 1, u->status = lua_tointeger(L, at);
    } else if (n == &sch_agora_reply && u->has_status) {
      lua_pushinteger(L, u->status);
      k += lnorm_push_pair(L, n, names, d->ag_status);
      if ((name = agora_status_name((long)u->status)) != NULL) {
        lua_pushstring(L, name);
        k += lnorm_push_pair(L, n, names, d->ag_status_name);
      }
    }
  } else if (n == d->qc_recinfo) {
    at = LNORM_POS(n, pos, d->qc_status);
    if (at && (name = qc_status_name((long)lua_tointeger(L, at))) != NULL) {
      lua_pushstring(L, name);
      k += lnorm_push_pair(L, n, names, d->qc_status_name);
    }
    k += lnorm_fast_time(L, n, pos, names, u, d->qc_created, d->qc_created_ts);
    k += lnorm_fast_time(L, n, pos, names, u, d->qc_updated, d->qc_updated_ts);
  }
  return k;
}

int lnorm_reply(lua_State *L, const char *body, size_t len, int prov, reply_facts *f) {
  lnorm_fast u;
  jdec_schema s;
  memset(&u, 0, sizeof u);
  u.prov = prov;
  s.root = prov == LNORM_AGORA ? &sch_agora_reply : &sch_qingcloud_reply;
  s.derive = lnorm_derive;
  s.ud = &u;
  return jdec_reply(L, body, len, &s, f);
}
