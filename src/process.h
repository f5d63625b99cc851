/* process: what one recwatch process owns and tears down: the log configuration (level,
 * format, secrets: log.c), the metrics registry (metrics.c) and the listener (ops.c). Setup
 * creates it and installs its parts; what stays process-wide, and why: docs/design.md. */
#ifndef REC_PROCESS_H
#define REC_PROCESS_H
#include <stddef.h>
#include "log.h"
#include "metrics.h"
#include "ops.h"

typedef struct rec_process {
  log_state *log;               /* the log configuration every line goes through */
  metrics_registry *metrics;    /* the one page /metrics serves */
  ops_listener *listener;       /* /metrics, /healthz, /status: at most one per process */
} rec_process;

/* Creates the three and installs them (log_state_use, metrics_registry_use,
 * ops_listener_use): from here on the log, metrics and ops functions act on them. NULL with
 * the reason in err when out of memory. One at a time. */
rec_process *rec_process_new(char *err, size_t errlen);
/* Stops the listener's thread, then frees the three (the built-in ones come back). */
void rec_process_free(rec_process *p);
#endif
