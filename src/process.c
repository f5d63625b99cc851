/* process: creates, installs and tears down what one recwatch process owns; see process.h. */
#include <stdio.h>
#include <stdlib.h>
#include "process.h"

rec_process *rec_process_new(char *err, size_t errlen) {
  rec_process *p = calloc(1, sizeof *p);
  if (p) {
    p->log = log_state_new();
    p->metrics = metrics_registry_new();
    p->listener = ops_listener_new();
  }
  if (!p || !p->log || !p->metrics || !p->listener) {
    snprintf(err, errlen, "out of memory");
    rec_process_free(p);
    return NULL;
  }
  log_state_use(p->log);
  metrics_registry_use(p->metrics);
  ops_listener_use(p->listener);
  return p;
}

void rec_process_free(rec_process *p) {
  if (!p) return;
  ops_listener_free(p->listener);  /* first: its thread reads the registry */
  metrics_registry_free(p->metrics);
  log_state_free(p->log);         /* the default log state is current again */
  free(p);
}
