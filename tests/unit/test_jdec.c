/* Differential tests for jdec: the one-pass decoder must give what lnorm_decode (lua-cjson and
 * the whole-number pass) gives, for every fixture and thousands of generated, truncated and
 * mutated inputs: the same value (integer vs float subtype, NaN, -0, nesting) or the same
 * refusal; and the same facts, normalisation result, error kind and array marks once the
 * provider passes (lnorm_agora / lnorm_qingcloud) have run over it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <cmocka.h>
#include "fixture.h"
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "jdec.h"
#include "lnorm_reply.h"
#include "lnorm.h"
#include "log.h"
#include "provider.h"
#include "schema.h"

static const char *fixtures[] = {
  "agora_200_empty_body.txt", "agora_200_individual_json.json", "agora_200_missing_fields.json",
  "agora_200_mix_json.json", "agora_200_mix_string.json", "agora_200_mix_vod.json",
  "agora_200_no_server_response.json", "agora_200_old_strings.json", "agora_200_truncated.json",
  "agora_200_web.json", "agora_200_web_rtmp.json", "agora_206_code65.json",
  "agora_400_code2.json", "agora_401_invalid_credentials.json", "agora_401_unauthorized.json",
  "agora_404_no_route.json", "agora_404_other_reason.json", "agora_404_worker.json",
  "agora_429_rate_limited.json", "agora_502_html.html", "agora_504_code62.json",
  "qc_200_code_failed.json", "qc_200_empty.json", "qc_200_empty_body.txt",
  "qc_200_missing_code.json", "qc_200_missing_recinfos.json", "qc_200_null_recinfos.json",
  "qc_200_string_numbers.json", "qc_200_success.json", "qc_200_truncated.json",
  "qc_400_invalid_params.json", "qc_401_signature.json", "qc_404_not_found.json",
  "qc_429_rate_limited.json", "qc_500_code.json", "qc_502_html.html",
  "qc_200_odd_strings.json", "qc_200_unreadable_task.json",
};
#define NFIX (sizeof fixtures / sizeof fixtures[0])

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

#include "luasame.h"

/* ---- one input through both paths ---- */

static long ncases, nok, nfast;

/* What call.c does: decode, facts, then the provider pass (0 agora, 1 qingcloud). Pushes the
 * value (nil when it did not decode). */
typedef int (*decode_fn)(lua_State *L, const char *body, size_t len);

static int run_path(lua_State *L, decode_fn dec, const char *body, size_t len, int prov,
                    reply_facts *f, rec_err *e) {
  memset(f, 0, sizeof *f);
  memset(e, 0, sizeof *e);
  if (dec(L, body, len)) lnorm_facts(L, -1, f);
  else lua_pushnil(L);
  return prov == 0 ? lnorm_agora(L, -1, 200, e) : lnorm_qingcloud(L, -1, 200, e);
}

