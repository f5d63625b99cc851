/* jdec: one-pass JSON decoding of provider replies into Lua values (see jdec.h).
 *
 * It reproduces what lua-cjson 2.1.0 (strict numbers, as lnorm configures it) followed by
 * lnorm's whole-number pass yields, quirks included, so that replacing one by the other
 * changes no result:
 * - whitespace is space, tab, CR and LF only; a value may stand alone at the top level;
 * - a number starts with '-' or a digit; after the optional '-', "0x", "0" + digit, "inf" and
 *   "nan" are refused; anything else is what strtod takes ("1.", "-.5", "1e400" = inf);
 * - strings keep raw bytes as they are (control characters, invalid UTF-8); escapes are
 *   \" \\ \/ \b \f \n \r \t and \uXXXX with surrogate pairs (a lone surrogate is refused);
 * - duplicate keys: the last one wins; nesting deeper than 1000 arrays/objects is refused;
 * - a number that is whole and below 2^53 in magnitude becomes an integer (-0 -> 0).
 * Tables are built after their elements are read, so each is created at its final size
 * (elements wait on the Lua stack, flushed in chunks for very long arrays/objects). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <lua.h>
#include <lauxlib.h>
#include "jdec.h"
#include "lnorm.h"

#define JDEC_MAX_DEPTH 1000 /* lua-cjson's decode_max_depth default */
#define JDEC_CHUNK 64       /* elements (or key/value pairs) waiting on the stack at most */

typedef struct jdec {
  lua_State *L;
  const unsigned char *p, *end;
  int depth;
  /* schema mode only */
  const jdec_schema *sch;
  int keys, mark;          /* stack slots: the key cache, the array marker */
  reply_facts *f;
} jdec;

static int jdec_value_at(jdec *d);

static void jdec_ws(jdec *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t'))
    d->p++;
}

/* lnorm_whole: finite, integral and |x| < 2^53. */
static void jdec_push_number(lua_State *L, double v) {
  if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, (lua_Number)v);
}

/* Characters strtod can consume once it started on '-' or a digit (digits, signs, '.',
 * exponent, hex digits and 'x'/'p', "inf"/"infinity"/"nan" and nan's "(chars)"). */
static int jdec_numchar(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '+' ||
         c == '-' || c == '.' || c == '_' || c == '(' || c == ')';
}

static int jdec_number(jdec *d) {
  const unsigned char *s = d->p, *q = s;
  size_t span;
  char small[64], *buf, *endp;
  double v;
  int neg = 0;
  if (*q == '-') neg = 1, q++;
  /* lua-cjson's strict check (after the sign): no hex, no leading zero, no inf/nan */
  if (q < d->end && *q == '0' && q + 1 < d->end &&
      ((q[1] | 0x20) == 'x' || (q[1] >= '0' && q[1] <= '9')))
    return -1;
  if (d->end - q >= 3 && (strncasecmp((const char *)q, "inf", 3) == 0 ||
                          strncasecmp((const char *)q, "nan", 3) == 0))
    return -1;
  /* fast path: up to 15 plain digits (exact below 2^53) ending where strtod would stop */
  if (q < d->end && *q >= '0' && *q <= '9') {
    const unsigned char *r = q;
    lua_Integer n = 0;
    while (r < d->end && *r >= '0' && *r <= '9' && r - q < 16) n = n * 10 + (*r++ - '0');
    if (r - q <= 15 && (r == d->end || (*r != '.' && (*r | 0x20) != 'e' && (*r | 0x20) != 'x' &&
                                        !(*r >= '0' && *r <= '9')))) {
      lua_pushinteger(d->L, neg ? -n : n);
      d->p = r;
      return 0;
    }
  }
  /* everything else goes through strtod, as in lua-cjson, on a NUL-terminated copy */
  for (q = s; q < d->end && jdec_numchar(*q); q++) {
  }
  span = (size_t)(q - s);
  if (span < sizeof small) {
    memcpy(small, s, span);
    small[span] = '\0';
    buf = small;
  } else {
    buf = (char *)lua_pushlstring(d->L, (const char *)s, span);  /* popped below */
  }
  v = strtod(buf, &endp);
  if (buf != small) lua_pop(d->L, 1);
  if (endp == buf) return -1;
  d->p = s + (endp - buf);
  jdec_push_number(d->L, v);
  return 0;
}

