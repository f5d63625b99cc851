/* lnorm: decodes reply bodies with lua-cjson and normalises them on the Lua stack (whole
 * numbers as integers, numbers/booleans sent as strings coerced, status names). Never raises:
 * every entry point runs its work under lua_pcall and uses raw table access only. */
#include <errno.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>
#include "lua-cjson.h"
#include "agora.h"
#include "lnorm.h"
#include "log.h"
#include "metrics.h"
#include "qingcloud.h"
#include "schema.h"

#define LNORM_MAX_DEPTH 1000  /* lua-cjson's own default decode depth */

static const char lnorm_cjson_key = 'c';  /* registry key (by address) of our cjson */

/* ---- small helpers (all run inside a protected call) ---- */

static int lnorm_whole(lua_Number d, lua_Integer *out) {
  if (!isfinite(d) || d != floor(d) || fabs(d) >= 9007199254740992.0) return 0;
  *out = (lua_Integer)d;
  return 1;
}

/* Strict decimal integer: optional '-', digits only, fits lua_Integer. */
int lnorm_parse_int(const char *s, lua_Integer *out) {
  const char *p = s;
  char *end = NULL;
  long long v;
  if (*p == '-') p++;
  if (*p < '0' || *p > '9') return 0;
  for (; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || !end || *end) return 0;
  *out = (lua_Integer)v;
  return 1;
}

static int lnorm_is_array(lua_State *L, int idx) {
  int array;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  if (lua_next(L, idx) == 0) return 1;  /* empty: both {} and [] */
  lua_pop(L, 2);
  array = lua_rawgeti(L, idx, 1) != LUA_TNIL;
  lua_pop(L, 1);
  return array;
}

static int lnorm_is_object(lua_State *L, int idx) {
  int object;
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  object = lua_rawgeti(L, idx, 1) == LUA_TNIL;
  lua_pop(L, 1);
  return object;
}

/* t[key] (raw) for the table at tidx; pushes the value and returns its type. */
static int lnorm_rawget(lua_State *L, int tidx, const char *key) {
  tidx = lua_absindex(L, tidx);
  lua_pushstring(L, key);
  return lua_rawget(L, tidx);
}

/* t[key] = value on top (raw), popping the value. */
static void lnorm_rawset(lua_State *L, int tidx, const char *key) {
  tidx = lua_absindex(L, tidx);
  lua_pushstring(L, key);
  lua_insert(L, -2);
  lua_rawset(L, tidx);
}

/* ---- whole numbers ---- */

static void lnorm_walk(lua_State *L, int tidx, int depth, int seen);

static void lnorm_fix_value(lua_State *L, int tidx, int depth, int seen) {
  lua_Integer i;
  /* stack: key value */
  if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
      lnorm_whole(lua_tonumber(L, -1), &i)) {
    lua_pushvalue(L, -2);
    lua_pushinteger(L, i);
    lua_rawset(L, tidx);
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    lnorm_walk(L, lua_gettop(L), depth + 1, seen);
  }
}

/* seen: index of a table of visited tables (cycles in script-made tables), or 0 for a tree
 * fresh from the decoder, which cannot have cycles. */
static void lnorm_walk(lua_State *L, int tidx, int depth, int seen) {
  if (depth > LNORM_MAX_DEPTH || !lua_checkstack(L, 8)) return;
  if (seen) {
    lua_pushvalue(L, tidx);
    if (lua_rawget(L, seen) != LUA_TNIL) {
      lua_pop(L, 1);
      return;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, tidx);
    lua_pushboolean(L, 1);
    lua_rawset(L, seen);
  }
  lua_pushnil(L);
  while (lua_next(L, tidx) != 0) {
    lnorm_fix_value(L, tidx, depth, seen);
    lua_pop(L, 1);
  }
}

static int lnorm_integers_k(lua_State *L) {
  lua_newtable(L);  /* 2: tables already visited (guards against cycles) */
  lnorm_walk(L, 1, 0, 2);
  return 0;
}

