/* Unit tests for the reply schema (schema.c) and its users: every body the simulator can
 * play passes the normaliser's contract check, the coverage scenario plays every field the
 * schema lists, and docs/api.md has one table row per field with its type and unit.
 * `test_schema --markdown` prints those rows (to regenerate the tables). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lnorm.h"
#include "schema.h"
#include "sim/sim_int.h"

#define COVERAGE FIXTURES "/../scenarios/reply_coverage.lua"
#define API_MD FIXTURES "/../../docs/api.md"

/* One docs row: | `path` | type | required | unit | origin | meaning | */
static void row(char *out, size_t cap, const char *path, const sch_field *f) {
  const char *req = (f->flags & SCH_DERIVED) ? "added" : (f->flags & SCH_REQUIRED) ? "yes" : "no";
  char type[160];
  snprintf(type, sizeof type, "%s%s", sch_type_name(f->type),
           (f->flags & SCH_KEEP_STRING) && f->type == SCH_INT ? " (a decimal string reads as one), or any other string"
           : (f->flags & SCH_COERCE) && f->type == SCH_INT  ? " (or a decimal string)"
           : (f->flags & SCH_COERCE) && f->type == SCH_BOOL ? " (or \"true\"/\"false\")"
           : (f->flags & SCH_COERCE) && f->type == SCH_STRING ? " (or an integer)"
           : (f->flags & SCH_PER_ITEM)                      ? " (null reads as []; an entry that breaks this table is unreadable on its own)"
           : (f->flags & SCH_NULL_EMPTY)                    ? " (null reads as [])"
                                                            : "");
  snprintf(out, cap, "| `%s` | %s | %s | %s | %s | %s |", path, type, req,
           f->unit ? f->unit : "-", f->origin, f->doc);
}

typedef struct docs_ctx {
  const char *md;
  int missing;
  int print;
} docs_ctx;

static int docs_visit(const char *path, const sch_field *f, void *ud) {
  docs_ctx *c = ud;
  char r[600];
  row(r, sizeof r, path, f);
  if (c->print) {
    puts(r);
  } else if (!strstr(c->md, r)) {
    fprintf(stderr, "docs/api.md lacks the row:\n%s\n", r);
    c->missing++;
  }
  return 0;
}

static void test_docs_tables(void **state) {
  size_t len;
  docs_ctx c = {NULL, 0, 0};
  FILE *fp = fopen(API_MD, "rb");
  char *md;
  (void)state;
  assert_non_null(fp);
  md = malloc(1 << 20);
  assert_non_null(md);
  len = fread(md, 1, (1 << 20) - 1, fp);
  fclose(fp);
  md[len] = '\0';
  c.md = md;
  sch_walk(&sch_qingcloud_reply, docs_visit, &c);
  sch_walk(&sch_agora_reply, docs_visit, &c);
  free(md);
  assert_int_equal(c.missing, 0);
}

static int count_visit(const char *path, const sch_field *f, void *ud) {
  (void)f;
  assert_true(strlen(path) > 0);
  (*(int *)ud)++;
  return 0;
}

static void test_walk(void **state) {
  int n = 0;
  (void)state;
  sch_walk(&sch_qingcloud_reply, count_visit, &n);
  assert_int_equal(n, 5 + 21);
  assert_null(sch_find(&sch_qingcloud_reply, "nope"));
  assert_string_equal(sch_type_name(SCH_STRING_OR_ARRAY), "string or array");
}

/* Lua: paths(t) -> set of "a.b[].c" for every key present (arrays as []). */
static const char paths_lua[] =
  "function paths(t, prefix, out)\n"
  "  out = out or {}\n"
  "  for k, v in pairs(t) do\n"
  "    local p\n"
  "    if math.type(k) == 'integer' then p = (prefix or '') .. '[]'\n"
  "    else p = (prefix and prefix .. '.' or '') .. k out[p] = true end\n"
  "    if type(v) == 'table' then paths(v, p, out) end\n"
  "  end\n"
  "  return out\n"
  "end\n"
  "seen = {}\n";