static int jdec_hex4(const unsigned char *p, const unsigned char *end) {
  int v = 0, i;
  if (end - p < 4) return -1;
  for (i = 0; i < 4; i++) {
    unsigned char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') v |= (c | 0x20) - 'a' + 10;
    else return -1;
  }
  return v;
}

static void jdec_utf8(luaL_Buffer *b, unsigned cp) {
  if (cp < 0x80) {
    luaL_addchar(b, (char)cp);
  } else if (cp < 0x800) {
    luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
    luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
    luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
  } else {
    luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
    luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
    luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
    luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
  }
}

/* d->p is just after the opening quote. The string with an escape is slow; the others are
 * pushed straight from the reply (short ones interned by Lua once per distinct key). */
static int jdec_string(jdec *d) {
  const unsigned char *s = d->p, *q = s, *end = d->end;
  luaL_Buffer b;
  while (q < end && *q != '"' && *q != '\\') q++;
  if (q >= end) return -1;
  if (*q == '"') {
    lua_pushlstring(d->L, (const char *)s, (size_t)(q - s));
    d->p = q + 1;
    return 0;
  }
  luaL_buffinit(d->L, &b);
  luaL_addlstring(&b, (const char *)s, (size_t)(q - s));
  while (q < end && *q != '"') {
    if (*q != '\\') {
      luaL_addchar(&b, (char)*q++);
      continue;
    }
    if (q + 1 >= end) return -1;
    switch (q[1]) {
    case '"': luaL_addchar(&b, '"'); break;
    case '\\': luaL_addchar(&b, '\\'); break;
    case '/': luaL_addchar(&b, '/'); break;
    case 'b': luaL_addchar(&b, '\b'); break;
    case 'f': luaL_addchar(&b, '\f'); break;
    case 'n': luaL_addchar(&b, '\n'); break;
    case 'r': luaL_addchar(&b, '\r'); break;
    case 't': luaL_addchar(&b, '\t'); break;
    case 'u': {
      int cp = jdec_hex4(q + 2, end), lo;
      if (cp < 0) return -1;
      if ((cp & 0xF800) == 0xD800) {
        if (cp & 0x400) return -1;  /* a low surrogate first */
        if (end - q < 12 || q[6] != '\\' || q[7] != 'u') return -1;
        lo = jdec_hex4(q + 8, end);
        if (lo < 0 || (lo & 0xFC00) != 0xDC00) return -1;
        jdec_utf8(&b, (unsigned)((((cp & 0x3FF) << 10) | (lo & 0x3FF)) + 0x10000));
        q += 12;
      } else {
        jdec_utf8(&b, (unsigned)cp);
        q += 6;
      }
      continue;
    }
    default: return -1;
    }
    q += 2;
  }
  if (q >= end) return -1;
  luaL_pushresult(&b);
  d->p = q + 1;
  return 0;
}

static int jdec_descend(jdec *d) {
  if (++d->depth > JDEC_MAX_DEPTH || !lua_checkstack(d->L, 2 * JDEC_CHUNK + 16)) return -1;
  return 0;
}

/* The walk every array and object shares, d->p just after its opening bracket:
 *   for (more = jdec_first(d, '}'); more > 0; more = jdec_more(d, '}')) { one member }
 *   if (more < 0) return -1;
 * Each returns 1 when a member follows (whitespace before it skipped, so a member is read
 * with jdec_value_at), 0 when the closing bracket was reached (and consumed), -1 on
 * malformed input. */