void lnorm_integers(lua_State *L, int idx) {
  lua_Integer i;
  if (!lua_checkstack(L, 3)) return;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx) &&
      lnorm_whole(lua_tonumber(L, idx), &i)) {
    lua_pushinteger(L, i);
    lua_replace(L, idx);
  } else if (lua_type(L, idx) == LUA_TTABLE) {
    lua_pushcfunction(L, lnorm_integers_k);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  }
}

/* ---- decoding ---- */

/* Pushes our cjson module table, creating it once per lua_State. May raise. */
static void lnorm_push_cjson(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lnorm_cjson_key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  if (lnorm_rawget(L, -1, "decode_invalid_numbers") == LUA_TFUNCTION) {
    lua_pushboolean(L, 0);  /* strict JSON: no NaN, Infinity or hex numbers */
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lnorm_cjson_key);
}

/* Decodes and turns whole numbers into integers in one protected call. */
static int lnorm_decode_k(lua_State *L) {
  size_t len = (size_t)lua_tointeger(L, 2);
  const char *body = lua_touserdata(L, 1);
  lua_Integer i;
  lnorm_push_cjson(L);
  lnorm_rawget(L, -1, "decode");
  lua_pushlstring(L, body ? body : "", body ? len : 0);
  lua_call(L, 1, 1);
  if (lua_type(L, -1) == LUA_TTABLE) {
    lnorm_walk(L, lua_gettop(L), 0, 0);  /* a fresh tree: no cycles to guard against */
  } else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) &&
             lnorm_whole(lua_tonumber(L, -1), &i)) {
    lua_pushinteger(L, i);
    lua_replace(L, -2);
  }
  return 1;
}

static int lnorm_cjson_k(lua_State *L) {
  lnorm_push_cjson(L);
  return 1;
}

int lnorm_cjson(lua_State *L) {
  if (!lua_checkstack(L, 3)) return 0;
  lua_pushcfunction(L, lnorm_cjson_k);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

int lnorm_decode(lua_State *L, const char *body, size_t len) {
  /* lua-cjson stops at a NUL byte as if the text ended there; raw NUL is never valid JSON. */
  if ((body && memchr(body, '\0', len)) || !lua_checkstack(L, 4)) return 0;
  lua_pushcfunction(L, lnorm_decode_k);
  lua_pushlightuserdata(L, (void *)body);
  lua_pushinteger(L, (lua_Integer)len);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* ---- facts ---- */

static void lnorm_facts_code(lua_State *L, int tidx, reply_facts *f) {
  int t = lnorm_rawget(L, tidx, "code");
  lua_Integer i;
  if (t == LUA_TSTRING) {
    f->code_str = lua_tostring(L, -1);
    if (lnorm_parse_int(f->code_str, &i)) f->has_code_num = 1, f->code_num = (long)i;
  } else if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, -1))
      f->has_code_num = 1, f->code_num = (long)lua_tointeger(L, -1);
    else if (lnorm_whole(lua_tonumber(L, -1), &i))
      f->has_code_num = 1, f->code_num = (long)i;
  }
  lua_pop(L, 1);
}

static const char *lnorm_facts_string(lua_State *L, int tidx, const char *key) {
  const char *s = NULL;
  if (lnorm_rawget(L, tidx, key) == LUA_TSTRING) s = lua_tostring(L, -1);
  lua_pop(L, 1);  /* still referenced by the table */
  return s;
}

static int lnorm_facts_k(lua_State *L) {
  reply_facts *f = lua_touserdata(L, 2);
  if (!lnorm_is_object(L, 1)) return 0;
  f->is_object = 1;
  lnorm_facts_code(L, 1, f);
  f->message = lnorm_facts_string(L, 1, "message");
  f->reason = lnorm_facts_string(L, 1, "reason");
  lnorm_rawget(L, 1, "serverResponse");
  f->has_server_response = lnorm_is_object(L, -1);
  lua_pop(L, 1);
  /* An empty list sent as null counts as a list; lnorm_qingcloud turns it into {}. */
  lnorm_rawget(L, 1, "recinfos");
  f->has_recinfos = lnorm_is_array(L, -1) ||
                    (lua_type(L, -1) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, -1));
  lua_pop(L, 1);
  return 0;
}