static void differ(lua_State *L, const char *body, size_t len) {
  int top = lua_gettop(L), ra, rb, prov, fast;
  reply_facts fa, fb, fc;
  rec_err ea, eb;
  ncases++;
  /* the plain decode */
  ra = lnorm_decode(L, body, len);
  rb = jdec_decode(L, body, len);
  if (ra != rb || lua_gettop(L) != top + ra + rb ||
      (ra && !same(L, top + 1, top + 2, 0))) {
    fprintf(stderr, "decode differs (cjson %d, jdec %d: %s) on %zu bytes: %.*s\n", ra, rb,
            ra && rb ? why : "", len, (int)(len > 300 ? 300 : len), body);
    fail();
  }
  nok += ra;
  lua_settop(L, top);
  /* facts, then the provider passes over each result (facts point into the values, so they
   * are compared before the passes change them) */
  for (prov = 0; prov < 2; prov++) {
    memset(&ea, 0, sizeof ea);
    memset(&eb, 0, sizeof eb);
    memset(&fa, 0, sizeof fa);
    memset(&fb, 0, sizeof fb);
    if (lnorm_decode(L, body, len)) lnorm_facts(L, -1, &fa);
    else lua_pushnil(L);
    if (jdec_decode(L, body, len)) lnorm_facts(L, -1, &fb);
    else lua_pushnil(L);
    if (!same_facts(&fa, &fb)) {
      fprintf(stderr, "facts differ on: %.*s\n", (int)(len > 300 ? 300 : len), body);
      fail();
    }
    /* the one-pass path: when it takes a reply, it gives the facts and the value the general
     * path gives (which must then succeed) */
    fast = lnorm_reply(L, body, len, prov == 0 ? LNORM_AGORA : LNORM_QINGCLOUD, &fc);
    if (lua_gettop(L) != top + 2 + fast) {
      fprintf(stderr, "one-pass path left %d values\n", lua_gettop(L) - top - 2);
      fail();
    }
    if (fast && !same_facts(&fa, &fc)) {
      fprintf(stderr, "one-pass facts differ (provider %d) on: %.*s\n", prov,
              (int)(len > 300 ? 300 : len), body);
      fail();
    }
    ra = prov == 0 ? lnorm_agora(L, top + 1, 200, &ea) : lnorm_qingcloud(L, top + 1, 200, &ea);
    rb = prov == 0 ? lnorm_agora(L, top + 2, 200, &eb) : lnorm_qingcloud(L, top + 2, 200, &eb);
    if (ra != rb || ea.kind != eb.kind || strcmp(ea.message, eb.message) != 0 ||
        !same(L, top + 1, top + 2, 0)) {
      fprintf(stderr, "provider %d differs (%d/%d, %s / %s; %s) on: %.*s\n", prov, ra, rb,
              ea.message, eb.message, why, (int)(len > 300 ? 300 : len), body);
      fail();
    }
    if (fast && (ra != 0 || !same(L, top + 1, top + 3, 0))) {
      fprintf(stderr, "one-pass path differs (provider %d, general path %d: %s; %s) on: %.*s\n",
              prov, ra, ea.message, ra == 0 ? why : "", (int)(len > 300 ? 300 : len), body);
      fail();
    }
    nfast += fast;
    lua_settop(L, top);
  }
}

static void differ_str(lua_State *L, const char *s) { differ(L, s, strlen(s)); }

/* ---- inputs ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

typedef struct gbuf {
  char *s;
  size_t len, cap;
} gbuf;

static void gput(gbuf *g, const char *s, size_t n) {
  if (g->len + n + 1 > g->cap) {
    g->cap = (g->len + n + 1) * 2;
    g->s = realloc(g->s, g->cap);
    assert_non_null(g->s);
  }
  memcpy(g->s + g->len, s, n);
  g->len += n;
  g->s[g->len] = '\0';
}
static void gstr(gbuf *g, const char *s) { gput(g, s, strlen(s)); }

static const char *numbers[] = {
  "0", "-0", "1", "-1", "42", "0.5", "-0.0", "1.0", "1e3", "1E3", "1e+2", "1e-2", "2.5e1",
  "1e400", "-1e400", "1e-400", "9007199254740991", "9007199254740992", "9007199254740993",
  "-9007199254740992", "123456789012345", "1234567890123456", "99999999999999999999",
  "1.7976931348623157e308", "4.9e-324", "0.1", "3.14159", "100000000000000000000000",
  "-01", "-0x10", "-inf", "-Infinity", "-nan", "1.", "-.5", "0.0e0", "12345678901234567",
  "1e15", "1e16", "-9223372036854775808", "9223372036854775807", "18446744073709551616",
};
static const char *keys[] = {
  "code", "message", "reason", "serverResponse", "recinfos", "status", "fileList",
  "fileListMode", "sliceStartTime", "uid", "mixedAllUser", "isPlayable", "id", "pid",
  "total_count", "offset", "limit", "created", "updated", "extensionServiceState", "payload",
  "fileName", "onhold", "outputs", "videoInfo", "subServiceStatus", "is_mix", "size", "k", "",
  "a\\u00e9", "\\ud83d\\ude00", "status_name", "resourceId", "sid", "1",
};
static const char *strings[] = {
  "\"\"", "\"abc\"", "\"52\"", "\"-7\"", "\"true\"", "\"false\"", "\"2024-01-02 03:04:05\"",
  "\"a\\\"b\"", "\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\u0000\"", "\"\\u00e9\\u20ac\"",
  "\"\\ud83d\\ude00\"", "\"\xc3\xa9\"", "\"\xff\xfe\"", "\"\x01\x1f\"", "\"json\"", "\"string\"",
  "\"9007199254740993\"", "\"0052\"", "\"1.5\"", "\" 5\"",
};

static void gen_value(gbuf *g, int depth);

static void gen_object(gbuf *g, int depth) {
  int n = (int)(rnd() % 6), i;
  gstr(g, "{");
  for (i = 0; i < n; i++) {
    if (i) gstr(g, rnd() % 8 ? "," : " , ");
    gstr(g, "\"");
    gstr(g, keys[rnd() % (sizeof keys / sizeof keys[0])]);
    gstr(g, rnd() % 8 ? "\":" : "\" :\n ");
    gen_value(g, depth + 1);
  }
  gstr(g, "}");
}

static void gen_array(gbuf *g, int depth) {
  int n = (int)(rnd() % 5), i;
  if (rnd() % 20 == 0) n = 70 + (int)(rnd() % 80);  /* crosses the flush chunk */
  gstr(g, "[");
  for (i = 0; i < n; i++) {
    if (i) gstr(g, ",");
    gen_value(g, depth + 1);
  }
  gstr(g, "]");
}

