/* The call layer's fence (issue 24): with a check installed (fence_set, as a store with
 * leases does), every attempt of a provider call, first and retries, asks it for the unit of
 * the credential used ("agora:<customer id>"); a refusal is the typed error `fenced` with
 * nothing sent, a deadline caps the attempt's timeout, and less than 0.2 s left refuses too.
 * A fleet member names itself in User-Agent. Runs a script against the in-process simulator
 * (real clock), with a made-up check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lua.h>
#include "engine.h"
#include "fence.h"
#include "rtest.h"
#include "setup.h"
#include "sim/sim.h"

/* ---- the made-up check: a policy per unit, and what it was asked ---- */

static struct {
  int ok, no, short_, flip, leave, other;  /* checks per unit */
  char last_unit[128];
} asked;

static int fake_check(void *arg, const char *unit, double *until, char *why, size_t whyn) {
  (void)arg;
  snprintf(asked.last_unit, sizeof asked.last_unit, "%s", unit);
  if (!strcmp(unit, "agora:fence-no")) {
    asked.no++;
    snprintf(why, whyn, "not held by this member");
    return 0;
  }
  if (!strcmp(unit, "agora:fence-ok")) {  /* held: 2 s left for anything started now */
    asked.ok++;
    *until = fence_now() + 2.0;
    return 1;
  }
  if (!strcmp(unit, "agora:fence-short")) {  /* held, 0.1 s to D: too little */
    asked.short_++;
    *until = fence_now() + 0.1;
    return 1;
  }
  if (!strcmp(unit, "agora:fence-flip")) {  /* held for the first attempt only (3 checks) */
    if (++asked.flip > 3) {
      snprintf(why, whyn, "past D");
      return 0;
    }
    return 1;
  }
  if (!strcmp(unit, "agora:fence-leave")) {  /* released while the request waited to leave */
    if (++asked.leave > 2) {
      snprintf(why, whyn, "released at departure");
      return 0;
    }
    return 1;
  }
  asked.other++;
  return 1;
}

static const char scenario[] =
    "return {\n"
    "  agora = { customer_id = 'fence-ok', customer_secret = 'fence-ok-secret', rate_limit = 0,\n"
    "            customers = { { customer_id = 'fence-no', customer_secret = 'fence-no-secret' },\n"
    "                          { customer_id = 'fence-short', customer_secret = 'fence-short-s' },\n"
    "                          { customer_id = 'fence-flip', customer_secret = 'fence-flip-s' },\n"
    "                          { customer_id = 'fence-leave', customer_secret = 'fence-leave-s' },\n"
    "                          { customer_id = 'fence-free', customer_secret = 'fence-free-s' } } },\n"
    "  agora_recordings = {\n"
    "    { appid = 'fa', resourceid = 'fr', sid = 'fast', mode = 'mix', status = 5 },\n"
    "    { appid = 'fa', resourceid = 'fr', sid = 'slow', mode = 'mix', status = 5 },\n"
    "    { appid = 'fa', resourceid = 'fr', sid = 'once504', mode = 'mix', status = 5 } },\n"
    "  faults = { { provider = 'agora', kind = 'delay', ms = 8000, match = '/sid/slow/' },\n"
    "             { provider = 'agora', kind = 'agora_504', match = '/sid/once504/', times = 1 } },\n"
    "}\n";