void lnorm_facts(lua_State *L, int idx, reply_facts *f) {
  memset(f, 0, sizeof *f);
  if (lua_isnoneornil(L, idx) || !lua_checkstack(L, 4)) return;
  f->is_json = 1;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) return;
  lua_pushcfunction(L, lnorm_facts_k);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, f);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    memset(f, 0, sizeof *f);
    f->is_json = 1;
  }
}

/* ---- the contract: checks and coercions driven by the schema (schema.c) ---- */

#define LNORM_MAX_SEGS 32    /* the schema nests 7 deep; margin for future fields */

static const char lnorm_array_key = 'a';  /* registry key (by address) of the array marker */

static int lnorm_array_mt_k(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &lnorm_array_key) == LUA_TTABLE) return 1;
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "rec.json.array");
  lua_setfield(L, -2, "__name");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &lnorm_array_key);
  return 1;
}

void lnorm_push_array_mt(lua_State *L) { lnorm_array_mt_k(L); }

int lnorm_is_marked_array(lua_State *L, int idx) {
  int marked;
  if (lua_type(L, idx) != LUA_TTABLE || !lua_getmetatable(L, idx)) return 0;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &lnorm_array_key);
  marked = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return marked;
}

/* Marks the table at idx as a JSON array (its metatable becomes the marker). */
static void lnorm_mark_array(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lnorm_array_mt_k(L);
  lua_setmetatable(L, idx);
}

typedef struct lnorm_chk {
  rec_err *e;
  const char *prov;       /* "qingcloud" | "agora" */
  int status;             /* HTTP status of the reply */
  /* where the walk is: segment i is a field name, or an array index when name is NULL;
   * formatted into a path only for an error message */
  const char *seg_name[LNORM_MAX_SEGS];
  lua_Integer seg_idx[LNORM_MAX_SEGS];
  int depth;
  int item;               /* > 0: checking an element of a SCH_PER_ITEM array, whose
                           * segments start at index item: a breach is that element's, and
                           * its message names the field from there */
  int nunreadable;        /* elements found unreadable in this reply */
} lnorm_chk;

/* "recinfos[3].status" from the segments. */
static void lnorm_path(const lnorm_chk *c, char *out, size_t cap) {
  size_t len = 0;
  int i, from = c->item > 0 ? c->item : 0;
  out[0] = '\0';
  for (i = from; i < c->depth && len < cap; i++) {
    int n = c->seg_name[i] ? snprintf(out + len, cap - len, "%s%s", i > from ? "." : "", c->seg_name[i])
                           : snprintf(out + len, cap - len, "[%lld]", (long long)c->seg_idx[i]);
    if (n < 0) break;
    len += (size_t)n;
  }
}

static int lnorm_is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx);
}

/* A dense sequence 1..n (every key an integer, no gaps); an empty table counts. */
static int lnorm_is_sequence(lua_State *L, int idx, lua_Integer *n) {
  lua_Integer count = 0, max = 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
      lua_pop(L, 1);
      return 0;
    }
    if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
    count++;
  }
  *n = count;
  return count == max;
}

/* "a string (\"abc\")", "a number (1.5)", "an object", "an array", "null", ... */
static void lnorm_describe(lua_State *L, int idx, char *out, size_t cap) {
  char ex[48];
  lua_Integer n;
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    rec_excerpt(ex, sizeof ex, s, len < 40 ? len : 40);
    snprintf(out, cap, "a string (\"%s\"%s)", ex, len > 40 ? "..." : "");
    return;
  }
  case LUA_TNUMBER:
    snprintf(out, cap, "a number (%.15g)", (double)lua_tonumber(L, idx));
    return;
  case LUA_TBOOLEAN: snprintf(out, cap, "a boolean (%s)", lua_toboolean(L, idx) ? "true" : "false"); return;
  case LUA_TTABLE:
    snprintf(out, cap, "%s", lnorm_is_object(L, idx) ? "an object"
                             : lnorm_is_sequence(L, idx, &n) ? "an array" : "a table");
    return;
  default:
    snprintf(out, cap, "%s", lnorm_is_null(L, idx) ? "null" : "an unexpected value");
  }
}

static const char *lnorm_article(sch_type t) {
  return t == SCH_INT || t == SCH_ARRAY || t == SCH_OBJECT ? "an" : "a";
}