static inline int jdec_first(jdec *d, unsigned char close) {
  jdec_ws(d);
  if (d->p < d->end && *d->p == close) {
    d->p++;
    return 0;
  }
  return 1;
}

static inline int jdec_more(jdec *d, unsigned char close) {
  jdec_ws(d);
  if (d->p >= d->end) return -1;
  if (*d->p == close) {
    d->p++;
    return 0;
  }
  if (*d->p != ',') return -1;
  d->p++;
  jdec_ws(d);
  return 1;
}

/* The ':' between a key and its value, with the whitespace around it. */
static inline int jdec_colon(jdec *d) {
  jdec_ws(d);
  if (d->p >= d->end || *d->p != ':') return -1;
  d->p++;
  jdec_ws(d);
  return 0;
}

/* The table of a slot (nil until the first flush) at s, created at its final size when its
 * members all fit in one chunk. */
static inline void jdec_slot_table(lua_State *L, int s, int narr, int nrec) {
  if (lua_isnil(L, s)) {
    lua_createtable(L, narr, nrec);
    lua_replace(L, s);
  }
}

/* The array's slot (nil until created) is at s; k values wait above it; n already stored. */
static void jdec_flush_array(lua_State *L, int s, int k, lua_Integer n) {
  int j;
  jdec_slot_table(L, s, k, 0);
  for (j = k; j >= 1; j--) lua_rawseti(L, s, n + j);
}

static int jdec_sobject(jdec *d, const sch_node *node);

/* elem: in schema mode, the node every element (an object) follows; the array gets marked. */
static int jdec_array(jdec *d, const sch_node *elem) {
  lua_State *L = d->L;
  int s, k = 0, more;
  lua_Integer n = 0;
  if (jdec_descend(d) != 0) return -1;
  lua_pushnil(L);
  s = lua_gettop(L);
  for (more = jdec_first(d, ']'); more > 0; more = jdec_more(d, ']')) {
    if (elem) {
      if (d->p >= d->end || *d->p != '{') return -1;
      d->p++;
      if (jdec_sobject(d, elem) != 0) return -1;
    } else if (jdec_value_at(d) != 0) {
      return -1;
    }
    if (++k == JDEC_CHUNK) {
      jdec_flush_array(L, s, k, n);
      n += k;
      k = 0;
    }
  }
  if (more < 0) return -1;
  jdec_flush_array(L, s, k, n);
  if (elem) {
    lua_pushvalue(L, d->mark);
    lua_setmetatable(L, s);
  }
  d->depth--;
  return 0;
}

/* The object's slot is at s; k key/value pairs wait above it, set in order (last key wins). */
static void jdec_flush_object(lua_State *L, int s, int k) {
  int j;
  jdec_slot_table(L, s, 0, k);
  for (j = 0; j < k; j++) {
    lua_pushvalue(L, s + 1 + 2 * j);
    lua_pushvalue(L, s + 2 + 2 * j);
    lua_rawset(L, s);
  }
  lua_settop(L, s);
}

static int jdec_object(jdec *d) {
  lua_State *L = d->L;
  int s, k = 0, more;
  if (jdec_descend(d) != 0) return -1;
  lua_pushnil(L);
  s = lua_gettop(L);
  for (more = jdec_first(d, '}'); more > 0; more = jdec_more(d, '}')) {
    if (d->p >= d->end || *d->p != '"') return -1;
    d->p++;
    if (jdec_string(d) != 0 || jdec_colon(d) != 0 || jdec_value_at(d) != 0) return -1;
    if (++k == JDEC_CHUNK) {
      jdec_flush_object(L, s, k);
      k = 0;
    }
  }
  if (more < 0) return -1;
  jdec_flush_object(L, s, k);
  d->depth--;
  return 0;
}

static int jdec_word(jdec *d, const char *w, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0) return -1;
  d->p += n;
  return 0;
}

