/* Unit tests for lnorm: decoding with whole numbers as integers, reply facts, QingCloud and
 * Agora normalisation of every 200 fixture, and that odd or hostile input never crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "fixture.h"
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lnorm.h"
#include "metrics.h"

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

/* Decodes a fixture and leaves it on the stack (as global "r" too, for Lua-side checks). */
static void push_fixture(lua_State *L, const char *name) {
  size_t len;
  char *body = read_fixture(name, &len);
  assert_int_equal(lnorm_decode(L, body, len), 1);
  free(body);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "r");
}

/* Runs a Lua expression over global r; fails the test with the expression when not true. */
static void check(lua_State *L, const char *expr) {
  char chunk[1024];
  snprintf(chunk, sizeof chunk, "return %s", expr);
  if (luaL_dostring(L, chunk) != LUA_OK) fail_msg("%s: %s", expr, lua_tostring(L, -1));
  if (!lua_toboolean(L, -1)) fail_msg("not true: %s", expr);
  lua_pop(L, 1);
}

static void test_decode_whole_numbers(void **state) {
  lua_State *L = *state;
  const char *json = "{\"a\":39,\"b\":1.5,\"c\":[1562724971626,-7,-0.0,1e300,9007199254740993],"
                     "\"d\":{\"e\":{\"f\":[[2]]}},\"g\":null}";
  int top = lua_gettop(L);
  assert_int_equal(lnorm_decode(L, json, strlen(json)), 1);
  assert_int_equal(lua_gettop(L), top + 1);
  lua_setglobal(L, "r");
  check(L, "math.type(r.a) == 'integer' and tostring(r.a) == '39'");
  check(L, "math.type(r.b) == 'float' and r.b == 1.5");
  check(L, "math.type(r.c[1]) == 'integer' and r.c[1] == 1562724971626");
  check(L, "math.type(r.c[2]) == 'integer' and r.c[2] == -7");
  check(L, "math.type(r.c[3]) == 'integer' and r.c[3] == 0");
  check(L, "math.type(r.c[4]) == 'float'");  /* beyond 2^53: left a float */
  check(L, "math.type(r.c[5]) == 'float'");
  check(L, "math.type(r.d.e.f[1][1]) == 'integer'");
  check(L, "type(r.g) == 'userdata'");  /* cjson.null survives as is */
  assert_int_equal(lua_gettop(L), top);
}

static void test_decode_scalars_and_failures(void **state) {
  lua_State *L = *state;
  int top = lua_gettop(L);
  assert_int_equal(lnorm_decode(L, "39", 2), 1);
  assert_true(lua_isinteger(L, -1));
  assert_int_equal(lua_tointeger(L, -1), 39);
  lua_pop(L, 1);
  assert_int_equal(lnorm_decode(L, "\"x\"", 3), 1);
  assert_string_equal(lua_tostring(L, -1), "x");
  lua_pop(L, 1);
  assert_int_equal(lnorm_decode(L, "", 0), 0);
  assert_int_equal(lnorm_decode(L, NULL, 0), 0);
  assert_int_equal(lnorm_decode(L, "{\"a\":", 5), 0);
  assert_int_equal(lnorm_decode(L, "NaN", 3), 0);       /* strict JSON */
  assert_int_equal(lnorm_decode(L, "[1] x", 5), 0);     /* trailing garbage */
  assert_int_equal(lnorm_decode(L, "[1]\0[2]", 7), 0);  /* embedded NUL is not JSON */
  assert_int_equal(lua_gettop(L), top);
}

static void test_decode_deep_nesting(void **state) {
  lua_State *L = *state;
  size_t n = 100000, i;
  char *deep = malloc(2 * n + 1);
  int top = lua_gettop(L);
  assert_non_null(deep);
  for (i = 0; i < n; i++) deep[i] = '[', deep[n + i] = ']';
  deep[2 * n] = '\0';
  assert_int_equal(lnorm_decode(L, deep, n), 0);        /* unclosed */
  assert_int_equal(lnorm_decode(L, deep, 2 * n), 0);    /* closed but too deep for cjson */
  assert_int_equal(lnorm_decode(L, deep + n - 500, 1000), 1);  /* 500 deep is fine */
  lua_pop(L, 1);
  assert_int_equal(lua_gettop(L), top);
  free(deep);
}

