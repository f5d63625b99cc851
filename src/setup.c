/* setup: the one function that wires an engine to the `rec` module and to the listener (the
 * hooks, --listen); see setup.h. */
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "events.h"
#include "log.h"
#include "lrec.h"
#include "ops.h"
#include "setup.h"
#include "sim/sim_events.h"

static int listen_hook(const char *addr, int apply, char *err, size_t errlen) {
  return apply ? ops_listen(addr, err, errlen) : ops_listen_check(addr, err, errlen);
}

const engine_hooks setup_hooks = {lrec_open, listen_hook, ops_set_stuck_after};

engine_t *setup_engine(const setup_options *so, char *err, size_t errlen) {
  engine_options o;
  engine_t *e;
  char why[512];
  memset(&o, 0, sizeof o);
  o.loop = so->loop;
  o.clock = so->clock;
  o.virtual_time = so->virtual_time;
  o.seed = so->seed;
  o.signals = so->signals;
  o.hooks = &setup_hooks;
  if (!(e = engine_new_opts(&o, err, errlen))) return NULL;
  if (!so->listen) return e;
  if (!so->process) {
    snprintf(err, errlen, "--listen: no process object to own the listener");
    engine_free(e);
    return NULL;
  }
  ops_listener_use(so->process->listener);  /* installed already by rec_process_new */
  if (ops_listen(so->listen, why, sizeof why) != 0) {
    snprintf(err, errlen, "--listen: %s", why);
    engine_free(e);
    return NULL;
  }
  return e;
}

int setup_events(engine_t *e, lua_State *L, const char *addr, char *err, size_t errlen) {
  char why[512];
  events_rx *rx = events_for(e, 1, engine_config(e)->state_path, why, sizeof why);
  if (!rx) {
    snprintf(err, errlen, "--events-listen: the event store: %s", why);
    return -1;
  }
  events_set_owner(rx, L);
  if (events_listen(rx, addr, why, sizeof why) != 0) {
    snprintf(err, errlen, "--events-listen: %s", why);
    return -1;
  }
  return 0;
}

engine_t *engine_new(char *err, size_t errlen) {
  setup_options so;
  memset(&so, 0, sizeof so);
  so.signals = 1;
  return setup_engine(&so, err, errlen);
}

static void events_to_sim(void *ud, const char *url, const char *secret) {
  if (sim_events_target(ud, url, secret) != 0)
    log_warn("events: the simulator cannot send its events to the receiver");
}

void setup_sim_events(struct sim *sim) {
  if (sim) events_set_target_hook(events_to_sim, sim);
  else events_set_target_hook(NULL, NULL);
}
