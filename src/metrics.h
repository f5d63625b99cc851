/* metrics: the process's Prometheus registry (counters, gauges, histograms with labels),
 * safe to update from the main loop and render from the listener thread, and the text
 * exposition format 0.0.4. Built-in families are declared here; scripts add their own
 * through rec.metrics (lrec.c). */
#ifndef REC_METRICS_H
#define REC_METRICS_H
#include <stddef.h>
#include "sbuf.h"

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;
typedef struct metric metric_t;

#define METRICS_MAX_LABELS 8
/* A family holds at most this many label combinations (series); a new one past it is an
 * error for scripts, so a label fed with ids cannot grow the page without bound. */
#define METRICS_MAX_SERIES 1000
#define METRICS_MAX_BUCKETS 32
/* Caps over all script families together (the runtime's own are exempt), each an error to
 * the script and a count in recwatch_metrics_rejected_total{reason}: */
#define METRICS_MAX_FAMILIES 1000       /* families registered by scripts */
#define METRICS_MAX_TOTAL_SERIES 20000  /* series in all script families */
#define METRICS_MAX_VALUE_LEN 256       /* bytes of one label value */
#define METRICS_MAX_HELP 1024           /* bytes of a help text */
/* The page: script families that would take it past this many bytes are left off whole
 * (recwatch_metrics_page_families_dropped on the page says how many). */
#define METRICS_MAX_PAGE (8 * 1024 * 1024)

/* Registers a family, or returns the one already registered under name when type, labels
 * and buckets match (a reloaded script gets its counters back); NULL with a reason in err
 * when the name or a label is invalid, or the name is taken by another definition.
 * buckets (ascending, without +Inf) only for histograms; NULL = the default buckets. */
metric_t *metrics_register(metric_type type, const char *name, const char *help, int nlabels,
                           const char *const *labels, const double *buckets, int nbuckets,
                           char *err, size_t errlen);
int metrics_nlabels(const metric_t *m);
const char *metrics_label(const metric_t *m, int i);
metric_type metrics_type(const metric_t *m);
/* values: one per label (NULL when the family has none). 0, or -1 with err (cardinality
 * cap reached, a negative counter increment, a NaN). */
int metrics_add(metric_t *m, const char *const *values, double v, char *err, size_t errlen);
int metrics_set(metric_t *m, const char *const *values, double v, char *err, size_t errlen);
int metrics_observe(metric_t *m, const char *const *values, double v, char *err, size_t errlen);
/* The value of one series (0 when it does not exist); the sum for a histogram. */
double metrics_get(metric_t *m, const char *const *values);
/* Sets every series of a gauge family to 0 (before republishing a set of states). */
void metrics_zero(metric_t *m);
/* Appends the whole page (the runtime's families, the scripts' up to METRICS_MAX_PAGE,
 * then recwatch_metrics_page_families_dropped and the process_* metrics). */
void metrics_render(sbuf *out);
/* Script families the last render left off (0 when the page was whole). */
int metrics_page_dropped(void);
/* Name rules: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* without a
 * leading "__" for labels. */
int metrics_valid_name(const char *s);
int metrics_valid_label(const char *s);
/* Frees every family of the installed registry (between unit tests). */
void metrics_reset(void);
/* The registry, owned by the process object (process.c). Every function here acts on the
 * installed one: metrics_registry_use(r) installs r (NULL: the built-in one, for programs
 * without a process object) and returns the previous one; install it before any other thread
 * reads metrics, and not again while one may. metrics_registry_free frees r and its families
 * (the built-in one comes back when r was installed). */
typedef struct metrics_registry metrics_registry;
metrics_registry *metrics_registry_new(void);
metrics_registry *metrics_registry_use(metrics_registry *r);
void metrics_registry_free(metrics_registry *r);

/* The built-in families (registered on first use of metrics_builtin()). */
typedef struct metrics_builtin_t {
  metric_t *requests, *request_duration, *pacing_wait, *pacing_queue, *retries, *failovers,
      *alerts, *outbox_pending, *watchers, *tasks, *lua_memory, *build_info, *reloads,
      *rejected, *listener_renders, *listener_refused, *listener_queued, *unreadable_tasks,
      *alert_results, *silences_active, *alerts_held, *restarts, *restart_circuit_open,
      *started_tasks;
} metrics_builtin_t;
const metrics_builtin_t *metrics_builtin(void);
/* Shorthands for the built-ins: one label value, errors ignored (the values are ours). */
void metrics_inc1(metric_t *m, const char *v1, double by);
void metrics_inc2(metric_t *m, const char *v1, const char *v2, double by);
void metrics_set1(metric_t *m, const char *v1, double v);
void metrics_observe1(metric_t *m, const char *v1, double v);

#endif