typedef struct cover_ctx {
  lua_State *L;
  int missing;
} cover_ctx;

static int cover_visit(const char *path, const sch_field *f, void *ud) {
  cover_ctx *c = ud;
  if (f->flags & SCH_DERIVED) return 0;
  lua_getglobal(c->L, "seen");
  if (lua_getfield(c->L, -1, path) == LUA_TNIL) {
    fprintf(stderr, "the coverage scenario never plays %s\n", path);
    c->missing++;
  }
  lua_pop(c->L, 2);
  return 0;
}

/* Every precomputed body of a scenario passes the contract; paths go into `seen`. */
static void check_scenario(lua_State *L, const char *path) {
  char err[256];
  sim_scenario *sc = sim_scenario_load(path, 1637218603, err, sizeof err);
  size_t i, j;
  if (!sc) fail_msg("%s", err);
  for (i = 0; i < sc->nrecs; i++) {
    for (j = 0; j < sc->recs[i].nsteps; j++) {
      rec_err e;
      assert_int_equal(lnorm_decode(L, sc->recs[i].body[j], sc->recs[i].bodylen[j]), 1);
      if (lnorm_agora(L, -1, 200, &e) != 0) fail_msg("%s: %s", sc->recs[i].sid, e.message);
      lua_setglobal(L, "r");
      assert_int_equal(luaL_dostring(L, "paths(r, nil, seen)"), LUA_OK);
    }
  }
  for (i = 0; i < sc->ntasks; i++) {
    for (j = 0; j < sc->tasks[i].nsteps; j++) {
      char *body = malloc(sc->tasks[i].jsonlen[j] + 100);
      int n;
      rec_err e;
      assert_non_null(body);
      n = sprintf(body, "{\"code\":\"success\",\"offset\":0,\"limit\":20,\"recinfos\":[%.*s],"
                  "\"total_count\":1}", (int)sc->tasks[i].jsonlen[j], sc->tasks[i].json[j]);
      assert_int_equal(lnorm_decode(L, body, (size_t)n), 1);
      free(body);
      if (lnorm_qingcloud(L, -1, 200, &e) != 0) fail_msg("task: %s", e.message);
      lua_setglobal(L, "r");
      assert_int_equal(luaL_dostring(L, "paths(r, nil, seen)"), LUA_OK);
    }
  }
  sim_scenario_free(sc);
}

static void test_simulator_plays_the_contract(void **state) {
  lua_State *L = luaL_newstate();
  cover_ctx c;
  (void)state;
  luaL_openlibs(L);
  assert_int_equal(luaL_dostring(L, paths_lua), LUA_OK);
  check_scenario(L, NULL);  /* the default story */
  check_scenario(L, COVERAGE);
  c.L = L;
  c.missing = 0;
  sch_walk(&sch_qingcloud_reply, cover_visit, &c);
  sch_walk(&sch_agora_reply, cover_visit, &c);
  assert_int_equal(c.missing, 0);
  lua_close(L);
}

/* Lua: set(t, path, v) puts v at path ("a.b[].c": [] is element 1) when the path exists and
 * returns the concrete path ("a.b[1].c"), or nil. */
static const char set_lua[] =
  "function set(t, path, v)\n"
  "  local parts, concrete = {}, {}\n"
  "  for seg in path:gmatch('[^.]+') do parts[#parts + 1] = seg end\n"
  "  for i, seg in ipairs(parts) do\n"
  "    local name = seg:gsub('%[%]$', '')\n"
  "    local arr = name ~= seg and '[]' or ''\n"
  "    concrete[#concrete + 1] = name .. (arr ~= '' and '[1]' or '')\n"
  "    if i == #parts and arr == '' then\n"
  "      if t[name] == nil then return nil end\n"
  "      t[name] = v\n"
  "      return table.concat(concrete, '.')\n"
  "    end\n"
  "    t = t[name]\n"
  "    if type(t) ~= 'table' then return nil end\n"
  "    if arr ~= '' then t = t[1] if type(t) ~= 'table' then return nil end end\n"
  "  end\n"
  "end\n";