static void test_cjson_instance_cached(void **state) {
  lua_State *L = *state;
  int top = lua_gettop(L);
  assert_int_equal(lnorm_cjson(L), 1);
  assert_int_equal(lnorm_cjson(L), 1);
  assert_true(lua_istable(L, -1));
  assert_true(lua_rawequal(L, -1, -2));
  lua_setglobal(L, "cj");
  lua_pop(L, 1);
  assert_int_equal(lnorm_decode(L, "[null]", 6), 1);
  lua_setglobal(L, "r");
  check(L, "r[1] == cj.null and type(cj.encode) == 'function'");
  check(L, "not pcall(cj.decode, 'NaN')");
  assert_int_equal(lua_gettop(L), top);
}

static void test_facts(void **state) {
  lua_State *L = *state;
  reply_facts f;
  push_fixture(L, "agora_404_worker.json");
  lnorm_facts(L, -1, &f);
  assert_true(f.is_json && f.is_object);
  assert_true(f.has_code_num);
  assert_int_equal(f.code_num, 404);
  assert_null(f.code_str);
  assert_string_equal(f.reason, "failed to find worker");
  assert_false(f.has_server_response);
  lua_pop(L, 1);
  push_fixture(L, "qc_200_success.json");
  lnorm_facts(L, -1, &f);
  assert_string_equal(f.code_str, "success");
  assert_false(f.has_code_num);
  assert_true(f.has_recinfos);
  lua_pop(L, 1);
  push_fixture(L, "agora_200_old_strings.json");
  lnorm_facts(L, -1, &f);
  assert_true(f.has_server_response);
  assert_string_equal(f.code_str, "0");
  assert_true(f.has_code_num);
  assert_int_equal(f.code_num, 0);
  lua_pop(L, 1);
  push_fixture(L, "qc_200_missing_recinfos.json");
  lnorm_facts(L, -1, &f);
  assert_false(f.has_recinfos);
  lua_pop(L, 1);
}

static void test_facts_odd_values(void **state) {
  lua_State *L = *state;
  reply_facts f;
  int top = lua_gettop(L);
  lnorm_facts(L, top + 1, &f);  /* none */
  assert_false(f.is_json);
  lua_pushnil(L);
  lnorm_facts(L, -1, &f);
  assert_false(f.is_json);
  lua_pop(L, 1);
  assert_int_equal(lnorm_decode(L, "[1,2]", 5), 1);
  lnorm_facts(L, -1, &f);
  assert_true(f.is_json);
  assert_false(f.is_object);
  lua_pop(L, 1);
  assert_int_equal(lnorm_decode(L, "null", 4), 1);
  lnorm_facts(L, -1, &f);
  assert_true(f.is_json);
  assert_false(f.is_object);
  lua_pop(L, 1);
  assert_int_equal(luaL_dostring(L, "return {code={}, message=1, reason=true, "
                                    "serverResponse='x', recinfos={a=1}}"), LUA_OK);
  lnorm_facts(L, -1, &f);
  assert_true(f.is_object);
  assert_null(f.code_str);
  assert_false(f.has_code_num);
  assert_null(f.message);
  assert_null(f.reason);
  assert_false(f.has_server_response);
  assert_false(f.has_recinfos);
  lua_pop(L, 1);
  assert_int_equal(lua_gettop(L), top);
}

/* Normalises the reply on top of the stack; fails the test when it is rejected. */
static void qc_ok(lua_State *L) {
  rec_err e;
  if (lnorm_qingcloud(L, -1, 200, &e) != 0) fail_msg("qingcloud rejected: %s", e.message);
}

static void agora_ok(lua_State *L) {
  rec_err e;
  if (lnorm_agora(L, -1, 200, &e) != 0) fail_msg("agora rejected: %s", e.message);
}

/* The reply (Lua source returning the decoded table, or JSON) breaks the contract: protocol,
 * and the message quotes `quote` (the field and the type it had). */