/* Fills the error for the value at idx (the field the segments lead to) that is not of type
 * want. */
static int lnorm_breach(lua_State *L, int idx, lnorm_chk *c, const char *want_article,
                        const char *want) {
  char had[96], path[256];
  lnorm_path(c, path, sizeof path);
  if (lua_type(L, idx) == LUA_TNIL) snprintf(had, sizeof had, "missing");
  else lnorm_describe(L, idx, had, sizeof had);
  if (c->item > 0) {  /* one element's field: the element is unreadable, not the reply */
    rec_err_set(c->e, REC_E_PROTOCOL, c->status, "%s is %s, the documented type is %s %s",
                path[0] ? path : "the entry", had, want_article, want);
    return -1;
  }
  rec_err_set(c->e, REC_E_PROTOCOL, c->status,
              "%s: reply field %s is %s, the documented type is %s %s: the reply breaks the "
              "documented contract (a changed API, or a wrong base_url)",
              c->prov, path, had, want_article, want);
  return -1;
}

static int lnorm_check_node(lua_State *L, int tidx, const sch_node *n, lnorm_chk *c);

/* The segment stack grows while a field is checked and shrinks afterwards. */
static void lnorm_seg_name(lnorm_chk *c, const char *name) {
  c->seg_name[c->depth] = name;
  c->depth++;
}

static void lnorm_seg_index(lnorm_chk *c, lua_Integer i) {
  c->seg_name[c->depth] = NULL;
  c->seg_idx[c->depth] = i;
  c->depth++;
}

static int lnorm_check_field(lua_State *L, int tidx, const sch_field *f, lnorm_chk *c);

/* An unreadable element is logged with its id, field and reason; the first few per reply. */
#define LNORM_LOG_UNREADABLE 5

/* Joins the breach just recorded in c->e to the reasons on top of the stack (a string, or nil
 * before the first), leaving the joined string there. */
static void lnorm_add_reason(lua_State *L, lnorm_chk *c) {
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushstring(L, c->e->message);
  } else {
    lua_pushfstring(L, "%s; %s", lua_tostring(L, -1), c->e->message);
    lua_remove(L, -2);
  }
}

/* The log line and the metric for an unreadable element (each reply logs at most a few). */
static void lnorm_report_item(lua_State *L, int eidx, const sch_node *n, lnorm_chk *c,
                              lua_Integer index, const char *field, const char *why) {
  char id[64];
  const sch_field *idf = sch_find(n, "id");
  metric_t *m = metrics_builtin()->unreadable_tasks;  /* the runtime's: no script cap */
  const char *values[2];
  char err[160];
  c->nunreadable++;
  values[0] = c->prov;
  values[1] = field;
  if (m) metrics_add(m, values, 1, err, sizeof err);
  if (c->nunreadable > LNORM_LOG_UNREADABLE) return;
  id[0] = '\0';
  if (idf && lua_type(L, eidx) == LUA_TTABLE && lnorm_rawget(L, eidx, idf->name) == LUA_TNUMBER)
    snprintf(id, sizeof id, "%lld", (long long)lua_tointeger(L, -1));
  if (idf && lua_type(L, eidx) == LUA_TTABLE) lua_pop(L, 1);
  log_write(LOG_WARN, 0,
            "kind=task_unreadable provider=%s task=%s field=%s: task %s (entry %lld of the "
            "page) cannot be read (%s); the rest of the page is read%s",
            c->prov, id[0] ? id : "?", field, id[0] ? id : "?", (long long)index, why,
            c->nunreadable == LNORM_LOG_UNREADABLE ? "; more such tasks on this page are not logged" : "");
}

/* Element index of the array at aidx, a SCH_PER_ITEM array, is on top of the stack (its
 * segment pushed). Every field is checked: one in the way is left out, and the element gets
 * the derived field "unreadable" with the reasons; an element that is not an object is
 * replaced by a table holding only that field. Never fails the reply. */
