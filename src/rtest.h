/* rtest: `recwatch test`: rec.test files, each case on a fresh engine, simulator and
 * virtual clock; TAP on stdout, JUnit on request. Also the one way an engine is pointed at an
 * in-process simulator (run --sim and t:start alike). */
#ifndef REC_RTEST_H
#define REC_RTEST_H
#include "engine.h"
#include "sim/sim.h"

/* Points both providers of e (base URLs, credentials, locked) and rec.sim at s. */
void rtest_attach_sim(engine_t *e, sim_t *s);
/* `recwatch test [--junit FILE] [--seed N] [--timeout S] [-v] [FILE|DIR]...`; argv[0] is
 * "test". Returns 0 all passed, 1 a case failed, 2 usage or load error. */
int rtest_command(int argc, char **argv);

#endif
