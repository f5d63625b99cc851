/* events_sim: until the simulator's sender lands (src/sim/sim_events.h declares it there),
 * a weak reference to sim_events_target so main.c can hand the receiver's URL and secret to
 * the in-process simulator when it has one. Remove at merge: include sim/sim_events.h. */
#ifndef REC_EVENTS_SIM_H
#define REC_EVENTS_SIM_H
#include "sim/sim.h"
void sim_events_target(sim_t *sim, const char *url, const char *secret) __attribute__((weak));
#endif