static void lnorm_check_item(lua_State *L, int aidx, lua_Integer index, const sch_node *n,
                             lnorm_chk *c) {
  int eidx = lua_gettop(L), depth = c->depth, saved = c->item;
  const char *first = NULL;
  size_t i;
  c->item = depth;          /* the segments from here name the field */
  lua_pushnil(L);           /* the reasons so far */
  if (lua_type(L, eidx) != LUA_TTABLE || !lnorm_is_object(L, eidx)) {
    lnorm_breach(L, eidx, c, "an", "object");
    lnorm_add_reason(L, c);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, -2);
    lnorm_rawset(L, -2, "unreadable");
    lua_pushvalue(L, -1);
    lua_rawseti(L, aidx, index);
    lua_replace(L, eidx);
    first = "entry";
  } else {
    for (i = 0; i < n->nfields; i++) {
      const sch_field *f = &n->fields[i];
      int top = lua_gettop(L);
      if (lnorm_check_field(L, eidx, f, c) == 0) continue;
      lua_settop(L, top);
      c->depth = depth;
      lnorm_add_reason(L, c);
      lua_pushnil(L);
      lnorm_rawset(L, eidx, f->name);
      if (!first) first = f->name;
    }
    if (first) {
      lua_pushvalue(L, -1);
      lnorm_rawset(L, eidx, "unreadable");
    }
  }
  if (first) lnorm_report_item(L, eidx, n, c, index, first, lua_tostring(L, -1));
  lua_pop(L, 1);
  c->item = saved;
}

/* The table at aidx must be an array of objects of node n; marks it. per_item: the array
 * is SCH_PER_ITEM (an element that breaks the contract is unreadable on its own). */
static int lnorm_check_array(lua_State *L, int aidx, const sch_node *n, int per_item,
                             lnorm_chk *c) {
  lua_Integer len, i;
  aidx = lua_absindex(L, aidx);
  if (lua_type(L, aidx) != LUA_TTABLE || !lnorm_is_sequence(L, aidx, &len))
    return lnorm_breach(L, aidx, c, "an", "array");
  lnorm_mark_array(L, aidx);
  for (i = 1; i <= len; i++) {
    int rc;
    lnorm_seg_index(c, i);
    lua_rawgeti(L, aidx, i);
    if (per_item) {
      lnorm_check_item(L, aidx, i, n, c);
      lua_pop(L, 1);
      c->depth--;
      continue;
    }
    if (lua_type(L, -1) != LUA_TTABLE || !lnorm_is_object(L, -1))
      rc = lnorm_breach(L, -1, c, "an", "object");
    else
      rc = lnorm_check_node(L, lua_gettop(L), n, c);
    lua_pop(L, 1);
    if (rc != 0) return rc;
    c->depth--;
  }
  return 0;
}

int lnorm_coerce(lua_State *L, const sch_field *f) {
  lua_Integer i;
  int t = lua_type(L, -1);
  switch (f->type) {
  case SCH_INT:
    if (t == LUA_TNUMBER && lua_isinteger(L, -1)) return 1;
    if ((t == LUA_TNUMBER && lnorm_whole(lua_tonumber(L, -1), &i)) ||
        (t == LUA_TSTRING && (f->flags & SCH_COERCE) && lnorm_parse_int(lua_tostring(L, -1), &i))) {
      lua_pushinteger(L, i);
      return 2;
    }
    /* a field the document types as String: a string that is not decimal is kept as it is */
    if (t == LUA_TSTRING && (f->flags & SCH_KEEP_STRING)) return 1;
    return 0;
  case SCH_BOOL:
    if (t == LUA_TBOOLEAN) return 1;
    if (t == LUA_TSTRING && (f->flags & SCH_COERCE)) {
      const char *s = lua_tostring(L, -1);
      int b = strcmp(s, "true") == 0 ? 1 : strcmp(s, "false") == 0 ? 0 : -1;
      if (b >= 0) {
        lua_pushboolean(L, b);
        return 2;
      }
    }
    return 0;
  case SCH_STRING:
    if (t == LUA_TSTRING) return 1;
    if (t == LUA_TNUMBER && (f->flags & SCH_COERCE) && lua_isinteger(L, -1)) {
      lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, -1));
      return 2;
    }
    return 0;
  default:
    return 0;
  }
}

