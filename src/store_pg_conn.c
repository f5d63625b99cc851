/* store_pg_conn: the PostgreSQL store's connections (the session settings every connection
 * gets, a display name without secrets), the fleet's knobs, and the outage: while the
 * database cannot be reached, the process says so once in the log (kind=store_outage), in
 * recwatch_store_up and on /healthz (store_pg_outage). */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "fence.h"
#include "log.h"
#include "metrics.h"
#include "store_pg_int.h"

/* ---- knobs ---- */

static int knob(const char *env, double def, double *out, char *msg, size_t n) {
  const char *v = getenv(env);
  char *end;
  double d;
  *out = def;
  if (!v || !*v) return 0;
  d = strtod(v, &end);
  if (end == v || *end || !isfinite(d) || d <= 0 || d > 86400) {
    snprintf(msg, n, "%s=%.40s: a number of seconds above 0 is expected", env, v);
    return -1;
  }
  *out = d;
  return 0;
}

int store_pg_knobs_get(store_pg_knobs *k, char *msg, size_t n) {
  if (knob("RECWATCH_FLEET_RENEW", 2, &k->renew, msg, n) ||
      knob("RECWATCH_FLEET_LEASE", 10, &k->lease, msg, n) ||
      knob("RECWATCH_FLEET_ACT", 5, &k->act, msg, n))
    return -1;
  if (!(k->renew < k->act) || !(k->act + 1 < k->lease)) {
    snprintf(msg, n, "the fleet's times do not fit: renew r = %g s, act D = %g s, lease T = %g s; "
             "r < D and D + 1 < T are needed (a member stops acting D s after its last renewal, "
             "and a new owner waits 1 s more before it acts)", k->renew, k->act, k->lease);
    return -1;
  }
  return 0;
}

/* ---- connections ---- */