static void gen_value(gbuf *g, int depth) {
  unsigned r = rnd() % (depth > 5 ? 6 : 10);
  switch (r) {
  case 0: gstr(g, numbers[rnd() % (sizeof numbers / sizeof numbers[0])]); break;
  case 1: gstr(g, strings[rnd() % (sizeof strings / sizeof strings[0])]); break;
  case 2: gstr(g, rnd() % 2 ? "true" : "false"); break;
  case 3: gstr(g, "null"); break;
  case 4: {
    char b[32];
    snprintf(b, sizeof b, "%d", (int)(rnd() % 2000000) - 1000000);
    gstr(g, b);
    break;
  }
  case 5: {
    char b[40];
    snprintf(b, sizeof b, "%.17g", ((double)rnd() - 2147483648.0) / (double)(1 + rnd() % 1000));
    gstr(g, b);
    break;
  }
  case 6: case 7: gen_object(g, depth); break;
  default: gen_array(g, depth); break;
  }
}

/* ---- replies built from the schema: mostly keeping the contract, sometimes not ---- */

static const char *sch_strings[] = {
  "\"abc\"", "\"2024-01-02 03:04:05\"", "\"1999-12-31 23:59:60\"", "\"2024-13-01 00:00:00\"",
  "\"json\"", "\"\"", "\"a\\u00e9\"", "\"52\"", "\"in_progress\"", "\"\\u0000x\"",
};

static void gen_sch_node(gbuf *g, const sch_node *n, int depth);

/* A value for field f: mostly of its type (sometimes in a documented coercible form), else
 * null or another type. */