/* Checks and coerces the value on top of the stack (field f of the table at tidx). */
static int lnorm_check_value(lua_State *L, int tidx, const sch_field *f, lnorm_chk *c) {
  int t = lua_type(L, -1);
  switch (f->type) {
  case SCH_INT:
  case SCH_BOOL:
  case SCH_STRING:
    switch (lnorm_coerce(L, f)) {
    case 1: return 0;
    case 2:
      lnorm_rawset(L, tidx, f->name);
      return 0;
    default: return lnorm_breach(L, -1, c, lnorm_article(f->type), sch_type_name(f->type));
    }
  case SCH_OBJECT:
    if (t != LUA_TTABLE || !lnorm_is_object(L, -1)) return lnorm_breach(L, -1, c, "an", "object");
    return f->child ? lnorm_check_node(L, lua_gettop(L), f->child, c) : 0;
  case SCH_STRING_OR_ARRAY:
    if (t == LUA_TSTRING) return 0;
    if (t != LUA_TTABLE) return lnorm_breach(L, -1, c, "a", "string or an array");
    /* fall through */
  case SCH_ARRAY:
    return lnorm_check_array(L, lua_gettop(L), f->child, (f->flags & SCH_PER_ITEM) != 0, c);
  }
  return 0;
}

static int lnorm_check_field(lua_State *L, int tidx, const sch_field *f, lnorm_chk *c) {
  int rc = 0;
  if (f->flags & SCH_DERIVED) {  /* ours to set: never taken from the reply */
    lua_pushnil(L);
    lnorm_rawset(L, tidx, f->name);
    return 0;
  }
  lnorm_seg_name(c, f->name);
  lnorm_rawget(L, tidx, f->name);
  if (lnorm_is_null(L, -1) && f->type == SCH_ARRAY && (f->flags & SCH_NULL_EMPTY)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lnorm_mark_array(L, -1);
    lnorm_rawset(L, tidx, f->name);
  } else if (lua_isnil(L, -1) || lnorm_is_null(L, -1)) {
    if (f->flags & SCH_REQUIRED) rc = lnorm_breach(L, -1, c, lnorm_article(f->type), sch_type_name(f->type));
    else if (lnorm_is_null(L, -1)) {  /* an optional null reads as absent */
      lua_pushnil(L);
      lnorm_rawset(L, tidx, f->name);
    }
    lua_pop(L, 1);
  } else {
    rc = lnorm_check_value(L, tidx, f, c);
    lua_pop(L, 1);
  }
  if (rc == 0) c->depth--;
  return rc;
}

static int lnorm_check_node(lua_State *L, int tidx, const sch_node *n, lnorm_chk *c) {
  size_t i;
  if (!lua_checkstack(L, 8) || c->depth > LNORM_MAX_SEGS - 2)
    return lnorm_breach(L, tidx, c, "a", "shallower value");
  for (i = 0; i < n->nfields; i++)
    if (lnorm_check_field(L, tidx, &n->fields[i], c) != 0) return -1;
  return 0;
}

