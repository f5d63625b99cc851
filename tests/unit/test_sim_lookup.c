/* test_sim_lookup: the simulator finds the Agora recording a query names with one hash
 * lookup: about one slot looked at per query with 1,000 recordings and with 50,000 (a scan
 * compares half of them), the first of duplicates as before, nothing for a key that differs
 * in any of appid, resourceid, sid or mode. A QingCloud channel's tasks are chained in
 * scenario order behind one lookup, so a listing walks that channel's tasks only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sim/sim_int.h"

static sim_scenario *fleet(int n) {
  char text[512], err[256];
  sim_scenario *sc;
  snprintf(text, sizeof text,
           "local r = {}\n"
           "for i = 1, %d do r[i] = { appid = 'app', resourceid = 'res-' .. i, sid = 'sid-' .. i,\n"
           "  mode = 'mix', status = 5 } end\n"
           "r[#r + 1] = { appid = 'app', resourceid = 'res-1', sid = 'sid-1', mode = 'mix', status = 4 }\n"
           "return { agora_recordings = r }\n", n);
  sc = sim_scenario_load_buffer(text, strlen(text), 1637218603, err, sizeof err);
  if (!sc) fail_msg("scenario: %s", err);
  return sc;
}

static sim_ag_rec *find(sim_scenario *sc, const char *app, const char *rid, const char *sid,
                        const char *mode) {
  return sim_rec_find(sc, app, strlen(app), rid, strlen(rid), sid, strlen(sid), mode,
                      strlen(mode));
}

static void test_flat(void **state) {
  int sizes[2] = {1000, 50000}, s, i;
  double per[2];
  (void)state;
  for (s = 0; s < 2; s++) {
    sim_scenario *sc = fleet(sizes[s]);
    unsigned long long p0 = sc->rec_probes;
    char rid[32], sid[32];
    for (i = 0; i < 1000; i++) {
      int k = 1 + (int)((unsigned)i * 2654435761u % (unsigned)sizes[s]);
      sim_ag_rec *r;
      snprintf(rid, sizeof rid, "res-%d", k);
      snprintf(sid, sizeof sid, "sid-%d", k);
      r = find(sc, "app", rid, sid, "mix");
      assert_non_null(r);
      assert_string_equal(r->sid, sid);
    }
    per[s] = (double)(sc->rec_probes - p0) / 1000;
    print_message("# %d recordings: %.2f slots per lookup\n", sizes[s], per[s]);
    assert_true(per[s] >= 1 && per[s] < 3);
    /* the first of two recordings with the same key answers, as a scan found it */
    assert_ptr_equal(find(sc, "app", "res-1", "sid-1", "mix"), &sc->recs[0]);
    assert_null(find(sc, "app", "res-1", "sid-1", "individual"));
    assert_null(find(sc, "app", "res-1", "sid-2", "mix"));
    assert_null(find(sc, "app", "res-2", "sid-1", "mix"));
    assert_null(find(sc, "ap", "pres-1", "sid-1", "mix"));  /* fields do not run together */
    assert_null(find(sc, "other", "res-1", "sid-1", "mix"));
    sim_scenario_free(sc);
  }
  assert_true(per[1] < per[0] + 1);
}

static void test_channels(void **state) {
  static const char text[] =
      "local t = {}\n"
      "for i = 1, 3000 do t[i] = { app_id = 'app', channel = 'ch-' .. (i % 1000), id = i,\n"
      "  timeline = { {0, 2} } } end\n"
      "t[#t + 1] = { app_id = 'other', channel = 'ch-1', id = 9999, timeline = { {0, 2} } }\n"
      "return { qingcloud_tasks = t }\n";
  char err[256];
  sim_scenario *sc = sim_scenario_load_buffer(text, strlen(text), 1637218603, err, sizeof err);
  long first;
  size_t i, n = 0;
  long long ids[8];
  (void)state;
  if (!sc) fail_msg("scenario: %s", err);
  first = sim_channel_first(sc, "app", "ch-1");
  assert_true(first >= 0);
  for (i = (size_t)first + 1; i; i = sc->task_next[i - 1]) {
    assert_true(n < 8);
    assert_string_equal(sc->tasks[i - 1].channel, "ch-1");
    assert_string_equal(sc->tasks[i - 1].app_id, "app");
    ids[n++] = sc->tasks[i - 1].id;
  }
  assert_int_equal(n, 3);  /* ids 1, 1001, 2001, in scenario order */
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[1], 1001);
  assert_int_equal(ids[2], 2001);
  first = sim_channel_first(sc, "other", "ch-1");
  assert_true(first >= 0 && sc->tasks[first].id == 9999 && sc->task_next[first] == 0);
  assert_int_equal(sim_channel_first(sc, "app", "ch-1000"), -1);
  assert_int_equal(sim_channel_first(sc, "ap", "pch-1"), -1);
  sim_scenario_free(sc);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_flat), cmocka_unit_test(test_channels)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