static void rejected(lua_State *L, int agora, const char *json, const char *quote) {
  rec_err e;
  int top = lua_gettop(L), rc;
  assert_int_equal(lnorm_decode(L, json, strlen(json)), 1);
  rc = agora ? lnorm_agora(L, -1, 200, &e) : lnorm_qingcloud(L, -1, 200, &e);
  lua_settop(L, top);
  if (rc == 0) fail_msg("accepted: %s", json);
  assert_int_equal(e.kind, REC_E_PROTOCOL);
  assert_int_equal(e.status, 200);
  assert_false(e.retryable);
  if (!strstr(e.message, quote)) fail_msg("message \"%s\" lacks \"%s\"", e.message, quote);
}

/* The QingCloud page (JSON) is read, but its task at index (from 1) is unreadable: its
 * `unreadable` quotes `quote` (the field and the type it had), and that field is left out. */
static void unreadable(lua_State *L, const char *json, int index, const char *quote) {
  rec_err e;
  int top = lua_gettop(L), rc;
  const char *why;
  assert_int_equal(lnorm_decode(L, json, strlen(json)), 1);
  rc = lnorm_qingcloud(L, -1, 200, &e);
  if (rc != 0) fail_msg("rejected: %s: %s", json, e.message);
  lua_getfield(L, -1, "recinfos");
  lua_rawgeti(L, -1, index);
  lua_getfield(L, -1, "unreadable");
  why = lua_tostring(L, -1);
  if (!why || !strstr(why, quote)) fail_msg("task %d of %s: unreadable \"%s\" lacks \"%s\"", index, json, why ? why : "(none)", quote);
  if (strncmp(quote, "status ", 7) == 0) {  /* no status, so no status name either */
    lua_getfield(L, -2, "status");
    assert_true(lua_isnil(L, -1));
    lua_getfield(L, -3, "status_name");
    assert_true(lua_isnil(L, -1));
  }
  lua_settop(L, top);
}

static void test_qingcloud_success(void **state) {
  lua_State *L = *state;
  push_fixture(L, "qc_200_success.json");
  qc_ok(L);
  lua_pop(L, 1);
  check(L, "math.type(r.offset) == 'integer' and math.type(r.limit) == 'integer'");
  check(L, "math.type(r.total_count) == 'integer' and r.total_count == 1");
  check(L, "#r.recinfos == 1 and math.type(r.recinfos[1].id) == 'integer'");
  check(L, "'task ' .. r.recinfos[1].id == 'task 39'");
  check(L, "math.type(r.recinfos[1].status) == 'integer' and r.recinfos[1].status == 2");
  check(L, "r.recinfos[1].status_name == 'Recording'");
  check(L, "math.type(r.recinfos[1].pid) == 'integer' and r.recinfos[1].pid == 15045");
  check(L, "r.recinfos[1].channel == 'crIUxmwHA2' and r.recinfos[1].files == ''");
  /* "2021-11-18 14:56:43" read as UTC+8 (the sample's zone) */
  check(L, "r.recinfos[1].created_ts == 1637218603 and math.type(r.recinfos[1].created_ts) == 'integer'");
  check(L, "r.recinfos[1].updated_ts == 1637218603");
  check(L, "getmetatable(r.recinfos) ~= nil");  /* marked as a JSON array */
}

/* created/updated go to created_ts/updated_ts in the configured zone; odd ones are skipped. */
static void test_qingcloud_times(void **state) {
  lua_State *L = *state;
  long long t;
  assert_true(lnorm_parse_local_time("1970-01-01 08:00:00", 8 * 3600, &t));
  assert_true(t == 0);
  assert_true(lnorm_parse_local_time("2021-11-18 14:56:43", 0, &t));
  assert_true(t == 1637247403);
  assert_true(lnorm_parse_local_time("2024-02-29 23:59:59", -3600, &t));
  assert_true(t == 1709254799);
  assert_false(lnorm_parse_local_time("2021-11-18T14:56:43", 0, &t));
  assert_false(lnorm_parse_local_time("2021-11-18 14:56:43Z", 0, &t));
  assert_false(lnorm_parse_local_time("2021-13-18 14:56:43", 0, &t));
  assert_false(lnorm_parse_local_time("", 0, &t));
  lua_pushinteger(L, 0);
  lua_setfield(L, LUA_REGISTRYINDEX, LNORM_QC_OFFSET_KEY);
  assert_int_equal(luaL_dostring(L, "return {code='success', total_count=2, recinfos={"
                                    "{id=1, status=2, created='2021-11-18 14:56:43', updated='x'},"
                                    "{id=2, status=2, created_ts=5}}}"), LUA_OK);
  qc_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.recinfos[1].created_ts == 1637247403 and r.recinfos[1].updated_ts == nil");
  check(L, "r.recinfos[2].created_ts == nil");  /* ours to set, never taken from the reply */
}