typedef struct mut_ctx {
  lua_State *L;
  const sch_node *root;
  const char *body;
  size_t len;
  int tried, rejected;
} mut_ctx;

/* Every field of a valid reply, replaced by a value of a wrong type, is rejected with a
 * protocol error that names the field; in a QingCloud task (recinfos[], SCH_PER_ITEM) it makes
 * that task unreadable instead, naming the field; a string in a field the document types as
 * String (SCH_KEEP_STRING) passes through. */
static int mut_visit(const char *path, const sch_field *f, void *ud) {
  static const char *const wrong[] = {"{a = 1}", "true", "'x'", "2.5"};
  mut_ctx *m = ud;
  size_t i;
  if (f->flags & SCH_DERIVED) return 0;
  for (i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    char chunk[512], want[300];
    rec_err e;
    int rc, top = lua_gettop(m->L);
    if ((f->type == SCH_BOOL && i == 1) || (f->type == SCH_STRING && i == 2) ||
        (f->type == SCH_STRING_OR_ARRAY && i == 2) || (f->type == SCH_OBJECT && i == 0))
      continue;  /* the right type */
    assert_int_equal(lnorm_decode(m->L, m->body, m->len), 1);
    lua_setglobal(m->L, "r");
    snprintf(chunk, sizeof chunk, "return set(r, '%s', %s)", path, wrong[i]);
    if (luaL_dostring(m->L, chunk) != LUA_OK) fail_msg("%s: %s", chunk, lua_tostring(m->L, -1));
    if (lua_isnil(m->L, -1)) {  /* not in this body */
      lua_settop(m->L, top);
      continue;
    }
    snprintf(want, sizeof want, "field %s is ", lua_tostring(m->L, -1));
    lua_pop(m->L, 1);
    lua_getglobal(m->L, "r");
    rc = lnorm_check(m->L, -1, m->root, "mut", &e);
    lua_settop(m->L, top);
    m->tried++;
    if (f->type == SCH_INT && (f->flags & SCH_KEEP_STRING) && i == 2) {
      /* a field the document types as String: any string passes through as it is */
      if (rc != 0) fail_msg("%s = %s refused: %s", path, wrong[i], e.message);
      snprintf(chunk, sizeof chunk, "return r.recinfos[1].%s == 'x'", f->name);
      assert_int_equal(luaL_dostring(m->L, chunk), LUA_OK);
      if (!lua_toboolean(m->L, -1)) fail_msg("%s = 'x' did not stay 'x'", path);
      lua_settop(m->L, top);
      m->rejected++;
      continue;
    }
    if (strncmp(path, "recinfos[].", 11) == 0) {
      /* a SCH_PER_ITEM array: that task alone is unreadable, the field is left out and named */
      if (rc != 0) fail_msg("%s = %s failed the whole reply: %s", path, wrong[i], e.message);
      snprintf(chunk, sizeof chunk, "local t = r.recinfos[1] return t.%s == nil and "
               "type(t.unreadable) == 'string' and t.unreadable:find('%s is ', 1, true) == 1",
               f->name, f->name);
      assert_int_equal(luaL_dostring(m->L, chunk), LUA_OK);
      if (!lua_toboolean(m->L, -1)) fail_msg("%s = %s: the task is not marked unreadable", path, wrong[i]);
      lua_settop(m->L, top);
      m->rejected++;
      continue;
    }
    if (rc == 0) fail_msg("%s = %s accepted", path, wrong[i]);
    assert_int_equal(e.kind, REC_E_PROTOCOL);
    if (!strstr(e.message, want)) fail_msg("\"%s\" lacks \"%s\"", e.message, want);
    m->rejected++;
  }
  return 0;
}

