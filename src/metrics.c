/* metrics: a mutex-guarded registry of metric families and their series, rendered in the
 * Prometheus text format 0.0.4; the process_* metrics are read from /proc at render time. */
#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>
#include "metrics.h"

typedef struct series {
  char **values;            /* one per label */
  double value;             /* counter, gauge; histogram: the sum */
  unsigned long long count; /* histogram */
  unsigned long long *buckets;
  struct series *next;
} series;

struct metric {
  metric_type type;
  char *name, *help;
  int nlabels;
  char *labels[METRICS_MAX_LABELS];
  double bounds[METRICS_MAX_BUCKETS];
  int nbounds;
  int nseries;
  int builtin;              /* the runtime's own: exempt from the script caps, first on the page */
  series *head, **tail;
  struct metric *next;
};

/* The registry: the process object owns it (process.c: metrics_registry_new,
 * metrics_registry_use, metrics_registry_free); `R` is the one installed, the built-in one
 * until then (programs without a process object: the unit tests). */
struct metrics_registry {
  uv_mutex_t mu;
  metric_t *families, **families_tail;
  metrics_builtin_t builtin;
  /* Set once every built-in family is registered (release), read without a lock (acquire);
   * the registration itself runs under builtin_mu, so a second thread asking meanwhile waits
   * for it instead of seeing the families still NULL. */
  _Atomic int builtin_done;
  uv_mutex_t builtin_mu;
  int script_families;      /* families not builtin */
  long script_series;       /* their series */
  int page_dropped;         /* families the last page left off (METRICS_MAX_PAGE) */
};

static uv_once_t once = UV_ONCE_INIT;
static metrics_registry builtin_registry = {.families_tail = &builtin_registry.families};
static metrics_registry *R = &builtin_registry;

/* A script-side cap was hit: the caller's error says which; this says it to the scrape. */
static void rejected(const char *reason) {
  if (R->builtin.rejected) metrics_inc1(R->builtin.rejected, reason, 1);
}

static void init_mutex(void) {
  uv_mutex_init(&builtin_registry.mu);
  uv_mutex_init(&builtin_registry.builtin_mu);
}
static void lock(void) {
  uv_once(&once, init_mutex);
  uv_mutex_lock(&R->mu);
}
static void unlock(void) { uv_mutex_unlock(&R->mu); }

static const double default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

