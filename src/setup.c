/* setup: the hooks that wire the engine to the `rec` module and to the listener; see setup.h. */
#include <string.h>
#include "lrec.h"
#include "ops.h"
#include "setup.h"

static int listen_hook(const char *addr, int apply, char *err, size_t errlen) {
  return apply ? ops_listen(addr, err, errlen) : ops_listen_check(addr, err, errlen);
}

const engine_hooks setup_hooks = {lrec_open, listen_hook, ops_set_stuck_after};

engine_t *engine_new(char *err, size_t errlen) {
  engine_options o;
  memset(&o, 0, sizeof o);
  o.signals = 1;
  o.hooks = &setup_hooks;
  return engine_new_opts(&o, err, errlen);
}