static const char script[] =
    "local function q(sid, account, extra)\n"
    "  local p = { appid = 'fa', resourceid = 'fr', sid = sid, mode = 'mix', account = account }\n"
    "  for k, v in pairs(extra or {}) do p[k] = v end\n"
    "  return rec.query_agora(p)\n"
    "end\n"
    /* refused: typed, not retryable, nothing sent */
    "local res, err = q('fast', 'fence-no')\n"
    "assert(not res and err.kind == 'fenced', tostring(err))\n"
    "assert(err.retryable == false and err.attempts == 0, tostring(err))\n"
    "assert(err.message:find('not held by this member', 1, true), err.message)\n"
    "res, err = rec.agora.stop{ appid = 'fa', cname = 'c', uid = '1', resourceid = 'fr', sid = 's',\n"
    "                           mode = 'mix', account = 'fence-no' }\n"
    "assert(not res and err.kind == 'fenced', 'a control call is fenced too: ' .. tostring(err))\n"
    /* held with 2 s left: a fast reply is fine; a slow one ends at the cap, not at 10 s */
    "assert(q('fast', 'fence-ok'))\n"
    "assert(q('fast'))  -- the default credential is the unit agora:fence-ok too\n"
    "local t0 = rec.now()\n"
    "res, err = q('slow', 'fence-ok', { retries = 0 })\n"
    "local took = rec.now() - t0\n"
    "assert(not res and err.kind == 'timeout', 'the cap did not end the attempt: ' .. tostring(err))\n"
    "assert(took >= 1.6 and took < 7, ('capped attempt took %.2f s'):format(took))\n"
    "print(('capped attempt: %.2f s'):format(took))\n"
    /* less than 0.2 s left */
    "res, err = q('fast', 'fence-short')\n"
    "assert(not res and err.kind == 'fenced' and err.message:find('left', 1, true), tostring(err))\n"
    /* a retry asks again: the first attempt (504) was allowed, the retry is refused */
    "res, err = q('once504', 'fence-flip', { retries = 2, retry_delays = { 0.05 } })\n"
    "assert(not res and err.kind == 'fenced' and err.attempts == 1, tostring(err))\n"
    "assert(err.message:find('past D', 1, true), err.message)\n"
    /* checked at the real departure (libcurl about to send), after the pacing slot and
     * send_attempt: a unit released meanwhile sends nothing */
    "res, err = q('fast', 'fence-leave', { retries = 2, retry_delays = { 0.05 } })\n"
    "assert(not res and err.kind == 'fenced' and err.retryable == false, tostring(err))\n"
    "assert(err.message:find('released at departure', 1, true), err.message)\n"
    "assert(q('fast', 'fence-free'))\n"
    /* a member of a fleet names itself in User-Agent: the simulator's log shows it */
    "local r = assert(rec.http{ url = rec.sim.base_url .. '/_sim/requests' })\n"
    "local rows, n = rec.json.decode(r.body), 0\n"
    "assert(type(MEMBER) == 'string' and #MEMBER > 0)\n"
    "for _, e in ipairs(rows) do\n"
    "  assert(e.member == MEMBER, tostring(e.member) .. ' ~= ' .. MEMBER)\n"
    "  assert(e.account ~= 'fence-no' and e.account ~= 'fence-short' and e.account ~= 'fence-leave', e.account)\n"
    "  n = n + 1\n"
    "end\n"
    "assert(n == 4, n .. ' requests answered')\n"
    "print('fence ok')\n";

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  fclose(f);
}

static void count_log(const char *path, const char *needle, int *n) {
  char line[4096];
  FILE *f = fopen(path, "r");
  *n = 0;
  if (!f) return;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle)) (*n)++;
  fclose(f);
}

static void test_fence_refuses_and_caps(void **state) {
  char dir[] = "/tmp/callfenceXXXXXX", sc[256], lua[256], log[256], err[512];
  setup_options so;
  sim_options sopt;
  engine_t *e;
  sim_t *sim;
  int status, n;
  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(sc, sizeof sc, "%s/scenario.lua", dir);
  snprintf(lua, sizeof lua, "%s/main.lua", dir);
  snprintf(log, sizeof log, "%s/requests.log", dir);
  write_file(sc, scenario);
  write_file(lua, script);
  memset(&so, 0, sizeof so);
  e = setup_engine(&so, err, sizeof err);
  assert_non_null(e);
  memset(&sopt, 0, sizeof sopt);
  sopt.scenario_path = sc;
  sopt.embedded = 1;
  sopt.clock = engine_clock(e);
  sopt.log_requests_path = log;
  sim = sim_start(engine_loop(e), &sopt, err, sizeof err);
  assert_non_null(sim);
  rtest_attach_sim(e, sim);
  fence_set(fake_check, NULL);
  assert_int_equal(fence_active(), 1);
  lua_pushstring(engine_lua(e), fence_member());  /* host:pid: RECWATCH_MEMBER is not set */
  lua_setglobal(engine_lua(e), "MEMBER");
  assert_int_equal(engine_load_main(e, lua, NULL, 0, NULL, err, sizeof err), 0);
  status = engine_run(e);
  fence_set(NULL, NULL);
  sim_free(sim);
  engine_free(e);
  assert_int_equal(status, 0);
  /* fence-no: asked once per call (before the pacer), never past it; nothing reached the
   * simulator for it (a request of fence-no would have its customer's credential) */
  assert_int_equal(asked.no, 2);
  assert_int_equal(asked.short_, 1);
  assert_int_equal(asked.flip, 4);  /* attempt 1: before the pacer, at send and at departure; retry: refused */
  assert_int_equal(asked.leave, 3); /* allowed at the slot and at send, refused at departure: not retried */
  assert_true(asked.ok >= 6);
  assert_true(asked.other >= 2);   /* fence-free: its two checks */
  count_log(log, "\"status\":504", &n);
  assert_int_equal(n, 1);          /* the flip's one attempt that was sent */
  count_log(log, "/sid/", &n);
  /* ok fast x2, flip's 504, free fast; the slow one, given up at the cap, was never answered
   * (the simulator logs a request when it answers): nothing of fence-no or fence-short */
  assert_int_equal(n, 4);
  unlink(sc);
  unlink(lua);
  unlink(log);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fence_refuses_and_caps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