/* One value at d->p, where the walk stands after skipping whitespace; pushes it. */
static int jdec_value_at(jdec *d) {
  if (d->p >= d->end) return -1;
  switch (*d->p) {
  case '{': d->p++; return jdec_object(d);
  case '[': d->p++; return jdec_array(d, NULL);
  case '"': d->p++; return jdec_string(d);
  case 't':
    if (jdec_word(d, "true", 4) != 0) return -1;
    lua_pushboolean(d->L, 1);
    return 0;
  case 'f':
    if (jdec_word(d, "false", 5) != 0) return -1;
    lua_pushboolean(d->L, 0);
    return 0;
  case 'n':
    if (jdec_word(d, "null", 4) != 0) return -1;
    lua_pushlightuserdata(d->L, NULL);  /* cjson.null */
    return 0;
  default:
    if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9')) return jdec_number(d);
    return -1;
  }
}

/* One value at d->p, whitespace before it skipped; pushes it. */
static int jdec_value(jdec *d) {
  jdec_ws(d);
  return jdec_value_at(d);
}

/* The end of a protected decode (ok: the value was read and sits at stack index top):
 * value, true when nothing but whitespace follows it, else nil, false. */
static int jdec_done(jdec *d, int ok, int top) {
  lua_State *L = d->L;
  if (ok) {
    jdec_ws(d);
    if (d->p == d->end) {
      lua_settop(L, top);
      lua_pushboolean(L, 1);
      return 2;
    }
  }
  lua_settop(L, 0);
  lua_pushnil(L);
  lua_pushboolean(L, 0);
  return 2;
}

/* Runs k (a protected decode of d, given as its one argument) on body: pushes the value and
 * returns 1, or pushes nothing and returns 0 (refused input, malformed JSON, an error). */
static int jdec_run(lua_State *L, lua_CFunction k, jdec *d, const char *body, size_t len) {
  if (!body || len == 0 || memchr(body, '\0', len) || !lua_checkstack(L, 4)) return 0;
  d->L = L;
  d->p = (const unsigned char *)body;
  d->end = d->p + len;
  d->depth = 0;
  lua_pushcfunction(L, k);
  lua_pushlightuserdata(L, d);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 2);
    return 0;
  }
  lua_pop(L, 1);
  return 1;
}

/* Protected: (jdec) -> value, true | nil, false. */
static int jdec_decode_k(lua_State *L) {
  jdec *d = lua_touserdata(L, 1);
  lua_settop(L, 0);
  return jdec_done(d, jdec_value(d) == 0, 1);
}

int jdec_decode(lua_State *L, const char *body, size_t len) {
  jdec d;
  return jdec_run(L, jdec_decode_k, &d, body, len);
}

/* ---- schema mode ---- */

static const char jdec_keys_key = 'k';    /* registry key (by address) of the key cache:
                                           * node (light userdata) -> its key strings */
static const char jdec_anchor_key = 'a';  /* registry key of a coerced code fact's string */

void jdec_push_key(lua_State *L, int names, const sch_node *n, const sch_field *f) {
  lua_Integer i = (lua_Integer)(f - n->fields) + 1;
  if (lua_rawgeti(L, names, i) == LUA_TSTRING) return;
  lua_pop(L, 1);
  lua_pushstring(L, f->name);
  lua_pushvalue(L, -1);
  lua_rawseti(L, names, i);
}

/* The field of n whose name is the len bytes at s (no NUL among them), or NULL. */
static const sch_field *jdec_field(const sch_node *n, const unsigned char *s, size_t len) {
  size_t i;
  for (i = 0; i < n->nfields; i++) {
    const char *name = n->fields[i].name;
    if (name[0] == (char)s[0] && strncmp(name, (const char *)s, len) == 0 && name[len] == '\0')
      return &n->fields[i];
  }
  return NULL;
}

static int jdec_is_null(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && !lua_touserdata(L, idx);
}

