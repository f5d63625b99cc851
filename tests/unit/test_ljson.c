/* Unit tests for ljson (rec.json.encode): marked arrays stay arrays, '/' and integers are
 * written plainly, and on every other value the output (or the error) is lua-cjson's,
 * checked on 20000 random values against the cjson module itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include "lua-cjson.h"
#include "ljson.h"
#include "lnorm.h"

static int setup(void **state) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, ljson_encode);
  lua_setglobal(L, "enc");
  lua_pushcfunction(L, ljson_array);
  lua_setglobal(L, "array");
  assert_int_equal(lnorm_cjson(L), 1);
  lua_setglobal(L, "cjson");
  *state = L;
  return 0;
}

static int teardown(void **state) {
  lua_close(*state);
  return 0;
}

static void run(lua_State *L, const char *chunk) {
  if (luaL_dostring(L, chunk) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
}

static void test_arrays_stay_arrays(void **state) {
  lua_State *L = *state;
  run(L, "assert(enc(array()) == '[]')");
  run(L, "assert(enc({a = array(), b = {}}) == '{\"a\":[],\"b\":{}}' or "
         "enc({a = array(), b = {}}) == '{\"b\":{},\"a\":[]}')");
  run(L, "assert(enc(array({1, 2})) == '[1,2]')");
  run(L, "assert(cjson.encode(array()) == '{}')");  /* what the old path printed */
  /* replies: decoded, normalised, encoded: "recinfos":[] */
  {
    static const char body[] = "{\"code\":\"success\",\"total_count\":0,\"recinfos\":[]}";
    rec_err e;
    assert_int_equal(lnorm_decode(L, body, sizeof body - 1), 1);
    assert_int_equal(lnorm_qingcloud(L, -1, 200, &e), 0);
    lua_setglobal(L, "r");
    run(L, "assert(enc(r.recinfos) == '[]', enc(r.recinfos))");
    run(L, "assert(cjson.decode(enc(r)).recinfos ~= nil and enc(r):find('\"recinfos\":%[%]'))");
  }
  {
    static const char body[] = "{\"serverResponse\":{\"status\":4,\"extensionServiceState\":"
                               "[{\"payload\":{\"fileList\":[],\"onhold\":false},"
                               "\"serviceName\":\"web_recorder_service\"}]}}";
    rec_err e;
    assert_int_equal(lnorm_decode(L, body, sizeof body - 1), 1);
    assert_int_equal(lnorm_agora(L, -1, 200, &e), 0);
    lua_setglobal(L, "r");
    run(L, "assert(enc(r.serverResponse.extensionServiceState[1].payload.fileList) == '[]')");
  }
}

static void test_deliberate_differences(void **state) {
  lua_State *L = *state;
  run(L, "assert(enc('a/b') == '\"a/b\"' and cjson.encode('a/b') == '\"a\\\\/b\"')");
  run(L, "assert(enc(math.maxinteger) == '9223372036854775807')");
  run(L, "assert(enc(1562724971626) == '1562724971626')");
  run(L, "assert(enc(123456789012345678) == '123456789012345678')");
  run(L, "assert(enc(0.1) == '0.1' and enc(-0.0) == '-0' and enc(1e300) == '1e+300')");
  run(L, "assert(enc(cjson.null) == 'null' and enc({1, nil, 3}) == '[1,null,3]')");
  run(L, "assert(not pcall(enc, 0/0) and not pcall(enc, math.huge))");
  run(L, "assert(select(2, pcall(enc, {[1] = 1, [20] = 2})):find('excessively sparse'))");
  run(L, "local t = {} t.t = t assert(select(2, pcall(enc, t)) == "
         "'Cannot serialise, excessive nesting (1001)')");
  run(L, "assert(select(2, pcall(enc, print)) == 'Cannot serialise function: type not supported')");
  run(L, "assert(enc('\\0\\1\\31\\127\\128') == '\"\\\\u0000\\\\u0001\\\\u001f\\\\u007f\\128\"')");
}

/* Random values (no '/', integers below 1e14): enc and cjson.encode agree exactly, or both
 * raise the same message. Deterministic seed. */
static const char fuzz_lua[] =
  "math.randomseed(20261129)\n"
  "local R = math.random\n"
  "local function str()\n"
  "  local t = {}\n"
  "  for i = 1, R(0, 12) do\n"
  "    local c = R(0, 255)\n"
  "    if c == 47 then c = 46 end\n"
  "    t[i] = string.char(c)\n"
  "  end\n"
  "  return table.concat(t)\n"
  "end\n"
  "local gen\n"
  "local function scalar()\n"
  "  local k = R(1, 12)\n"
  "  if k == 1 then return R(0, 1) == 1\n"
  "  elseif k == 2 then return cjson.null\n"
  "  elseif k == 3 then return R(-1000, 1000)\n"
  "  elseif k == 4 then return R(-99999999999999, 99999999999999)\n"
  "  elseif k == 5 then return (R() - 0.5) * 10 ^ R(-20, 300)\n"
  "  elseif k == 6 then return R(-100, 100) + 0.0\n"
  "  elseif k == 7 then local f = ({ 0/0, math.huge, -math.huge, print })[R(1, 4)]\n"
  "    if R(1, 10) == 1 then return f end return 0.5\n"
  "  else return str() end\n"
  "end\n"
  "function gen(depth)\n"
  "  if depth > 3 or R(1, 3) == 1 then return scalar() end\n"
  "  local k, t = R(1, 6), {}\n"
  "  if k == 1 then for i = 1, R(0, 6) do t[i] = gen(depth + 1) end\n"
  "  elseif k == 2 then for i = 1, R(0, 6) do t[str()] = gen(depth + 1) end\n"
  "  elseif k == 3 then for i = 1, R(0, 4) do t[R(-2, 25)] = gen(depth + 1) end\n"
  "  elseif k == 4 then t[R(1, 3) + 0.5] = gen(depth + 1) t.x = 1\n"
  "  elseif k == 5 then t[1] = gen(depth + 1) t[str()] = gen(depth + 1)\n"
  "    if R(1, 20) == 1 then t[true] = 1 end\n"
  "  end\n"
  "  return t\n"
  "end\n"
  "local same, errors = 0, 0\n"
  "for i = 1, 20000 do\n"
  "  local v = gen(0)\n"
  "  local ok1, a = pcall(enc, v)\n"
  "  local ok2, b = pcall(cjson.encode, v)\n"
  "  if ok1 ~= ok2 or a ~= b then\n"
  "    error(('value %d: enc %s %q, cjson %s %q'):format(i, ok1, tostring(a), ok2, tostring(b)))\n"
  "  end\n"
  "  if ok1 then same = same + 1 else errors = errors + 1 end\n"
  "end\n"
  "assert(same > 10000 and errors > 100, same .. ' ' .. errors)\n";

static void test_fuzz_against_cjson(void **state) {
  run(*state, fuzz_lua);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_arrays_stay_arrays, setup, teardown),
    cmocka_unit_test_setup_teardown(test_deliberate_differences, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fuzz_against_cjson, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