static void gen_sch_value(gbuf *g, const sch_field *f, int depth) {
  unsigned r = rnd() % 100;
  char b[48];
  if (r >= 96) {
    switch (rnd() % 8) {
    case 0: case 1: gstr(g, "null"); return;
    case 2: gstr(g, numbers[rnd() % (sizeof numbers / sizeof numbers[0])]); return;
    case 3: gstr(g, strings[rnd() % (sizeof strings / sizeof strings[0])]); return;
    case 4: gstr(g, rnd() % 2 ? "{}" : "[]"); return;
    case 5: gstr(g, rnd() % 2 ? "true" : "[{}]"); return;
    case 6: gstr(g, "{\"k\":1}"); return;
    default: gstr(g, "[1,\"x\"]"); return;
    }
  }
  switch (f->type) {
  case SCH_INT:
    if (r < 70) snprintf(b, sizeof b, "%d", (int)(rnd() % 70) - 3);
    else if (r < 80) snprintf(b, sizeof b, "\"%d\"", (int)(rnd() % 70));
    else snprintf(b, sizeof b, "%s", rnd() % 2 ? "1562724971626" : "5.0");
    gstr(g, b);
    return;
  case SCH_BOOL:
    gstr(g, r < 80 ? (rnd() % 2 ? "true" : "false") : (rnd() % 2 ? "\"true\"" : "\"false\""));
    return;
  case SCH_STRING:
    if (r < 80) gstr(g, sch_strings[rnd() % (sizeof sch_strings / sizeof sch_strings[0])]);
    else snprintf(b, sizeof b, "%d", (int)(rnd() % 1000)), gstr(g, b);
    return;
  case SCH_OBJECT:
    gen_sch_node(g, f->child, depth + 1);
    return;
  case SCH_STRING_OR_ARRAY:
    if (r < 30) {
      gstr(g, "\"x.m3u8\"");
      return;
    }
    /* fall through */
  case SCH_ARRAY: {
    int k = (int)(rnd() % 4), i;
    if (rnd() % 50 == 0) k = 64 + (int)(rnd() % 20);  /* crosses the flush chunk */
    gstr(g, "[");
    for (i = 0; i < k; i++) {
      if (i) gstr(g, ",");
      gen_sch_node(g, f->child, depth + 1);
    }
    gstr(g, "]");
    return;
  }
  }
}

static void gen_sch_member(gbuf *g, const char *key, int *first) {
  if (!*first) gstr(g, rnd() % 8 ? "," : " ,\n ");
  *first = 0;
  gstr(g, "\"");
  gstr(g, key);
  gstr(g, "\":");
}

static void gen_sch_node(gbuf *g, const sch_node *n, int depth) {
  int first = 1;
  size_t i, start = n->nfields ? rnd() % n->nfields : 0;
  gstr(g, "{");
  for (i = 0; i < n->nfields; i++) {
    const sch_field *f = &n->fields[(start + i) % n->nfields];  /* any order */
    unsigned r = rnd() % 100;
    if (f->flags & SCH_DERIVED) {
      if (r < 2) gen_sch_member(g, f->name, &first), gstr(g, "1");  /* not the server's to send */
      continue;
    }
    if (r < ((f->flags & SCH_REQUIRED) ? 2u : 25u) || (depth > 6 && f->child)) continue;
    if (r > 98) {  /* the key written with an escape */
      char k[64];
      snprintf(k, sizeof k, "\\u00%02x%s", (unsigned char)f->name[0], f->name + 1);
      gen_sch_member(g, k, &first);
    } else {
      gen_sch_member(g, f->name, &first);
    }
    gen_sch_value(g, f, depth);
    if (r == 98) {  /* twice */
      gen_sch_member(g, f->name, &first);
      gen_sch_value(g, f, depth);
    }
  }
  if (rnd() % 5 == 0) {  /* a field the schema does not know */
    gen_sch_member(g, keys[rnd() % (sizeof keys / sizeof keys[0])], &first);
    gen_value(g, depth + 3);
  }
  gstr(g, "}");
}

/* Truncations and byte changes of an input; each goes through both paths. */
static void mutate(lua_State *L, const char *s, size_t len, int n) {
  static const char pokes[] = "{}[]\",:\\ 0-e.tnfu\x01\xff";
  char *m = malloc(len + 2);
  int i;
  assert_non_null(m);
  for (i = 0; i < n; i++) {
    size_t at = len ? rnd() % len : 0;
    memcpy(m, s, len);
    switch (rnd() % 4) {
    case 0: differ(L, m, at); break;                          /* truncated */
    case 1: m[at] = (char)(m[at] ^ (1u << (rnd() % 8))); differ(L, m, len); break;
    case 2: m[at] = pokes[rnd() % (sizeof pokes - 1)]; differ(L, m, len); break;
    default:                                                  /* a byte dropped */
      memmove(m + at, m + at + 1, len - at - (len ? 1 : 0));
      differ(L, m, len ? len - 1 : 0);
    }
  }
  free(m);
}