/* Issue 9's examples: each used to reach the script with the wrong type. */
static void test_contract_breaches(void **state) {
  lua_State *L = *state;
  unreadable(L, "{\"code\":\"success\",\"total_count\":4,\"recinfos\":[1,2,null,true]}", 1,
             "the entry is a number (1), the documented type is an object");
  unreadable(L, "{\"code\":\"success\",\"total_count\":4,\"recinfos\":[1,2,null,true]}", 3,
             "the entry is null, the documented type is an object");
  rejected(L, 0, "{\"code\":\"success\",\"total_count\":\"abc\",\"recinfos\":[]}",
           "total_count is a string (\"abc\")");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":{},\"status\":2}]}", 1,
             "id is an object");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":\"1\\r\\nX: y\","
             "\"status\":2}]}", 1, "id is a string (\"1  X: y\")");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":1,\"status\":{}}]}", 1,
             "status is an object, the documented type is an integer");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":1,\"status\":\"Recording\"}]}", 1,
             "status is a string (\"Recording\")");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":1,\"status\":2.5}]}", 1,
             "status is a number (2.5)");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":1}]}", 1,
             "status is missing");
  unreadable(L, "{\"code\":\"success\",\"total_count\":2,\"recinfos\":[{\"id\":1,\"status\":2},"
             "{\"id\":2,\"status\":\"5x\"}]}", 2, "status is a string (\"5x\")");
  rejected(L, 0, "{\"code\":\"success\",\"recinfos\":[]}", "total_count is missing");
  rejected(L, 0, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":{\"a\":1}}",
           "recinfos is an object, the documented type is an array");
  unreadable(L, "{\"code\":\"success\",\"total_count\":1,\"recinfos\":[{\"id\":1,\"status\":2,"
             "\"pid\":true}]}", 1, "pid is a boolean (true)");
  rejected(L, 1, "{\"serverResponse\":{\"status\":\"five\"}}",
           "serverResponse.status is a string (\"five\"), the documented type is an integer");
  rejected(L, 1, "{\"serverResponse\":{\"status\":{}}}", "serverResponse.status is an object");
  rejected(L, 1, "{\"serverResponse\":[1]}", "serverResponse is an array");
  rejected(L, 1, "{\"serverResponse\":{\"status\":5,\"fileList\":[{\"isPlayable\":3}]}}",
           "serverResponse.fileList[1].isPlayable is a number (3), the documented type is a boolean");
  rejected(L, 1, "{\"serverResponse\":{\"fileList\":7}}", "serverResponse.fileList is a number");
  rejected(L, 1, "{\"serverResponse\":{\"extensionServiceState\":[{\"payload\":{\"videoInfo\":"
           "[{\"videoId\":5}]}}]}}",
           "serverResponse.extensionServiceState[1].payload.videoInfo[1].videoId is a number");
  rejected(L, 1, "{\"code\":\"x\",\"serverResponse\":{}}", "code is a string (\"x\")");
  rejected(L, 1, "{\"serverResponse\":{\"subServiceStatus\":\"ok\"}}", "subServiceStatus is a string");
  /* undocumented extra fields pass through, whatever their type */
  assert_int_equal(luaL_dostring(L, "return {code='success', total_count=1, extra={1,2}, "
                                    "recinfos={{id=1, status=2, newfield={a=1}}}}"), LUA_OK);
  qc_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.extra[2] == 2 and r.recinfos[1].newfield.a == 1");
}