/* lnorm_facts, for the top-level member named by the len bytes at k whose value (as decoded,
 * before any coercion) is on top of the stack. A later duplicate overwrites, as the last one
 * wins in the table. */
static void jdec_fact(jdec *d, const unsigned char *k, size_t len) {
  lua_State *L = d->L;
  reply_facts *f = d->f;
  int t = lua_type(L, -1);
  if (len == 4 && memcmp(k, "code", 4) == 0) {
    lua_Integer i;
    f->code_str = NULL;
    f->has_code_num = 0;
    f->code_num = 0;
    if (t == LUA_TSTRING) {
      f->code_str = lua_tostring(L, -1);
      if (lnorm_parse_int(f->code_str, &i)) f->has_code_num = 1, f->code_num = (long)i;
    } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
      f->has_code_num = 1, f->code_num = (long)lua_tointeger(L, -1);
    }  /* a float code is never whole here: jdec made whole numbers integers */
  } else if (len == 7 && memcmp(k, "message", 7) == 0) {
    f->message = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  } else if (len == 6 && memcmp(k, "reason", 6) == 0) {
    f->reason = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
  } else if (len == 14 && memcmp(k, "serverResponse", 14) == 0) {
    f->has_server_response = t == LUA_TTABLE && lua_rawgeti(L, -1, 1) == LUA_TNIL;
    if (t == LUA_TTABLE) lua_pop(L, 1);
  } else if (len == 8 && memcmp(k, "recinfos", 8) == 0) {
    if (t == LUA_TTABLE) {
      lua_pushnil(L);
      if (lua_next(L, -2) == 0) {
        f->has_recinfos = 1;  /* empty: both {} and [] */
      } else {
        lua_pop(L, 2);
        f->has_recinfos = lua_rawgeti(L, -1, 1) != LUA_TNIL;
        lua_pop(L, 1);
      }
    } else {
      f->has_recinfos = jdec_is_null(L, -1);
    }
  }
}

/* The value on top (field fld) against the contract, as lnorm_check_field would do it:
 * 0 kept (maybe coerced in place), 1 dropped (an optional null: key and value popped),
 * -1 general path. Objects and arrays of the schema were decoded with their nodes already. */
static int jdec_check(jdec *d, const sch_field *fld, int top_level) {
  lua_State *L = d->L;
  int t = lua_type(L, -1);
  if (jdec_is_null(L, -1)) {
    if (fld->type == SCH_ARRAY && (fld->flags & SCH_NULL_EMPTY)) {
      lua_pop(L, 1);
      lua_createtable(L, 0, 0);
      lua_pushvalue(L, d->mark);
      lua_setmetatable(L, -2);
      return 0;
    }
    if (fld->flags & SCH_REQUIRED) return -1;
    lua_pop(L, 2);
    return 1;
  }
  switch (fld->type) {
  case SCH_OBJECT:
  case SCH_ARRAY:
    return t == LUA_TTABLE ? 0 : -1;
  case SCH_STRING_OR_ARRAY:
    return t == LUA_TTABLE || t == LUA_TSTRING ? 0 : -1;
  default:
    switch (lnorm_coerce(L, fld)) {
    case 1: return 0;
    case 2:
      /* a coerced top-level code ("0" -> 0): the fact still points at the string, which the
       * registry keeps alive until the next reply */
      if (top_level && t == LUA_TSTRING && lua_tostring(L, -2) == d->f->code_str) {
        lua_pushvalue(L, -2);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &jdec_anchor_key);
      }
      lua_replace(L, -2);
      return 0;
    default: return -1;
    }
  }
}

/* An object that node describes, d->p just after '{'. Members wait on the stack (never more
 * than one chunk: a documented object with 64 members goes down the general path). */