static void test_fixtures(void **state) {
  lua_State *L = *state;
  size_t i;
  for (i = 0; i < NFIX; i++) {
    size_t len;
    char *body = read_fixture(fixtures[i], &len);
    differ(L, body, len);
    mutate(L, body, len, 300);
    free(body);
  }
  assert_true(nok > 0);
}

static void test_edges(void **state) {
  static const char *cases[] = {
    "", " ", "{}", "[]", "{ }", "[ ]", "null", "true", "false", "nul", "tru", "truex", "0",
    "-0", "-", "01", "0x10", "-0x10", "1e", "1e+", "1.", ".5", "+1", "1.5.3", "Infinity",
    "-Infinity", "NaN", "-nan", "-nan(abc)", "-nan(", "-00", "-01", "-0x", "-+1", "- 1", "-x", "-.5", "-.", "-e5", "-INF", "1e400", "[1e400,-1e400]", "[-0,-0.0]",
    "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\\ud800\"",
    "\"\\ud800\\u0041\"", "\"\\ud800\\udc00\"", "\"\\", "\"\\u", "[1,]", "[,1]", "{,}",
    "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\" 1}", "{1:2}", "{\"a\":1 \"b\":2}",
    "{\"a\":1,\"a\":2}", "{\"a\":null,\"a\":3}", "[1 2]", "[1]]", "{}}", " [1] ", "\f[1]",
    "[1]\f", "\v1", "[\"\x80\xbf\xc0\"]", "\xef\xbb\xbf{}", "{\"code\":\"success\"}",
    "{\"serverResponse\":{}}", "{\"recinfos\":null,\"code\":\"success\",\"total_count\":\"3\"}",
    "[9007199254740993, 123456789012345678901234567890, 1e-400, -1e-400]",
    "{\"recinfos\":[{\"id\":\"1\",\"status\":\"5\",\"created\":\"2024-01-02 03:04:05\"}],"
    "\"code\":\"success\",\"total_count\":1.0}",
    "{\"serverResponse\":{\"status\":5.0,\"fileList\":[{\"uid\":123,\"isPlayable\":\"true\"}]}}",
  };
  lua_State *L = *state;
  size_t i;
  char nul[] = "{\"a\":1}\0 ";
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) differ_str(L, cases[i]);
  differ(L, nul, sizeof nul - 1);  /* a NUL byte is refused by both */
  differ(L, "[1]\0", 4);
}

static void test_depth(void **state) {
  lua_State *L = *state;
  gbuf g = {0};
  int depth, i;
  for (depth = 998; depth <= 1002; depth++) {
    g.len = 0;
    for (i = 0; i < depth; i++) gstr(&g, i % 2 ? "[" : "{\"k\":");
    gstr(&g, "1");
    for (i = depth - 1; i >= 0; i--) gstr(&g, i % 2 ? "]" : "}");
    differ(L, g.s, g.len);
    g.len = 0;
    for (i = 0; i < depth; i++) gstr(&g, "[");
    for (i = 0; i < depth; i++) gstr(&g, "]");
    differ(L, g.s, g.len);
  }
  /* a 1000-deep array is accepted, 1001 is refused, as in lua-cjson */
  g.len = 0;
  for (i = 0; i < 1000; i++) gstr(&g, "[");
  for (i = 0; i < 1000; i++) gstr(&g, "]");
  assert_int_equal(jdec_decode(L, g.s, g.len), 1);
  lua_pop(L, 1);
  gput(&g, "]", 1);
  memmove(g.s + 1, g.s, g.len - 1);
  g.s[0] = '[';
  assert_int_equal(jdec_decode(L, g.s, g.len), 0);
  /* long arrays and objects (many flushes), and a long number */
  g.len = 0;
  gstr(&g, "[");
  for (i = 0; i < 5000; i++) gstr(&g, i ? ",1.5" : "1");
  gstr(&g, "]");
  differ(L, g.s, g.len);
  g.len = 0;
  gstr(&g, "{");
  for (i = 0; i < 3000; i++) {
    char b[40];
    snprintf(b, sizeof b, "%s\"k%d\":%d", i ? "," : "", i % 2500, i);
    gstr(&g, b);
  }
  gstr(&g, "}");
  differ(L, g.s, g.len);
  g.len = 0;
  gstr(&g, "[-");
  for (i = 0; i < 400; i++) gstr(&g, "7");
  gstr(&g, ".5e-300]");
  differ(L, g.s, g.len);
  free(g.s);
}