static void test_qingcloud_strings_and_null(void **state) {
  lua_State *L = *state;
  push_fixture(L, "qc_200_string_numbers.json");
  qc_ok(L);
  lua_pop(L, 1);
  check(L, "r.total_count == 2 and math.type(r.total_count) == 'integer'");
  check(L, "math.type(r.offset) == 'integer' and r.limit == 20");
  check(L, "r.recinfos[1].id == 40 and math.type(r.recinfos[1].id) == 'integer'");
  check(L, "r.recinfos[1].status == 52 and r.recinfos[1].status_name == 'PushToQingstorFailed'");
  check(L, "r.recinfos[1].size == 1048576 and r.recinfos[1].is_mix == 0");
  check(L, "r.recinfos[1].created == '2021-11-18 15:00:00'");
  check(L, "r.recinfos[2].pid == 15047");
  check(L, "r.recinfos[2].status == 99 and r.recinfos[2].status_name == nil");
  push_fixture(L, "qc_200_null_recinfos.json");
  qc_ok(L);
  lua_pop(L, 1);
  check(L, "type(r.recinfos) == 'table' and next(r.recinfos) == nil");
  check(L, "getmetatable(r.recinfos) ~= nil");  /* null reads as an empty, marked array */
  push_fixture(L, "qc_200_empty.json");
  qc_ok(L);
  lua_pop(L, 1);
  check(L, "type(r.recinfos) == 'table' and #r.recinfos == 0 and r.total_count == 0");
}

/* Issue 20 item 4: the document types pid, size and is_mix as String. A string that is not
 * decimal ("", "1.5M") passes through as that string and fails nothing; a decimal one is
 * still an integer. */
static void test_qingcloud_odd_strings(void **state) {
  lua_State *L = *state;
  push_fixture(L, "qc_200_odd_strings.json");
  qc_ok(L);
  lua_pop(L, 1);
  check(L, "#r.recinfos == 2 and r.recinfos[1].status == 52");
  check(L, "r.recinfos[1].status_name == 'PushToQingstorFailed' and r.recinfos[1].unreadable == nil");
  check(L, "r.recinfos[1].pid == '' and r.recinfos[1].size == '1.5M' and r.recinfos[1].is_mix == 'mixed'");
  check(L, "r.recinfos[2].id == 61 and math.type(r.recinfos[2].pid) == 'integer' and r.recinfos[2].pid == 15047");
  check(L, "r.recinfos[2].status == 2 and r.recinfos[2].size == 0 and math.type(r.recinfos[2].size) == 'integer'");
}

/* Issue 20 item 4: a task that cannot be read (status not an integer or a decimal string, a
 * field of a type no coercion allows, no id, an entry that is not an object) is unreadable on
 * its own: it keeps what could be read, loses the fields in the way, and says why in
 * `unreadable`; the page is read, so the status-52 task beside it is seen. */
static double unreadable_count(const char *field) {
  static const char *const labels[2] = {"provider", "field"};
  const char *values[2] = {"qingcloud", field};
  char err[160];
  metric_t *m = metrics_register(METRIC_COUNTER, "recwatch_unreadable_tasks_total",
                                 "Tasks in provider replies that could not be read, by the first "
                                 "field in the way (the rest of the reply was used).",
                                 2, labels, NULL, 0, err, sizeof err);
  if (!m) fail_msg("%s", err);
  return metrics_get(m, values);
}