static int jdec_sobject(jdec *d, const sch_node *node) {
  lua_State *L = d->L;
  int s, k = 0, more, pos[32], extra, names;
  unsigned seen = 0;
  size_t i;
  int top_level = node == d->sch->root && d->depth == 0;
  if (node->nfields > 32 || jdec_descend(d) != 0) return -1;
  memset(pos, 0, sizeof pos);
  /* the node's key strings, interned once per lua_State: an array by field index */
  if (lua_rawgetp(L, d->keys, node) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, (int)node->nfields, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, d->keys, node);
  }
  names = lua_gettop(L);
  lua_pushnil(L);
  s = lua_gettop(L);
  for (more = jdec_first(d, '}'); more > 0; more = jdec_more(d, '}')) {
    const unsigned char *ks, *q;
    const sch_field *fld;
    int rc;
    if (d->p >= d->end || *d->p != '"') return -1;
    ks = q = ++d->p;
    while (q < d->end && *q != '"' && *q != '\\') q++;
    if (q >= d->end || *q == '\\') return -1;  /* an escaped key: general path */
    fld = jdec_field(node, ks, (size_t)(q - ks));
    if (fld) {
      unsigned bit = 1u << (fld - node->fields);
      if ((fld->flags & SCH_DERIVED) || (seen & bit)) return -1;
      seen |= bit;
      jdec_push_key(L, names, node, fld);
    } else {
      lua_pushlstring(L, (const char *)ks, (size_t)(q - ks));
    }
    d->p = q + 1;
    if (jdec_colon(d) != 0 || d->p >= d->end) return -1;
    if (fld && (fld->type == SCH_OBJECT || fld->type == SCH_ARRAY ||
                fld->type == SCH_STRING_OR_ARRAY) && (*d->p == '{' || *d->p == '[')) {
      if (fld->type == SCH_OBJECT && *d->p == '{') rc = (d->p++, jdec_sobject(d, fld->child));
      else if (fld->type != SCH_OBJECT && *d->p == '[') rc = (d->p++, jdec_array(d, fld->child));
      else return -1;  /* an array for an object or the reverse */
    } else {
      rc = jdec_value_at(d);
    }
    if (rc != 0) return -1;
    if (top_level) jdec_fact(d, ks, (size_t)(q - ks));
    rc = fld ? jdec_check(d, fld, top_level) : 0;
    if (rc < 0) return -1;
    if (rc == 0) {
      if (fld) pos[fld - node->fields] = lua_gettop(L);
      if (++k == JDEC_CHUNK) return -1;
    }
  }
  if (more < 0) return -1;
  for (i = 0; i < node->nfields; i++)
    if ((node->fields[i].flags & SCH_REQUIRED) && !(seen & (1u << i))) return -1;
  extra = d->sch->derive ? d->sch->derive(L, node, pos, names, d->sch->ud) : 0;
  if (extra < 0) return -1;
  jdec_flush_object(L, s, k + extra);
  lua_replace(L, names);  /* the table takes the names' slot */
  d->depth--;
  return 0;
}

/* Protected: (jdec with sch and f set) -> value, true | nil, false. */
static int jdec_reply_k(lua_State *L) {
  jdec *d = lua_touserdata(L, 1);
  int ok = 0;
  lua_settop(L, 0);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &jdec_keys_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 64);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &jdec_keys_key);
  }
  d->keys = 1;
  lnorm_push_array_mt(L);
  d->mark = 2;
  jdec_ws(d);
  if (d->p < d->end && *d->p == '{') {
    d->p++;
    ok = jdec_sobject(d, d->sch->root) == 0;
  }
  return jdec_done(d, ok, 3);
}

int jdec_reply(lua_State *L, const char *body, size_t len, const jdec_schema *s,
               reply_facts *f) {
  jdec d;
  memset(f, 0, sizeof *f);
  memset(&d, 0, sizeof d);
  d.sch = s;
  d.f = f;
  f->is_json = f->is_object = 1;
  if (!jdec_run(L, jdec_reply_k, &d, body, len)) {
    memset(f, 0, sizeof *f);
    return 0;
  }
  return 1;
}