void pgc_error(PGconn *pg, PGresult *r, char *out, size_t n) {
  const char *m = r ? PQresultErrorMessage(r) : NULL;
  size_t len;
  if (!m || !*m) m = pg ? PQerrorMessage(pg) : "out of memory";
  if (!m || !*m) m = "unknown error";
  snprintf(out, n, "%s", m);
  for (len = strlen(out); len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '); len--)
    out[len - 1] = 0;
  for (len = 0; out[len]; len++)
    if (out[len] == '\n' || out[len] == '\t') out[len] = ' ';
}

PGresult *pgc_exec(PGconn *pg, const char *sql, int nparams, const char *const *vals) {
  return PQexecParams(pg, sql, nparams, NULL, vals, NULL, NULL, 0);
}

int pgc_ok(const PGresult *r) {
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static int session_setup(PGconn *pg, const store_pg_knobs *k, double stmt_timeout, char *msg,
                         size_t n) {
  char sql[300];
  PGresult *r;
  int ok;
  /* a statement, or a transaction left idle, never holds a lease row's lock past T - D: a
   * paused or slow holder cannot stall a takeover (or its own member's renewal) beyond the
   * point where the fence has stopped it anyway. The lease connection (asked for with a
   * statement timeout of T) also waits at most r/2 for a row lock: a renewal or a takeover
   * stuck behind a lock gives up and the next round tries again */
  double cap = k->lease - k->act, st = stmt_timeout < cap ? stmt_timeout : cap;
  long lock_ms = stmt_timeout == k->lease ? (long)(k->renew * 500) : 0;
  snprintf(sql, sizeof sql, "SET idle_in_transaction_session_timeout = %ld; "
           "SET statement_timeout = %ld; SET lock_timeout = %ld; SET TIME ZONE 'UTC'; "
           "SET client_min_messages = warning",
           (long)(cap * 1000), (long)(st * 1000), lock_ms > 0 ? lock_ms : 0);
  r = PQexec(pg, sql);
  ok = pgc_ok(r);
  if (!ok) pgc_error(pg, r, msg, n);
  PQclear(r);
  return ok ? 0 : -1;
}

/* The URL parsed before libpq connects: a URL that does not parse is refused here with a
 * message of ours (libpq's parse errors quote the whole URI, password included), and the
 * password of one that does is registered with the log, so that no later libpq message can
 * show it either. */
static int check_url(const char *url, char *msg, size_t n) {
  char *err = NULL, shown[300];
  PQconninfoOption *o = PQconninfoParse(url, &err), *p;
  PQfreemem(err);   /* never shown: it may quote the password */
  if (!o) {
    pgc_display(url, shown, sizeof shown);
    snprintf(msg, n, "malformed PostgreSQL URL (%s, password masked): not a libpq connection "
             "string or URI", shown);
    return -1;
  }
  for (p = o; p->keyword; p++)
    if (strcmp(p->keyword, "password") == 0 && p->val && *p->val) log_add_secret(p->val);
  PQconninfoFree(o);
  return 0;
}

PGconn *pgc_connect(const char *url, const store_pg_knobs *k, double stmt_timeout, char *msg,
                    size_t n) {
  /* the URL first (expanded), then what recwatch adds: a later keyword overrides it. The
   * keepalives and tcp_user_timeout bound how long a call waits on a dead network (a
   * server-side statement_timeout cannot) */
  char tcp[32];
  const char *keys[] = {"dbname", "fallback_application_name", "connect_timeout", "keepalives",
                        "keepalives_idle", "keepalives_interval", "keepalives_count",
                        "tcp_user_timeout", NULL};
  const char *vals[] = {url, "recwatch", "3", "1", "5", "2", "3", tcp, NULL};
  PGconn *pg;
  if (check_url(url, msg, n)) return NULL;
  snprintf(tcp, sizeof tcp, "%ld", (long)((stmt_timeout + 5) * 1000));
  pg = PQconnectdbParams(keys, vals, 1);
  if (!pg || PQstatus(pg) != CONNECTION_OK) {
    char e[400];
    pgc_error(pg, NULL, e, sizeof e);
    snprintf(msg, n, "cannot connect to PostgreSQL: %s", e);
    PQfinish(pg);
    return NULL;
  }
  if (session_setup(pg, k, stmt_timeout, msg, n)) {
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

int pgc_ensure(PGconn *pg, const store_pg_knobs *k, double stmt_timeout, char *msg, size_t n) {
  char e[400];
  if (PQstatus(pg) == CONNECTION_OK) return 0;
  PQreset(pg);
  if (PQstatus(pg) != CONNECTION_OK) {
    pgc_error(pg, NULL, e, sizeof e);
    snprintf(msg, n, "cannot reach PostgreSQL: %s", e);
    return -1;
  }
  return session_setup(pg, k, stmt_timeout, msg, n);
}

void pgc_display(const char *url, char *out, size_t n) {
  char *err = NULL;
  PQconninfoOption *o = PQconninfoParse(url, &err), *p;
  const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
  PQfreemem(err);
  for (p = o; p && p->keyword; p++) {
    if (!p->val || !*p->val) continue;
    if (strcmp(p->keyword, "user") == 0) user = p->val;
    else if (strcmp(p->keyword, "host") == 0) host = p->val;
    else if (strcmp(p->keyword, "port") == 0) port = p->val;
    else if (strcmp(p->keyword, "dbname") == 0) db = p->val;
  }
  snprintf(out, n, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
           host ? host : "", port ? ":" : "", port ? port : "", db ? db : "");
  PQconninfoFree(o);
}

char *pgc_array(const char *const *v, int n) {
  size_t len = 3;
  int i;
  char *out, *p;
  for (i = 0; i < n; i++) len += 2 * strlen(v[i]) + 3;
  if (!(out = malloc(len))) return NULL;
  p = out;
  *p++ = '{';
  for (i = 0; i < n; i++) {
    const char *s;
    if (i) *p++ = ',';
    *p++ = '"';
    for (s = v[i]; *s; s++) {
      if (*s == '"' || *s == '\\') *p++ = '\\';
      *p++ = *s;
    }
    *p++ = '"';
  }
  *p++ = '}';
  *p = 0;
  return out;
}

static uv_once_t claimer_once = UV_ONCE_INIT;
static char claimer[200];
static void claimer_init(void) {
  unsigned char b[8] = {0};
  uint64_t x = uv_hrtime() ^ ((uint64_t)uv_os_getpid() << 32);
  int i;
  if (uv_random(NULL, NULL, b, sizeof b, 0, NULL) == 0)
    for (i = 0; i < 8; i++) x ^= (uint64_t)b[i] << (8 * i);
  snprintf(claimer, sizeof claimer, "%s/%016llx", fence_member(), (unsigned long long)x);
}

const char *pgc_claimer(void) {
  uv_once(&claimer_once, claimer_init);
  return claimer;
}

/* ---- the outage ---- */

static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t mu;
static int down;            /* the database could not be reached at the last report */
static double down_since;   /* fence_now() */
static char down_why[400];
static metric_t *up_metric;
static atomic_int used;     /* a PostgreSQL store reported once: before, nothing is said */

static void init(void) {
  uv_mutex_init(&mu);
  up_metric = metrics_register(METRIC_GAUGE, "recwatch_store_up",
                               "1 while the PostgreSQL store answers, 0 while it cannot be "
                               "reached (the fleet stops acting within D s)",
                               0, NULL, NULL, 0, NULL, 0);
}

void pgc_health(int ok, const char *display, const char *why) {
  int was;
  double since;
  uv_once(&once, init);
  atomic_store(&used, 1);
  uv_mutex_lock(&mu);
  was = down;
  since = down_since;
  down = !ok;
  if (!ok && !was) down_since = fence_now();
  if (!ok) snprintf(down_why, sizeof down_why, "%s", why ? why : "unreachable");
  uv_mutex_unlock(&mu);
  if (up_metric) metrics_set(up_metric, NULL, ok ? 1 : 0, NULL, 0);
  if (!ok && !was)
    log_error("kind=store_outage the PostgreSQL store %s cannot be reached: %s; this member "
              "stops acting for its units (fenced) until it is back, and /healthz fails",
              display, why ? why : "unreachable");
  else if (ok && was)
    log_info("kind=store_outage_over the PostgreSQL store %s answers again after %.1f s",
             display, fence_now() - since);
}

int store_pg_outage(char *why, size_t n) {
  int d;
  if (!atomic_load(&used)) return 0;   /* no PostgreSQL store: no metric registered either */
  uv_mutex_lock(&mu);
  d = down;
  if (d && why && n)
    snprintf(why, n, "the PostgreSQL store cannot be reached (for %.0f s): %s",
             fence_now() - down_since, down_why);
  uv_mutex_unlock(&mu);
  return d;
}