/* ---- QingCloud ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long lnorm_days(long long y, unsigned m, unsigned d) {
  long long era;
  unsigned yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

int lnorm_parse_local_time(const char *s, long offset, long long *out) {
  int y, mo, d, h, mi, se, n = 0;
  if (!s || strlen(s) != 19 ||
      sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19 ||
      s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
    return 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 ||
      h < 0 || mi < 0 || se < 0)
    return 0;
  *out = lnorm_days(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return 1;
}

long lnorm_qc_utc_offset(lua_State *L) {
  long off = LNORM_QC_UTC_OFFSET;
  if (lua_getfield(L, LUA_REGISTRYINDEX, LNORM_QC_OFFSET_KEY) == LUA_TNUMBER)
    off = (long)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return off;
}

static void lnorm_qc_time(lua_State *L, int ridx, const char *field, const char *ts, long off) {
  long long t;
  if (lnorm_rawget(L, ridx, field) == LUA_TSTRING &&
      lnorm_parse_local_time(lua_tostring(L, -1), off, &t)) {
    lua_pushinteger(L, (lua_Integer)t);
    lnorm_rawset(L, ridx, ts);
  }
  lua_pop(L, 1);
}

static int lnorm_qingcloud_k(lua_State *L) {
  lnorm_chk *c = lua_touserdata(L, 2);
  lua_Integer n, i;
  long off = lnorm_qc_utc_offset(L);
  if (lnorm_check_node(L, 1, &sch_qingcloud_reply, c) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lnorm_rawget(L, 1, "recinfos");
  lnorm_is_sequence(L, -1, &n);
  for (i = 1; i <= n; i++) {
    const char *name;
    int r;
    lua_rawgeti(L, -1, i);
    r = lua_gettop(L);
    /* an unreadable task may have no status (nor be the table it was) */
    name = lnorm_rawget(L, r, "status") == LUA_TNUMBER ? qc_status_name((long)lua_tointeger(L, -1))
                                                       : NULL;
    lua_pop(L, 1);
    if (name) {
      lua_pushstring(L, name);
      lnorm_rawset(L, r, "status_name");
    }
    lnorm_qc_time(L, r, "created", "created_ts", off);
    lnorm_qc_time(L, r, "updated", "updated_ts", off);
    lua_pop(L, 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int lnorm_run(lua_State *L, int idx, lua_CFunction fn, const char *prov, long status,
                     rec_err *e) {
  lnorm_chk c;
  int ok;
  memset(&c, 0, sizeof c);
  c.e = e;
  c.prov = prov;
  c.status = (int)status;
  if (!lua_checkstack(L, 4)) {
    rec_err_set(e, REC_E_PROTOCOL, (int)status, "%s: out of memory checking the reply", prov);
    return -1;
  }
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) {
    rec_err_set(e, REC_E_PROTOCOL, (int)status, "%s: reply is not a JSON object", prov);
    return -1;
  }
  lua_pushcfunction(L, fn);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &c);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    rec_err_set(e, REC_E_PROTOCOL, (int)status, "%s: out of memory checking the reply", prov);
    return -1;
  }
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? 0 : -1;
}

int lnorm_qingcloud(lua_State *L, int idx, long status, rec_err *e) {
  return lnorm_run(L, idx, lnorm_qingcloud_k, "qingcloud", status, e);
}

/* ---- Agora ---- */

static int lnorm_agora_k(lua_State *L) {
  lnorm_chk *c = lua_touserdata(L, 2);
  const char *name;
  if (lnorm_check_node(L, 1, &sch_agora_reply, c) != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lnorm_rawget(L, 1, "serverResponse");
  if (lnorm_rawget(L, -1, "status") == LUA_TNUMBER) {
    name = agora_status_name((long)lua_tointeger(L, -1));
    lnorm_rawset(L, 1, "status");
    if (name) {
      lua_pushstring(L, name);
      lnorm_rawset(L, 1, "status_name");
    }
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  return 1;
}

int lnorm_agora(lua_State *L, int idx, long status, rec_err *e) {
  return lnorm_run(L, idx, lnorm_agora_k, "agora", status, e);
}

/* ---- a reply against any schema node, for tests and fuzzers ---- */

typedef struct lnorm_any {
  lnorm_chk c;
  const sch_node *node;
} lnorm_any;

static int lnorm_check_k(lua_State *L) {
  lnorm_any *a = lua_touserdata(L, 2);
  lua_pushboolean(L, lnorm_check_node(L, 1, a->node, &a->c) == 0);
  return 1;
}

int lnorm_check(lua_State *L, int idx, const sch_node *node, const char *label, rec_err *e) {
  lnorm_any a;
  int ok;
  memset(&a, 0, sizeof a);
  a.c.e = e;
  a.c.prov = label;
  a.c.status = 200;
  a.node = node;
  if (!lua_checkstack(L, 4) || lua_type(L, idx) != LUA_TTABLE) {
    rec_err_set(e, REC_E_PROTOCOL, 200, "%s: reply is not a JSON object", label);
    return -1;
  }
  idx = lua_absindex(L, idx);
  lua_pushcfunction(L, lnorm_check_k);
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, &a);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    lua_pop(L, 1);
    rec_err_set(e, REC_E_PROTOCOL, 200, "%s: out of memory checking the reply", label);
    return -1;
  }
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return ok ? 0 : -1;
}