static void test_qingcloud_unreadable_task(void **state) {
  lua_State *L = *state;
  double st = unreadable_count("status"), pid = unreadable_count("pid");
  double entry = unreadable_count("entry"), id = unreadable_count("id");
  push_fixture(L, "qc_200_unreadable_task.json");
  qc_ok(L);
  lua_pop(L, 1);
  /* the metric: one per unreadable task, by its first field in the way */
  assert_true(unreadable_count("status") == st + 1 && unreadable_count("pid") == pid + 1);
  assert_true(unreadable_count("entry") == entry + 1 && unreadable_count("id") == id + 1);
  assert_true(unreadable_count("size") == 0);
  check(L, "#r.recinfos == 5 and getmetatable(r.recinfos) ~= nil and r.total_count == 5");
  /* 1: status is a word: unreadable, status left out, the rest kept */
  check(L, "r.recinfos[1].id == 70 and r.recinfos[1].status == nil and r.recinfos[1].status_name == nil");
  check(L, "r.recinfos[1].pid == '' and r.recinfos[1].size == '1.5M' and r.recinfos[1].channel == 'crIUxmwHA2'");
  check(L, "r.recinfos[1].unreadable == 'status is a string (\"Recording\"), the documented type is an integer'");
  /* 2: its status reads (52); pid and size are in the way and left out */
  check(L, "r.recinfos[2].id == 71 and r.recinfos[2].status == 52 and r.recinfos[2].status_name == 'PushToQingstorFailed'");
  check(L, "r.recinfos[2].pid == nil and r.recinfos[2].size == nil");
  check(L, "r.recinfos[2].unreadable == 'pid is an object, the documented type is an integer; "
           "size is a number (2.5), the documented type is an integer'");
  /* 3: a readable task beside them */
  check(L, "r.recinfos[3].id == 72 and r.recinfos[3].status == 52 and r.recinfos[3].unreadable == nil");
  /* 4: not an object: a table that only says why */
  check(L, "type(r.recinfos[4]) == 'table' and r.recinfos[4].id == nil and r.recinfos[4].status == nil");
  check(L, "r.recinfos[4].unreadable == 'the entry is a number (7), the documented type is an object'");
  /* 5: no id */
  check(L, "r.recinfos[5].id == nil and r.recinfos[5].status == 2 and r.recinfos[5].unreadable == 'id is missing, the documented type is an integer'");
  /* a server cannot send the marker itself */
  assert_int_equal(luaL_dostring(L, "return {code='success', total_count=1, recinfos={"
                                    "{id=1, status=2, unreadable='forged'}}}"), LUA_OK);
  qc_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.recinfos[1].unreadable == nil and r.recinfos[1].status == 2");
}