static void test_generated(void **state) {
  lua_State *L = *state;
  gbuf g = {0};
  int i;
  for (i = 0; i < 16000; i++) {
    g.len = 0;
    gen_value(&g, rnd() % 3 ? 0 : 3);
    differ(L, g.s, g.len);
    if (i % 3 == 0) mutate(L, g.s, g.len, 4);
  }
  free(g.s);
  fprintf(stderr, "jdec: %ld inputs compared, %ld decoded\n", ncases, nok);
  assert_true(ncases > 10000);
}

/* Replies generated from the schema: most keep the contract and take the one-pass path,
 * the others (a wrong type, a null where one is required, a missing field, a duplicate or
 * escaped key, a derived field sent, 64 members) must give exactly what the general path
 * gives. */
static void test_schema_replies(void **state) {
  lua_State *L = *state;
  gbuf g = {0};
  long before = nfast;
  int i;
  for (i = 0; i < 6000; i++) {
    g.len = 0;
    gen_sch_node(&g, i % 2 ? &sch_qingcloud_reply : &sch_agora_reply, 0);
    differ(L, g.s, g.len);
    if (i % 4 == 0) mutate(L, g.s, g.len, 2);
  }
  free(g.s);
  fprintf(stderr, "jdec: %ld schema replies took the one-pass path\n", nfast - before);
  assert_true(nfast - before > 1000);
}

/* The providers' documented replies (fixtures) keep the contract: they take the one-pass path. */
static void test_fixtures_one_pass(void **state) {
  static const struct { const char *name; int prov; } take[] = {
    {"agora_200_individual_json.json", LNORM_AGORA}, {"agora_200_mix_json.json", LNORM_AGORA},
    {"agora_200_mix_string.json", LNORM_AGORA}, {"agora_200_web.json", LNORM_AGORA},
    {"agora_200_web_rtmp.json", LNORM_AGORA}, {"agora_200_mix_vod.json", LNORM_AGORA},
    {"qc_200_success.json", LNORM_QINGCLOUD}, {"qc_200_string_numbers.json", LNORM_QINGCLOUD},
    {"qc_200_null_recinfos.json", LNORM_QINGCLOUD}, {"qc_200_empty.json", LNORM_QINGCLOUD},
    {"qc_200_odd_strings.json", LNORM_QINGCLOUD},  /* pid "", size "1.5M": strings, one pass */
  };
  lua_State *L = *state;
  size_t i;
  for (i = 0; i < sizeof take / sizeof take[0]; i++) {
    size_t len;
    char *body = read_fixture(take[i].name, &len);
    reply_facts f;
    if (lnorm_reply(L, body, len, take[i].prov, &f) != 1) {
      fprintf(stderr, "%s did not take the one-pass path\n", take[i].name);
      fail();
    }
    lua_pop(L, 1);
    free(body);
  }
  {
    /* a page with unreadable tasks is left to the general path, which reads it (test_lnorm) */
    size_t len;
    char *body = read_fixture("qc_200_unreadable_task.json", &len);
    reply_facts f;
    int top = lua_gettop(L);
    assert_int_equal(lnorm_reply(L, body, len, LNORM_QINGCLOUD, &f), 0);
    assert_int_equal(lua_gettop(L), top);
    free(body);
  }
}