int metrics_valid_name(const char *s) {
  const char *p;
  if (!s || !*s) return 0;
  for (p = s; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
             (p != s && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return p - s <= 200;
}

int metrics_valid_label(const char *s) {
  if (!metrics_valid_name(s) || strchr(s, ':')) return 0;
  return !(s[0] == '_' && s[1] == '_');
}

static metric_t *find(const char *name) {
  metric_t *m;
  for (m = R->families; m; m = m->next)
    if (strcmp(m->name, name) == 0) return m;
  return NULL;
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

static int same_definition(const metric_t *m, metric_type type, int nlabels,
                           const char *const *labels, const double *b, int nb) {
  int i;
  if (m->type != type || m->nlabels != nlabels) return 0;
  for (i = 0; i < nlabels; i++)
    if (strcmp(m->labels[i], labels[i]) != 0) return 0;
  if (type == METRIC_HISTOGRAM) {
    if (m->nbounds != nb) return 0;
    for (i = 0; i < nb; i++)
      if (m->bounds[i] != b[i]) return 0;
  }
  return 1;
}

static metric_t *register_family(metric_type type, const char *name, const char *help,
                                 int nlabels, const char *const *labels, const double *buckets,
                                 int nbuckets, char *err, size_t errlen, int registering_builtin) {
  metric_t *m;
  int i, j;
  if (!metrics_valid_name(name)) {
    snprintf(err, errlen, "invalid metric name '%.80s' (letters, digits, '_' and ':', not "
             "starting with a digit)", name ? name : "");
    return NULL;
  }
  if (nlabels < 0 || nlabels > METRICS_MAX_LABELS) {
    snprintf(err, errlen, "%s: at most %d labels", name, METRICS_MAX_LABELS);
    return NULL;
  }
  for (i = 0; i < nlabels; i++) {
    if (!metrics_valid_label(labels[i])) {
      snprintf(err, errlen, "%s: invalid label name '%.80s' (letters, digits and '_', not "
               "starting with a digit or '__')", name, labels[i] ? labels[i] : "");
      return NULL;
    }
    if (type == METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0) {
      snprintf(err, errlen, "%s: 'le' is reserved in histograms", name);
      return NULL;
    }
    for (j = 0; j < i; j++)
      if (strcmp(labels[i], labels[j]) == 0) {
        snprintf(err, errlen, "%s: label '%s' given twice", name, labels[i]);
        return NULL;
      }
  }
  if (help && strlen(help) > METRICS_MAX_HELP) {
    snprintf(err, errlen, "%s: the help text is longer than %d bytes", name, METRICS_MAX_HELP);
    rejected("help");
    return NULL;
  }
  if (type == METRIC_HISTOGRAM) {
    if (!buckets) {
      buckets = default_buckets;
      nbuckets = (int)(sizeof default_buckets / sizeof default_buckets[0]);
    }
    if (nbuckets < 1 || nbuckets > METRICS_MAX_BUCKETS) {
      snprintf(err, errlen, "%s: 1..%d buckets", name, METRICS_MAX_BUCKETS);
      return NULL;
    }
    for (i = 0; i < nbuckets; i++)
      if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
        snprintf(err, errlen, "%s: buckets must be finite and ascending", name);
        return NULL;
      }
  } else {
    nbuckets = 0;
  }
  lock();
  if ((m = find(name)) != NULL) {
    int same = same_definition(m, type, nlabels, labels, buckets, nbuckets);
    unlock();
    if (!same) {
      snprintf(err, errlen, "metric '%s' is already registered as a %s with other labels or "
               "buckets", name, type_names[m->type]);
      return NULL;
    }
    return m;
  }
  if (!registering_builtin && R->script_families >= METRICS_MAX_FAMILIES) {
    unlock();
    snprintf(err, errlen, "%s: more than %d script metric families (the registry cap)", name,
             METRICS_MAX_FAMILIES);
    rejected("families");
    return NULL;
  }
  m = calloc(1, sizeof *m);
  if (!m || !(m->name = strdup(name)) || !(m->help = strdup(help ? help : ""))) {
    if (m) free(m->name);
    free(m);
    unlock();
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  m->type = type;
  m->nlabels = nlabels;
  for (i = 0; i < nlabels; i++) m->labels[i] = strdup(labels[i]);
  for (i = 0; i < nbuckets; i++) m->bounds[i] = buckets[i];
  m->nbounds = nbuckets;
  m->tail = &m->head;
  m->builtin = registering_builtin;
  if (!m->builtin) R->script_families++;
  *R->families_tail = m;
  R->families_tail = &m->next;
  unlock();
  return m;
}

metric_t *metrics_register(metric_type type, const char *name, const char *help, int nlabels,
                           const char *const *labels, const double *buckets, int nbuckets,
                           char *err, size_t errlen) {
  return register_family(type, name, help, nlabels, labels, buckets, nbuckets, err, errlen, 0);
}

int metrics_nlabels(const metric_t *m) { return m->nlabels; }
const char *metrics_label(const metric_t *m, int i) { return m->labels[i]; }
metric_type metrics_type(const metric_t *m) { return m->type; }

/* The series for these label values, created when new; NULL past a cap (*why says
 * which, for the rejected counter, counted by the caller once the lock is released).
 * Under lock. */
static series *get_series(metric_t *m, const char *const *values, char *err, size_t errlen,
                          const char **why) {
  series *s;
  int i;
  for (s = m->head; s; s = s->next) {
    for (i = 0; i < m->nlabels; i++)
      if (strcmp(s->values[i], values[i] ? values[i] : "") != 0) break;
    if (i == m->nlabels) return s;
  }
  if (!m->builtin)
    for (i = 0; i < m->nlabels; i++)
      if (values[i] && strlen(values[i]) > METRICS_MAX_VALUE_LEN) {
        snprintf(err, errlen, "%s: the value of label '%s' is longer than %d bytes", m->name,
                 m->labels[i], METRICS_MAX_VALUE_LEN);
        *why = "label_value";
        return NULL;
      }
  if (m->nseries >= METRICS_MAX_SERIES) {
    snprintf(err, errlen, "%s: more than %d label combinations (the cardinality cap): use "
             "labels with a few known values, not ids", m->name, METRICS_MAX_SERIES);
    *why = "series";
    return NULL;
  }
  if (!m->builtin && R->script_series >= METRICS_MAX_TOTAL_SERIES) {
    snprintf(err, errlen, "%s: more than %d series in all script metrics (the registry cap)",
             m->name, METRICS_MAX_TOTAL_SERIES);
    *why = "total_series";
    return NULL;
  }
  s = calloc(1, sizeof *s);
  if (!s) goto oom;
  s->values = calloc((size_t)m->nlabels + 1, sizeof *s->values);
  if (!s->values) goto oom;
  for (i = 0; i < m->nlabels; i++)
    if (!(s->values[i] = strdup(values[i] ? values[i] : ""))) goto oom;
  if (m->type == METRIC_HISTOGRAM &&
      !(s->buckets = calloc((size_t)m->nbounds, sizeof *s->buckets)))
    goto oom;
  *m->tail = s;
  m->tail = &s->next;
  m->nseries++;
  if (!m->builtin) R->script_series++;
  return s;
oom:
  if (s) {
    if (s->values)
      for (i = 0; i < m->nlabels; i++) free(s->values[i]);
    free(s->values);
    free(s);
  }
  snprintf(err, errlen, "out of memory");
  return NULL;
}

static int update(metric_t *m, const char *const *values, double v, int op, char *err,
                  size_t errlen) {
  series *s;
  const char *why = NULL;
  int i;
  if (isnan(v)) {
    snprintf(err, errlen, "%s: the value is NaN", m->name);
    return -1;
  }
  if (op == 0 && m->type == METRIC_COUNTER && v < 0) {
    snprintf(err, errlen, "%s: a counter only goes up (got %g)", m->name, v);
    return -1;
  }
  lock();
  if (!(s = get_series(m, values, err, errlen, &why))) {
    unlock();
    if (why && m != R->builtin.rejected) rejected(why);
    return -1;
  }
  if (op == 0) s->value += v;
  else if (op == 1) s->value = v;
  else {
    s->value += v;
    s->count++;
    for (i = 0; i < m->nbounds; i++)
      if (v <= m->bounds[i]) s->buckets[i]++;
  }
  unlock();
  return 0;
}

int metrics_add(metric_t *m, const char *const *values, double v, char *err, size_t errlen) {
  if (m->type == METRIC_HISTOGRAM) {
    snprintf(err, errlen, "%s is a histogram: use observe", m->name);
    return -1;
  }
  return update(m, values, v, 0, err, errlen);
}

int metrics_set(metric_t *m, const char *const *values, double v, char *err, size_t errlen) {
  if (m->type != METRIC_GAUGE) {
    snprintf(err, errlen, "%s is a %s: only gauges are set", m->name, type_names[m->type]);
    return -1;
  }
  return update(m, values, v, 1, err, errlen);
}

int metrics_observe(metric_t *m, const char *const *values, double v, char *err,
                    size_t errlen) {
  if (m->type != METRIC_HISTOGRAM) {
    snprintf(err, errlen, "%s is a %s: only histograms observe", m->name, type_names[m->type]);
    return -1;
  }
  return update(m, values, v, 2, err, errlen);
}

double metrics_get(metric_t *m, const char *const *values) {
  series *s;
  double v = 0;
  int i;
  if (!m) return 0;
  lock();
  for (s = m->head; s; s = s->next) {
    for (i = 0; i < m->nlabels; i++)
      if (strcmp(s->values[i], values[i] ? values[i] : "") != 0) break;
    if (i == m->nlabels) {
      v = s->value;
      break;
    }
  }
  unlock();
  return v;
}

void metrics_zero(metric_t *m) {
  series *s;
  lock();
  for (s = m->head; s; s = s->next) s->value = 0;
  unlock();
}

/* ---- the text format ---- */

static void add_escaped(sbuf *b, const char *s, int quote) {
  for (; *s; s++) {
    if (*s == '\\') sbuf_adds(b, "\\\\");
    else if (*s == '\n') sbuf_adds(b, "\\n");
    else if (quote && *s == '"') sbuf_adds(b, "\\\"");
    else sbuf_add(b, s, 1);
  }
}

static void add_number(sbuf *b, double v) {
  if (isinf(v)) sbuf_adds(b, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 1e15) sbuf_addf(b, "%.0f", v);
  else {
    char s[40];
    int prec;
    for (prec = 15; prec < 17; prec++) {  /* the shortest form that reads back the same */
      snprintf(s, sizeof s, "%.*g", prec, v);
      if (strtod(s, NULL) == v) break;
    }
    if (prec == 17) snprintf(s, sizeof s, "%.17g", v);
    sbuf_adds(b, s);
  }
}

/* {a="x",b="y"} plus an optional le="..." */
static void add_labels(sbuf *b, const metric_t *m, const series *s, const char *le) {
  int i;
  if (m->nlabels == 0 && !le) return;
  sbuf_adds(b, "{");
  for (i = 0; i < m->nlabels; i++) {
    sbuf_addf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
    add_escaped(b, s->values[i], 1);
    sbuf_adds(b, "\"");
  }
  if (le) sbuf_addf(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
  sbuf_adds(b, "}");
}

/* Appends one family; past limit bytes it stops and returns -1 (the caller drops it). */
static int render_family(sbuf *b, const metric_t *m, size_t limit) {
  const series *s;
  int i;
  sbuf_addf(b, "# HELP %s ", m->name);
  add_escaped(b, m->help, 0);
  sbuf_addf(b, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
  for (s = m->head; s; s = s->next) {
    if (b->len > limit) return -1;
    if (m->type != METRIC_HISTOGRAM) {
      sbuf_adds(b, m->name);
      add_labels(b, m, s, NULL);
      sbuf_adds(b, " ");
      add_number(b, s->value);
      sbuf_adds(b, "\n");
      continue;
    }
    for (i = 0; i <= m->nbounds; i++) {
      char le[40];
      if (i < m->nbounds) {
        sbuf tmp = {0};
        add_number(&tmp, m->bounds[i]);
        snprintf(le, sizeof le, "%s", tmp.p ? tmp.p : "0");
        sbuf_free(&tmp);
      } else {
        snprintf(le, sizeof le, "+Inf");
      }
      sbuf_addf(b, "%s_bucket", m->name);
      add_labels(b, m, s, le);
      sbuf_addf(b, " %llu\n", i < m->nbounds ? s->buckets[i] : s->count);
    }
    sbuf_addf(b, "%s_sum", m->name);
    add_labels(b, m, s, NULL);
    sbuf_adds(b, " ");
    add_number(b, s->value);
    sbuf_addf(b, "\n%s_count", m->name);
    add_labels(b, m, s, NULL);
    sbuf_addf(b, " %llu\n", s->count);
  }
  return b->len > limit ? -1 : 0;
}

/* process_* as the Prometheus client libraries define them, from /proc (Linux). */
static void render_process(sbuf *b) {
  char buf[1024], *p;
  FILE *f = fopen("/proc/self/stat", "r");
  long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
  unsigned long utime = 0, stime = 0, vsize = 0;
  unsigned long long start = 0;
  long rss = 0, btime = 0;
  int fds = 0;
  struct rlimit rl;
  DIR *d;
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = '\0';
  /* fields after the command name, which is in parentheses and may hold spaces */
  if ((p = strrchr(buf, ')')) != NULL &&
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d "
             "%*d %llu %lu %ld", &utime, &stime, &start, &vsize, &rss) == 5 && ticks > 0) {
    if ((f = fopen("/proc/stat", "r")) != NULL) {
      char line[256];
      while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %ld", &btime) == 1) break;
      fclose(f);
    }
    sbuf_addf(b, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
              "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
              (double)(utime + stime) / (double)ticks);
    sbuf_addf(b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
              "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
              rss * page);
    sbuf_addf(b, "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
              "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %lu\n",
              vsize);
    sbuf_addf(b, "# HELP process_start_time_seconds Start time of the process since unix epoch "
              "in seconds.\n# TYPE process_start_time_seconds gauge\n"
              "process_start_time_seconds %.2f\n", (double)btime + (double)start / (double)ticks);
  }
  if ((d = opendir("/proc/self/fd")) != NULL) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
      if (de->d_name[0] != '.') fds++;
    closedir(d);
    sbuf_addf(b, "# HELP process_open_fds Number of open file descriptors.\n"
              "# TYPE process_open_fds gauge\nprocess_open_fds %d\n", fds - 1);  /* not d's own */
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    sbuf_addf(b, "# HELP process_max_fds Maximum number of open file descriptors.\n"
              "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
              (unsigned long long)rl.rlim_cur);
}

void metrics_render(sbuf *out) {
  const metric_t *m;
  size_t start = out->len, limit = start + METRICS_MAX_PAGE;
  int pass, dropped = 0;
  metrics_builtin();
  lock();
  for (pass = 0; pass < 2; pass++)  /* the runtime's families first: they always fit */
    for (m = R->families; m; m = m->next) {
      size_t before = out->len;
      if (m->builtin != (pass == 0)) continue;
      if (dropped || render_family(out, m, pass == 0 ? (size_t)-1 : limit) != 0) {
        out->len = before;  /* whole families or none: the page stays valid */
        dropped++;
      }
    }
  R->page_dropped = dropped;
  unlock();
  if (out->cap > out->len + 65536 && out->len > 0) {  /* a dropped family's room */
    char *p = realloc(out->p, out->len + 1);
    if (p) {
      out->p = p;
      out->cap = out->len + 1;
    }
  }
  sbuf_addf(out, "# HELP recwatch_metrics_page_families_dropped Script metric families left off "
            "this page: it reached its size cap (%d bytes).\n"
            "# TYPE recwatch_metrics_page_families_dropped gauge\n"
            "recwatch_metrics_page_families_dropped %d\n", METRICS_MAX_PAGE, dropped);
  render_process(out);
}

int metrics_page_dropped(void) {
  int n;
  lock();
  n = R->page_dropped;
  unlock();
  return n;
}

void metrics_reset(void) {
  metric_t *m;
  lock();
  while ((m = R->families) != NULL) {
    int i;
    R->families = m->next;
    while (m->head) {
      series *s = m->head;
      m->head = s->next;
      for (i = 0; i < m->nlabels; i++) free(s->values[i]);
      free(s->values);
      free(s->buckets);
      free(s);
    }
    for (i = 0; i < m->nlabels; i++) free(m->labels[i]);
    free(m->name);
    free(m->help);
    free(m);
  }
  R->families_tail = &R->families;
  R->script_families = 0;
  R->script_series = 0;
  R->page_dropped = 0;
  memset(&R->builtin, 0, sizeof R->builtin);
  atomic_store(&R->builtin_done, 0);
  unlock();
}

metrics_registry *metrics_registry_new(void) {
  metrics_registry *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->families_tail = &r->families;
  uv_mutex_init(&r->mu);
  uv_mutex_init(&r->builtin_mu);
  return r;
}

metrics_registry *metrics_registry_use(metrics_registry *r) {
  metrics_registry *prev = R;
  R = r ? r : &builtin_registry;
  return prev;
}

void metrics_registry_free(metrics_registry *r) {
  metrics_registry *saved = R;
  if (!r || r == &builtin_registry) return;
  R = r;
  metrics_reset();
  R = saved == r ? &builtin_registry : saved;
  uv_mutex_destroy(&r->mu);
  uv_mutex_destroy(&r->builtin_mu);
  free(r);
}

/* ---- built-ins ---- */

static metric_t *reg(metric_type t, const char *name, const char *help, const char *l1,
                     const char *l2, const double *b, int nb) {
  const char *labels[2] = {l1, l2};
  char err[200];
  metric_t *m;
  m = register_family(t, name, help, l2 ? 2 : l1 ? 1 : 0, labels, b, nb, err, sizeof err, 1);
  if (!m) fprintf(stderr, "recwatch: metrics: %s\n", err);
  return m;
}

const metrics_builtin_t *metrics_builtin(void) {
  static const double pacing[] = {0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60};
  metrics_builtin_t *b = &R->builtin;
  if (atomic_load_explicit(&R->builtin_done, memory_order_acquire)) return &R->builtin;
  lock();    /* initialises mu and builtin_mu once */
  unlock();
  uv_mutex_lock(&R->builtin_mu);
  if (atomic_load_explicit(&R->builtin_done, memory_order_acquire)) {
    uv_mutex_unlock(&R->builtin_mu);
    return &R->builtin;
  }
  b->requests = reg(METRIC_COUNTER, "recwatch_provider_requests_total",
                         "Provider API requests by outcome: ok, or the error kind of the attempt.",
                         "provider", "outcome", NULL, 0);
  b->request_duration = reg(METRIC_HISTOGRAM, "recwatch_provider_request_duration_seconds",
                                 "Time from sending a provider request to its reply.",
                                 "provider", NULL, NULL, 0);
  b->pacing_wait = reg(METRIC_HISTOGRAM, "recwatch_pacing_wait_seconds",
                            "Time an attempt waited for its pacing slot.", "provider", NULL,
                            pacing, (int)(sizeof pacing / sizeof pacing[0]));
  b->pacing_queue = reg(METRIC_GAUGE, "recwatch_pacing_queue",
                             "Attempts waiting for a pacing slot now.", "provider", NULL, NULL, 0);
  b->retries = reg(METRIC_COUNTER, "recwatch_retries_total",
                        "Provider attempts that failed and were retried.", "provider", NULL,
                        NULL, 0);
  b->failovers = reg(METRIC_COUNTER, "recwatch_failovers_total",
                          "Attempts sent to another host than the previous attempt's.",
                          "provider", NULL, NULL, 0);
  b->alerts = reg(METRIC_COUNTER, "recwatch_alerts_total",
                       "Outbox alerts by state: queued, delivered, failed (a failed attempt).",
                       "state", NULL, NULL, 0);
  b->outbox_pending = reg(METRIC_GAUGE, "recwatch_outbox_pending",
                               "Alerts in the outbox not delivered yet.", NULL, NULL, NULL, 0);
  b->watchers = reg(METRIC_GAUGE, "recwatch_watchers",
                         "Watchers by state: ok, stale (no good poll for too long), error, "
                         "auth_failed (the provider rejects the credentials).",
                         "state", NULL, NULL, 0);
  b->tasks = reg(METRIC_GAUGE, "recwatch_tasks", "Live tasks of the script.", NULL, NULL,
                      NULL, 0);
  b->lua_memory = reg(METRIC_GAUGE, "recwatch_lua_memory_bytes",
                           "Memory held by the Lua state.", NULL, NULL, NULL, 0);
  b->build_info = reg(METRIC_GAUGE, "recwatch_build_info",
                           "Always 1; the version of the running binary is a label.", "version",
                           NULL, NULL, 0);
  b->reloads = reg(METRIC_COUNTER, "recwatch_reloads_total",
                        "Script reloads (SIGHUP) by result: ok, or failed (the new script "
                        "was refused and the old one runs on, or it failed at start-up and "
                        "the run ended with 1).", "result", NULL, NULL, 0);
  b->rejected = reg(METRIC_COUNTER, "recwatch_metrics_rejected_total",
                         "Script metric updates or registrations refused by a registry cap, by "
                         "cap: families, series, total_series, label_value, help.", "reason",
                         NULL, NULL, 0);
  b->listener_renders = reg(METRIC_COUNTER, "recwatch_listener_metrics_renders_total",
                                 "Pages /metrics rendered (one per scrape instant, shared by "
                                 "the requests of that instant).", NULL, NULL, NULL, 0);
  b->listener_refused = reg(METRIC_COUNTER, "recwatch_listener_refused_total",
                                 "Listener requests answered 503 because the replies queued "
                                 "unsent reached the output cap.", "path", NULL, NULL, 0);
  b->listener_queued = reg(METRIC_GAUGE, "recwatch_listener_queued_bytes",
                                "Reply bytes the listener holds unsent (shared pages once).",
                                NULL, NULL, NULL, 0);
  b->unreadable_tasks = reg(METRIC_COUNTER, "recwatch_unreadable_tasks_total",
                                 "Tasks in provider replies that could not be read, by the "
                                 "first field in the way (the rest of the reply was used).",
                                 "provider", "field", NULL, 0);
  b->alert_results = reg(METRIC_COUNTER, "recwatch_alert_results_total",
                              "Alerts handed to a destination (the sender's name), by result: "
                              "sent, failed (an attempt), and what rec.notify adds.",
                              "destination", "result", NULL, 0);
  b->silences_active = reg(METRIC_GAUGE, "recwatch_silences_active",
                                "Silences in force now (rec.notify), over the state files open.",
                                NULL, NULL, NULL, 0);
  b->alerts_held = reg(METRIC_GAUGE, "recwatch_alerts_held",
                            "Alerts a silence holds now (recorded, not sent; sent when it ends "
                            "while they still fire).", NULL, NULL, NULL, 0);
  b->restarts = reg(METRIC_COUNTER, "recwatch_restarts_total",
                         "watch.agora's restarts of failed recordings by result: started, ok "
                         "(recording again), failed, gave_up, running_unseen, "
                         "duplicate_stopped, adopted.", "result", NULL, NULL, 0);
  b->restart_circuit_open = reg(METRIC_GAUGE, "recwatch_restart_circuit_open",
                                     "1 while the restart circuit breaker holds restarts back "
                                     "(too many sessions of the account failing at once).",
                                     NULL, NULL, NULL, 0);
  b->started_tasks = reg(METRIC_COUNTER, "recwatch_restart_started_tasks_total",
                              "Recording tasks started by restarts (each one is billed), by "
                              "App ID.", "appid", NULL, NULL, 0);
#ifdef RECWATCH_VERSION
  metrics_set1(b->build_info, RECWATCH_VERSION, 1);
#endif
  {
    static const char *const states[] = {"queued", "delivered", "failed"};
    static const char *const wstates[] = {"ok", "stale", "error", "auth_failed"};
    int i;
    for (i = 0; i < 3; i++) metrics_inc1(b->alerts, states[i], 0);
    for (i = 0; i < 4; i++) metrics_set1(b->watchers, wstates[i], 0);
    metrics_inc1(b->reloads, "ok", 0);
    metrics_inc1(b->reloads, "failed", 0);
    metrics_set1(b->outbox_pending, NULL, 0);
    metrics_set1(b->tasks, NULL, 0);
    static const char *const rj[] = {"families", "series", "total_series", "label_value", "help"};
    for (i = 0; i < 5; i++) metrics_inc1(b->rejected, rj[i], 0);
    metrics_inc1(b->listener_renders, NULL, 0);
    metrics_inc1(b->listener_refused, "/metrics", 0);
    metrics_inc1(b->listener_refused, "/status", 0);
    metrics_set1(b->listener_queued, NULL, 0);
    metrics_set1(b->silences_active, NULL, 0);
    metrics_set1(b->alerts_held, NULL, 0);
    metrics_set1(b->restart_circuit_open, NULL, 0);
  }
  atomic_store_explicit(&R->builtin_done, 1, memory_order_release);
  uv_mutex_unlock(&R->builtin_mu);
  return &R->builtin;
}

void metrics_inc1(metric_t *m, const char *v1, double by) {
  char err[160];
  const char *v[1] = {v1};
  if (m) metrics_add(m, v, by, err, sizeof err);
}

void metrics_inc2(metric_t *m, const char *v1, const char *v2, double by) {
  char err[160];
  const char *v[2] = {v1, v2};
  if (m) metrics_add(m, v, by, err, sizeof err);
}

void metrics_set1(metric_t *m, const char *v1, double v) {
  char err[160];
  const char *vals[1] = {v1};
  if (m) metrics_set(m, vals, v, err, sizeof err);
}

void metrics_observe1(metric_t *m, const char *v1, double v) {
  char err[160];
  const char *vals[1] = {v1};
  if (m) metrics_observe(m, vals, v, err, sizeof err);
}