static void test_agora_json_filelists(void **state) {
  lua_State *L = *state;
  push_fixture(L, "agora_200_individual_json.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "math.type(r.status) == 'integer' and r.status == 5");
  check(L, "r.status_name == 'in_progress'");
  check(L, "math.type(r.serverResponse.status) == 'integer'");
  check(L, "math.type(r.serverResponse.sliceStartTime) == 'integer'");
  check(L, "r.serverResponse.sliceStartTime == 1562724971626");
  check(L, "#r.serverResponse.fileList == 2");
  check(L, "r.serverResponse.fileList[1].uid == '123'");
  check(L, "r.serverResponse.fileList[2].uid == '456'");
  check(L, "r.serverResponse.fileList[1].isPlayable == true");
  check(L, "r.serverResponse.fileList[1].mixedAllUser == false");
  check(L, "math.type(r.serverResponse.fileList[2].sliceStartTime) == 'integer'");
  push_fixture(L, "agora_200_mix_json.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.status == 5 and r.serverResponse.fileList[1].uid == '0'");
  check(L, "r.serverResponse.fileList[2].isPlayable == false");
  check(L, "r.serverResponse.fileList[2].mixedAllUser == true");
}

static void test_agora_string_filelist(void **state) {
  lua_State *L = *state;
  push_fixture(L, "agora_200_mix_string.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.serverResponse.fileListMode == 'string'");
  check(L, "r.serverResponse.fileList == 'xxx.m3u8'");
  check(L, "r.status == 4 and r.status_name == 'all_started'");
}

static void test_agora_web(void **state) {
  lua_State *L = *state;
  push_fixture(L, "agora_200_web.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.status == 4 and math.type(r.status) == 'integer'");
  check(L, "r.serverResponse.extensionServiceState[1].payload.onhold == false");
  check(L, "type(r.serverResponse.extensionServiceState[1].payload.fileList) == 'table'");
  push_fixture(L, "agora_200_web_rtmp.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.status_name == 'all_started'");
  check(L, "math.type(r.serverResponse.extensionServiceState[1].payload.fileList[1]"
           ".sliceStartTime) == 'integer'");
  check(L, "r.serverResponse.extensionServiceState[2].serviceName == 'rtmp_publish_service'");
  check(L, "r.serverResponse.extensionServiceState[2].payload.outputs[1].status == 'publishing'");
}

/* The top-level code, subServiceStatus and an Aliyun VOD extension (the Agora document's
 * fields, assembled into one reply). */
static void test_agora_vod(void **state) {
  lua_State *L = *state;
  push_fixture(L, "agora_200_mix_vod.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.code == 0 and math.type(r.code) == 'integer' and r.status == 5");
  check(L, "r.serverResponse.subServiceStatus.recordingService == 'serviceReady'");
  check(L, "r.serverResponse.fileList == 'xxx.m3u8'");
  check(L, "r.serverResponse.extensionServiceState[1].serviceName == 'aliyun_vod_service'");
  check(L, "r.serverResponse.extensionServiceState[1].payload.videoInfo[1].videoId =="
           " '4ca35c9d2b2c4d1a9c3f0e1f2a3b4c5d'");
  check(L, "getmetatable(r.serverResponse.extensionServiceState[1].payload.videoInfo) ~= nil");
}

static void test_agora_old_strings(void **state) {
  lua_State *L = *state;
  push_fixture(L, "agora_200_old_strings.json");
  agora_ok(L);
  lua_pop(L, 1);
  check(L, "r.status == 20 and math.type(r.status) == 'integer'");
  check(L, "r.status_name == 'exited_abnormally'");
  check(L, "r.code == 0 and math.type(r.code) == 'integer'");
  check(L, "r.serverResponse.status == 20");
  check(L, "r.serverResponse.sliceStartTime == 1562724971626");
  check(L, "math.type(r.serverResponse.sliceStartTime) == 'integer'");
  check(L, "r.serverResponse.fileList[1].isPlayable == true");
  check(L, "r.serverResponse.fileList[1].mixedAllUser == true");
  check(L, "r.serverResponse.fileList[2].isPlayable == false");
  check(L, "r.serverResponse.fileList[2].mixedAllUser == false");
  check(L, "r.serverResponse.fileList[2].sliceStartTime == 1562724971627");
  check(L, "r.serverResponse.fileList[1].uid == '123'");
  check(L, "r.serverResponse.fileList[2].uid == '456'");  /* a number uid becomes a string */
  check(L, "r.serverResponse.extensionServiceState[1].payload.onhold == true");
  check(L, "r.serverResponse.extensionServiceState[1].payload.fileList[1].sliceStartTime"
           " == 1562724971628");
  check(L, "r.serverResponse.fileList[1].fileName == 'xxx.m3u8'");
}

static void test_agora_missing_fields(void **state) {
  lua_State *L = *state;
  int top = lua_gettop(L);
  rec_err e;
  push_fixture(L, "agora_200_missing_fields.json");
  assert_int_equal(lnorm_agora(L, -1, 200, &e), -1);  /* fileListMode 7 */
  assert_int_equal(e.kind, REC_E_PROTOCOL);
  assert_non_null(strstr(e.message, "serverResponse.fileListMode is a number (7)"));
  lua_pop(L, 1);
  assert_int_equal(lua_gettop(L), top);
  /* optional nulls read as absent: no status, no fileList */
  {
    static const char nulls[] = "{\"serverResponse\":{\"fileList\":null,\"status\":null}}";
    assert_int_equal(lnorm_decode(L, nulls, sizeof nulls - 1), 1);
  }
  agora_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.status == nil and r.status_name == nil and r.serverResponse.fileList == nil");
  assert_int_equal(lua_gettop(L), top);
}

static void test_odd_shapes_do_not_raise(void **state) {
  lua_State *L = *state;
  static const char *const odd[] = {
    "return {serverResponse='x'}",
    "return {serverResponse={status='abc', fileList={1, true, 'x', {uid=1.5, isPlayable=3}}}}",
    "return {serverResponse={status=1e300, extensionServiceState={5, {payload=5}, "
    "{payload={fileList='s', onhold='maybe'}}}}}",
    "return {serverResponse={status='99999999999999999999999'}}",
    "return {recinfos={1, 'x', {status='abc', id={}}, {status=-1}}, total_count='1e3'}",
    "return {recinfos='nope', offset=true}",
    "return setmetatable({}, {__index=function() error('boom') end, "
    "__newindex=function() error('boom') end})",
    "return {serverResponse=setmetatable({status=5}, {__newindex=function() error('x') end})}",
  };
  size_t i;
  int top = lua_gettop(L);
  reply_facts f;
  rec_err e;
  for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    assert_int_equal(luaL_dostring(L, odd[i]), LUA_OK);
    lnorm_facts(L, -1, &f);
    assert_int_equal(lnorm_qingcloud(L, -1, 200, &e), -1);
    assert_int_equal(e.kind, REC_E_PROTOCOL);
    (void)lnorm_agora(L, -1, 200, &e);
    lnorm_integers(L, -1);
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), top);
  }
  assert_int_equal(luaL_dostring(L, "local t = {serverResponse={status=5}} return t"), LUA_OK);
  agora_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.status == 5 and r.status_name == 'in_progress'");
  assert_int_equal(luaL_dostring(L, "return {code='success', total_count=1, recinfos={{id=1, status=2}}}"), LUA_OK);
  qc_ok(L);
  lua_setglobal(L, "r");
  check(L, "r.recinfos[1].status_name == 'Recording'");
  assert_int_equal(lnorm_qingcloud(L, lua_gettop(L) + 1, 200, &e), -1);  /* none: rejected */
  assert_int_equal(lnorm_agora(L, lua_gettop(L) + 1, 200, &e), -1);
  assert_int_equal(lua_gettop(L), top);
}