/* body with ws written before and after every bracket, comma and colon outside strings. */
static char *spaced(const char *body, size_t len, const char *ws, size_t *out) {
  size_t wl = strlen(ws), i, n = 0;
  char *s = malloc(len * (2 * wl + 1) + 1);
  int in_str = 0;
  assert_non_null(s);
  for (i = 0; i < len; i++) {
    char c = body[i];
    int sep = !in_str && strchr("{}[],:", c) != NULL;
    if (sep) memcpy(s + n, ws, wl), n += wl;
    s[n++] = c;
    if (sep) memcpy(s + n, ws, wl), n += wl;
    if (in_str && c == '\\' && i + 1 < len) s[n++] = body[++i];  /* an escaped byte */
    else if (c == '"') in_str = !in_str;
  }
  s[n] = '\0';
  *out = n;
  return s;
}

/* The walk shared by arrays, objects and schema objects (jdec_first/jdec_more/jdec_colon):
 * whitespace around every separator changes nothing, on either path, and a documented reply
 * written that way still takes the one-pass path. */
static void test_walk_whitespace(void **state) {
  static const struct { const char *name; int prov; } take[] = {
    {"agora_200_mix_json.json", LNORM_AGORA}, {"agora_200_individual_json.json", LNORM_AGORA},
    {"qc_200_success.json", LNORM_QINGCLOUD}, {"qc_200_string_numbers.json", LNORM_QINGCLOUD},
  };
  static const char *const ws[] = {"", " ", "\n\t", "\r\n  "};
  lua_State *L = *state;
  size_t i, j;
  for (i = 0; i < sizeof take / sizeof take[0]; i++) {
    size_t len;
    char *body = read_fixture(take[i].name, &len);
    for (j = 0; j < sizeof ws / sizeof ws[0]; j++) {
      size_t slen;
      char *s = spaced(body, len, ws[j], &slen);
      reply_facts f;
      int top = lua_gettop(L);
      differ(L, s, slen);
      if (lnorm_reply(L, s, slen, take[i].prov, &f) != 1) {
        fprintf(stderr, "%s with \"%s\" around separators left the one-pass path\n",
                take[i].name, ws[j]);
        fail();
      }
      lua_settop(L, top);
      differ(L, s, slen - 1);  /* cut before its last bracket: refused by both */
      free(s);
    }
    free(body);
  }
}

/* Measurement mode (docs/performance.md): JDEC_BENCH=<fixture> JDEC_PATH=old|new JDEC_N=<n>
 * runs what call.c does with a reply (decode, facts, provider pass) n times and prints the
 * best of 5 wall times per reply. Not a test: run by hand, under callgrind for Ir counts. */
static int bench(const char *name) {
  lua_State *L = luaL_newstate();
  const char *path = getenv("JDEC_PATH");
  decode_fn dec = path && strcmp(path, "old") == 0 ? lnorm_decode : jdec_decode;
  long n = getenv("JDEC_N") ? atol(getenv("JDEC_N")) : 10000, i;
  int prov = strncmp(name, "qc_", 3) == 0, round;
  double best = 1e9;
  size_t len;
  char *body = read_fixture(name, &len);
  reply_facts f;
  rec_err e;
  luaL_openlibs(L);
  run_path(L, dec, body, len, prov, &f, &e);  /* warm: module, marker, key strings */
  lua_settop(L, 0);
  for (round = 0; round < 5; round++) {
    struct timespec t0, t1;
    double us;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < n; i++) {
      run_path(L, dec, body, len, prov, &f, &e);
      lua_settop(L, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / (double)(n ? n : 1);
    if (us < best) best = us;
    if (n <= 1) break;
  }
  printf("%s %s: %.2f us per reply (best of 5, %ld each)\n", name, dec == jdec_decode ? "new" : "old", best, n);
  free(body);
  lua_close(L);
  return 0;
}

int main(void) {
  if (getenv("JDEC_BENCH")) return bench(getenv("JDEC_BENCH"));
  log_set_level(LOG_ERROR);  /* mutated pages log thousands of unreadable tasks (warnings) */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_fixtures, setup, teardown),
    cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
    cmocka_unit_test_setup_teardown(test_generated, setup, teardown),
    cmocka_unit_test_setup_teardown(test_schema_replies, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fixtures_one_pass, setup, teardown),
    cmocka_unit_test_setup_teardown(test_walk_whitespace, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