static void test_every_field_is_checked(void **state) {
  lua_State *L = luaL_newstate();
  char err[256];
  sim_scenario *sc = sim_scenario_load(COVERAGE, 1637218603, err, sizeof err);
  mut_ctx m;
  size_t i;
  (void)state;
  if (!sc) fail_msg("%s", err);
  luaL_openlibs(L);
  assert_int_equal(luaL_dostring(L, set_lua), LUA_OK);
  memset(&m, 0, sizeof m);
  m.L = L;
  m.root = &sch_agora_reply;
  for (i = 0; i < sc->nrecs; i++) {
    m.body = sc->recs[i].body[0];
    m.len = sc->recs[i].bodylen[0];
    sch_walk(&sch_agora_reply, mut_visit, &m);
  }
  {
    char body[2048];
    int n = snprintf(body, sizeof body, "{\"code\":\"success\",\"offset\":0,\"limit\":20,"
                     "\"recinfos\":[%.*s],\"total_count\":1}",
                     (int)sc->tasks[0].jsonlen[0], sc->tasks[0].json[0]);
    m.body = body;
    m.len = (size_t)n;
    m.root = &sch_qingcloud_reply;
    sch_walk(&sch_qingcloud_reply, mut_visit, &m);
  }
  assert_true(m.tried > 150);
  assert_int_equal(m.rejected, m.tried);
  sim_scenario_free(sc);
  lua_close(L);
}

/* sch_derive names its fields by position: each must be the field it says, in its node. */
static void test_derived_fields_named(void **state) {
  const sch_derived *d = &sch_derive;
  (void)state;
  assert_ptr_equal(d->ag_sr, sch_find(&sch_agora_reply, "serverResponse")->child);
  assert_ptr_equal(d->ag_sr_status, sch_find(d->ag_sr, "status"));
  assert_ptr_equal(d->ag_status, sch_find(&sch_agora_reply, "status"));
  assert_ptr_equal(d->ag_status_name, sch_find(&sch_agora_reply, "status_name"));
  assert_ptr_equal(d->qc_recinfo, sch_find(&sch_qingcloud_reply, "recinfos")->child);
  assert_ptr_equal(d->qc_status, sch_find(d->qc_recinfo, "status"));
  assert_ptr_equal(d->qc_created, sch_find(d->qc_recinfo, "created"));
  assert_ptr_equal(d->qc_updated, sch_find(d->qc_recinfo, "updated"));
  assert_ptr_equal(d->qc_status_name, sch_find(d->qc_recinfo, "status_name"));
  assert_ptr_equal(d->qc_created_ts, sch_find(d->qc_recinfo, "created_ts"));
  assert_ptr_equal(d->qc_updated_ts, sch_find(d->qc_recinfo, "updated_ts"));
  assert_ptr_equal(d->qc_unreadable, sch_find(d->qc_recinfo, "unreadable"));
}

static void test_scenario_refuses_individual_string(void **state) {
  char err[256];
  FILE *fp = fopen("individual_string.lua", "w");
  sim_scenario *sc;
  (void)state;
  assert_non_null(fp);
  fputs("return { agora_recordings = { { appid = 'a', resourceid = 'r', sid = 's', "
        "mode = 'individual', fileListMode = 'string', status = 5 } } }", fp);
  fclose(fp);
  sc = sim_scenario_load("individual_string.lua", 0, err, sizeof err);
  remove("individual_string.lua");
  assert_null(sc);
  assert_non_null(strstr(err, "individual mode always lists files as JSON"));
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_walk),
    cmocka_unit_test(test_docs_tables),
    cmocka_unit_test(test_simulator_plays_the_contract),
    cmocka_unit_test(test_every_field_is_checked),
    cmocka_unit_test(test_scenario_refuses_individual_string),
    cmocka_unit_test(test_derived_fields_named),
  };
  if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
    docs_ctx c = {NULL, 0, 1};
    puts("| field | type | required | unit | source | meaning |\n|---|---|---|---|---|---|");
    sch_walk(&sch_qingcloud_reply, docs_visit, &c);
    puts("");
    puts("| field | type | required | unit | source | meaning |\n|---|---|---|---|---|---|");
    sch_walk(&sch_agora_reply, docs_visit, &c);
    return 0;
  }
  return cmocka_run_group_tests(tests, NULL, NULL);
}