static void test_integers_cycles(void **state) {
  lua_State *L = *state;
  int top = lua_gettop(L);
  assert_int_equal(luaL_dostring(L, "local t = {1.0, 2.5} "
                                    "for i = 1, 40 do t[#t + 1] = t end "
                                    "t.self = {t, t, x = 3.0} return t"), LUA_OK);
  lnorm_integers(L, -1);
  lua_setglobal(L, "r");
  check(L, "math.type(r[1]) == 'integer' and math.type(r[2]) == 'float'");
  check(L, "math.type(r.self.x) == 'integer'");
  lua_pushnumber(L, 7.0);
  lnorm_integers(L, -1);
  assert_true(lua_isinteger(L, -1));
  lua_pop(L, 1);
  assert_int_equal(lua_gettop(L), top);
}

static void test_garbage_never_crashes(void **state) {
  lua_State *L = *state;
  static const char alphabet[] = "[]{}\",:0123456789.-eE truefalsnul\\u00ab\x01\xff";
  unsigned long seed = 12345;
  char buf[256];
  int iter, top = lua_gettop(L), decoded = 0;
  reply_facts f;
  for (iter = 0; iter < 20000; iter++) {
    size_t n, i;
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    n = (size_t)(seed >> 33) % sizeof buf;
    for (i = 0; i < n; i++) {
      seed = seed * 6364136223846793005UL + 1442695040888963407UL;
      buf[i] = (iter & 1) ? (char)(seed >> 56)
                          : alphabet[(seed >> 40) % (sizeof alphabet - 1)];
    }
    if (lnorm_decode(L, buf, n)) {
      decoded++;
      rec_err e;
      lnorm_facts(L, -1, &f);
      (void)lnorm_qingcloud(L, -1, 200, &e);
      (void)lnorm_agora(L, -1, 200, &e);
      lua_pop(L, 1);
    }
    assert_int_equal(lua_gettop(L), top);
  }
  assert_true(decoded > 0);  /* some random inputs are valid JSON (e.g. numbers) */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_decode_whole_numbers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_decode_scalars_and_failures, setup, teardown),
    cmocka_unit_test_setup_teardown(test_decode_deep_nesting, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cjson_instance_cached, setup, teardown),
    cmocka_unit_test_setup_teardown(test_facts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_facts_odd_values, setup, teardown),
    cmocka_unit_test_setup_teardown(test_qingcloud_success, setup, teardown),
    cmocka_unit_test_setup_teardown(test_qingcloud_strings_and_null, setup, teardown),
    cmocka_unit_test_setup_teardown(test_qingcloud_times, setup, teardown),
    cmocka_unit_test_setup_teardown(test_qingcloud_odd_strings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_qingcloud_unreadable_task, setup, teardown),
    cmocka_unit_test_setup_teardown(test_contract_breaches, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_json_filelists, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_string_filelist, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_web, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_vod, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_old_strings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_agora_missing_fields, setup, teardown),
    cmocka_unit_test_setup_teardown(test_odd_shapes_do_not_raise, setup, teardown),
    cmocka_unit_test_setup_teardown(test_integers_cycles, setup, teardown),
    cmocka_unit_test_setup_teardown(test_garbage_never_crashes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
