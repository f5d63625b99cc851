/* store_pg: the PostgreSQL backend of the store (store.h): many members share one database.
 * Owns the tables and the store operations as SQL: kv (keys, values, the unit each key
 * belongs to), outbox (SQLite's columns, plus the unit it was enqueued under and a claim:
 * locked_until, locked_by), events (as SQLite's), and the fleet's members, leases and units
 * (store_pg_lease.c runs those). Every statement of a store runs on the store thread (the
 * jobs of store.c) on the store's own connection; the lease thread has a connection of its
 * own; the events committer opens another (events.c).
 *
 * Fencing: a write set with a precondition (unit, token) first reads, in its own
 * transaction, SELECT token FROM leases WHERE unit = $1 AND owner = $me FOR SHARE: a missing
 * row or another token refuses it (result.fenced, nothing committed). The share lock makes a
 * takeover that commits at the same moment wait for this transaction, or this one see it.
 *
 * Keys: a key "U/..." whose U contains ':' belongs to unit U ("agora:<customer id>/session/x");
 * other keys belong to no unit (''). kv.unit is that unit (the cache loads by it). Writing a
 * key "U/session/<id>" registers U in units and bumps its version (the owner then reloads
 * the unit's sessions). Outbox rows carry the unit of the write set that enqueued them (''
 * when none); a claim takes rows of no unit and of the units this member may act for, FOR
 * UPDATE SKIP LOCKED, and locks them for the lease time (locked_until, the database clock).
 *
 * Times: the outbox's created_at/next_at/delivered_at are the engine's wall times, as in
 * SQLite (a virtual clock runs them in tests); leases, members and claims use the database
 * clock only (now()). Text: PostgreSQL's text holds no NUL byte and only valid UTF-8: such a
 * key or value is refused with a message (SQLite keeps any bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include "fence.h"
#include "store_pg_int.h"

#define STMT_TIMEOUT 30   /* s: a store statement that takes longer fails (the job says so) */

struct store_conn {
  PGconn *pg;
  char *url;
  char display[300];
  store_pg_knobs k;
  int member;          /* joins the fleet (store_open); else every key is this store's */
  int gave_open;       /* the gain of "" at open was handed out */
  pg_lease *lease;
  int64_t ev_cursor;   /* the events connection: the highest seq load_events gave */
};

static const char schema[] =
  "SELECT pg_advisory_xact_lock(5201575254);"   /* members starting together: one at a time */
  "CREATE TABLE IF NOT EXISTS kv (key text COLLATE \"C\" PRIMARY KEY, value text NOT NULL,"
  " unit text NOT NULL DEFAULT '', updated_at double precision);"
  "CREATE INDEX IF NOT EXISTS kv_unit ON kv(unit);"
  "CREATE TABLE IF NOT EXISTS outbox (id text NOT NULL, dest text NOT NULL, payload text NOT NULL,"
  " created_at double precision NOT NULL, attempts integer NOT NULL DEFAULT 0,"
  " next_at double precision NOT NULL, last_error text, delivered_at double precision,"
  " unit text NOT NULL DEFAULT '', locked_until timestamptz, locked_by text,"
  " PRIMARY KEY (id, dest));"
  "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(next_at) WHERE delivered_at IS NULL;"
  "CREATE TABLE IF NOT EXISTS events (seq bigserial PRIMARY KEY, notice_id text NOT NULL UNIQUE,"
  " body text NOT NULL, received_at double precision NOT NULL, done_at double precision);"
  "CREATE INDEX IF NOT EXISTS events_pending ON events(seq) WHERE done_at IS NULL;"
  "CREATE TABLE IF NOT EXISTS members (member text PRIMARY KEY, expires_at timestamptz NOT NULL);"
  "ALTER TABLE members ADD COLUMN IF NOT EXISTS nonce text;"
  "CREATE TABLE IF NOT EXISTS leases (unit text PRIMARY KEY, owner text NOT NULL,"
  " token bigint NOT NULL, expires_at timestamptz NOT NULL);"
  "CREATE TABLE IF NOT EXISTS units (unit text PRIMARY KEY, version bigint NOT NULL DEFAULT 0);";

/* The statements of the ops of a write set. Parameters: P_S0..P_S2 the op's strings, P_X its
 * number, P_UNIT the unit (of the key for kv, of the write set for the outbox). */
enum { P_NONE, P_S0, P_S1, P_S2, P_X, P_UNIT, P_ME };
static const struct {
  const char *sql, *name;
  int p[5];
} op_sql[] = {
  [STORE_SET] = {"INSERT INTO kv(key, value, unit, updated_at) VALUES ($1, $2, $3, $4) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value, unit = excluded.unit, "
                 "updated_at = excluded.updated_at", "set", {P_S0, P_S1, P_UNIT, P_X}},
  [STORE_DEL] = {"DELETE FROM kv WHERE key = $1", "set", {P_S0}},
  [STORE_ENQ] = {"INSERT INTO outbox(id, dest, payload, created_at, attempts, next_at, unit) "
                 "VALUES ($1, $2, $3, $4, 0, $4, $5) ON CONFLICT (id, dest) DO NOTHING",
                 "enqueue", {P_S0, P_S1, P_S2, P_X, P_UNIT}},
  [STORE_DELIVERED] = {"UPDATE outbox SET delivered_at = $3, attempts = attempts + 1, "
                       "locked_until = NULL, locked_by = NULL "
                       "WHERE id = $1 AND dest = $2 AND delivered_at IS NULL "
                       "AND (locked_by IS NULL OR locked_by = $4)",
                       "delivered", {P_S0, P_S1, P_X, P_ME}},
  [STORE_FAILED] = {"UPDATE outbox SET attempts = attempts + 1, next_at = $3, last_error = $4, "
                    "locked_until = NULL, locked_by = NULL "
                    "WHERE id = $1 AND dest = $2 AND delivered_at IS NULL "
                    "AND (locked_by IS NULL OR locked_by = $5)",
                    "attempt_failed", {P_S0, P_S1, P_X, P_S2, P_ME}},
  [STORE_PRUNE] = {"DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
                   "prune", {P_X}},
  [STORE_EVENT_ADD] = {"INSERT INTO events(notice_id, body, received_at) VALUES ($1, $2, $3) "
                       "ON CONFLICT (notice_id) DO NOTHING", "event_add", {P_S0, P_S1, P_X}},
  [STORE_EVENT_DONE] = {"UPDATE events SET done_at = $2, body = '' "
                        "WHERE notice_id = $1 AND done_at IS NULL", "event_done", {P_S0, P_X}},
  /* shared by a fleet: an event no member's watcher took ages out too (SQLite keeps it) */
  [STORE_EVENT_PRUNE] = {"DELETE FROM events WHERE received_at < $1",
                         "event_prune", {P_X}},
};

/* The unit a key belongs to ("U" of "U/...", U containing ':'), copied into out ("" none). */
static void key_unit(const char *k, size_t kn, char *out, size_t n) {
  const char *slash = memchr(k, '/', kn);
  size_t un;
  out[0] = 0;
  if (!slash || slash == k || !memchr(k, ':', (size_t)(slash - k))) return;
  un = (size_t)(slash - k);
  if (un >= n) un = n - 1;
  memcpy(out, k, un);
  out[un] = 0;
}

/* 1 when key is "U/session/<id>" of a unit U. */
static int session_key(const char *k, size_t kn, const char *unit) {
  size_t un = strlen(unit);
  return un && kn > un + 9 && memcmp(k + un, "/session/", 9) == 0;
}

/* ---- the store thread ---- */

static void fail(store_conn *c, store_result *r, const char *what, PGresult *res) {
  char e[400];
  pgc_error(c->pg, res, e, sizeof e);
  snprintf(r->err, sizeof r->err, "rec.store: %s: %.300s (%.150s)", what, e, c->display);
  r->ok = 0;
}

/* The connection works, or is made again; else the job fails (and the outage is told). */
static int ready(store_conn *c, store_result *r) {
  char e[400];
  if (pgc_ensure(c->pg, &c->k, STMT_TIMEOUT, e, sizeof e) == 0) return 0;
  snprintf(r->err, sizeof r->err, "rec.store: %.300s (%.150s)", e, c->display);
  pgc_health(0, c->display, e);
  return -1;
}

/* Runs sql; 0, or -1 with the job failed (res cleared). Changed rows in *changes. */
static int run(store_conn *c, store_result *r, const char *what, const char *sql, int n,
               const char *const *v, int *changes) {
  PGresult *res = pgc_exec(c->pg, sql, n, v);
  if (!pgc_ok(res)) {
    fail(c, r, what, res);
    PQclear(res);
    return -1;   /* a broken connection is made again (or the outage told) by the next ready() */
  }
  if (changes) *changes = atoi(PQcmdTuples(res));
  PQclear(res);
  return 0;
}

static int text_ok(const store_op *o, store_result *r) {
  int i;
  for (i = 0; i < 3; i++)
    if (o->s[i] && memchr(o->s[i], 0, o->n[i])) {
      snprintf(r->err, sizeof r->err, "rec.store: %s: PostgreSQL text cannot hold a NUL byte",
               op_sql[o->kind].name);
      return 0;
    }
  return 1;
}

static void rollback(store_conn *c) {
  PQclear(PQexec(c->pg, "ROLLBACK"));
}

/* One op: its statement, and for a session key the units row. */
static int run_op(store_conn *c, const store_writeset *ws, const store_op *o, store_result *r) {
  char x[40], ku[256];
  const char *v[5];
  int i, np = 0, ch = 0;
  key_unit(o->s[0] ? o->s[0] : "", o->s[0] ? o->n[0] : 0, ku, sizeof ku);
  snprintf(x, sizeof x, "%.17g", o->x);
  for (i = 0; i < 5 && op_sql[o->kind].p[i]; i++, np++) {
    int p = op_sql[o->kind].p[i];
    v[i] = p == P_X ? x : p == P_ME ? pgc_claimer() : p == P_UNIT ? (o->kind == STORE_ENQ ? (ws->unit ? ws->unit : "") : ku)
                                      : o->s[p - P_S0];
  }
  if (run(c, r, op_sql[o->kind].name, op_sql[o->kind].sql, np, v, &ch)) return -1;
  r->changes = ch;
  if ((o->kind == STORE_SET || (o->kind == STORE_DEL && ch > 0)) && session_key(o->s[0], o->n[0], ku)) {
    const char *u[1] = {ku};
    int ign;
    if (run(c, r, "units", "INSERT INTO units(unit, version) VALUES ($1, 1) ON CONFLICT (unit) "
            "DO UPDATE SET version = units.version + 1", 1, u, &ign))
      return -1;
  }
  return ch;
}

/* A key of no unit (a silence, an alert group, a plain watcher's state): other members cache
 * these keys too, so the commit that writes one bumps the version of the pseudo-unit '' in
 * units, which the lease rounds read with the units' versions (store_pg_lease.c). */
static int shared_key(const store_op *o) {
  char ku[256];
  if (o->kind != STORE_SET && o->kind != STORE_DEL) return 0;
  key_unit(o->s[0] ? o->s[0] : "", o->s[0] ? o->n[0] : 0, ku, sizeof ku);
  return ku[0] == 0;
}

static void pg_commit(store_conn *c, const store_writeset *ws, store_result *r) {
  int i, ch, shared = 0;
  int64_t shared_ver = 0;
  for (i = 0; i < ws->nops; i++)
    if (!text_ok(&ws->ops[i], r)) return;
  if (ready(c, r)) return;
  if (run(c, r, "begin", "BEGIN", 0, NULL, NULL)) {
    /* the connection died since the last job (a restarted server): nothing was sent, so
     * once more on a new one */
    if (PQstatus(c->pg) == CONNECTION_OK || ready(c, r) ||
        run(c, r, "begin", "BEGIN", 0, NULL, NULL))
      return;
    r->err[0] = 0;
  }
  if (ws->unit) {
    const char *v[2] = {ws->unit, fence_member()};
    PGresult *res = pgc_exec(c->pg, "SELECT token FROM leases WHERE unit = $1 AND owner = $2 "
                             "FOR SHARE", 2, v);
    uint64_t have;
    if (!pgc_ok(res)) {
      fail(c, r, "fence", res);
      PQclear(res);
      goto rollback;
    }
    have = PQntuples(res) ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (have == 0 || have != ws->token) {
      r->fenced = 1;
      if (have == 0)
        snprintf(r->err, sizeof r->err, "rec.store: fenced: unit %s is not held by this member "
                 "(%s): nothing was written", ws->unit, fence_member());
      else
        snprintf(r->err, sizeof r->err, "rec.store: fenced: unit %s is held under token %llu, "
                 "this write under %llu: nothing was written", ws->unit,
                 (unsigned long long)have, (unsigned long long)ws->token);
      goto rollback;
    }
  }
  for (i = 0; i < ws->nops; i++) {
    const store_op *o = &ws->ops[i];
    if ((ch = run_op(c, ws, o, r)) < 0) goto rollback;
    if (shared_key(o) && (o->kind == STORE_SET || ch > 0)) shared = 1;
    if (ws->changed) ws->changed[i] = ch;
    if (o->kind >= STORE_ENQ && o->kind <= STORE_FAILED) r->alerts[o->kind - STORE_ENQ] += ch;
  }
  if (shared) {   /* last, so the row lock on '' is held for the shortest time */
    PGresult *res = pgc_exec(c->pg, "INSERT INTO units(unit, version) VALUES ('', 1) "
                             "ON CONFLICT (unit) DO UPDATE SET version = units.version + 1 "
                             "RETURNING version", 0, NULL);
    if (!pgc_ok(res) || PQntuples(res) != 1) {
      fail(c, r, "units", res);
      PQclear(res);
      goto rollback;
    }
    shared_ver = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
  }
  if (run(c, r, "commit", "COMMIT", 0, NULL, NULL)) return;
  if (shared_ver && c->lease) pgl_shared_wrote(c->lease, shared_ver);
  r->ok = 1;
  r->pending = -1;
  if (r->alerts[0] + r->alerts[1] + r->alerts[2] > 0) {
    PGresult *res = pgc_exec(c->pg, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL", 0, NULL);
    if (pgc_ok(res) && PQntuples(res)) r->pending = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
  }
  return;
rollback:
  memset(r->alerts, 0, sizeof r->alerts);
  if (PQstatus(c->pg) == CONNECTION_OK) rollback(c);
}

static void pg_counts(store_conn *c, store_result *r) {
  PGresult *res;
  if (ready(c, r)) return;
  res = pgc_exec(c->pg, "SELECT count(*) FILTER (WHERE delivered_at IS NULL), "
                 "count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM outbox", 0, NULL);
  if (!pgc_ok(res) || PQntuples(res) != 1) {
    fail(c, r, "counts", res);
    PQclear(res);
    return;
  }
  r->counts[0] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  r->counts[1] = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
  r->pending = r->counts[0];
  r->ok = 1;
  PQclear(res);
}

static void take_cell(store_cell *cell, PGresult *res, int row, int col, int type) {
  memset(cell, 0, sizeof *cell);
  if (PQgetisnull(res, row, col)) return;
  if (type == STORE_INT) {
    cell->type = STORE_INT;
    cell->i = strtoll(PQgetvalue(res, row, col), NULL, 10);
  } else if (type == STORE_REAL) {
    cell->type = STORE_REAL;
    cell->d = strtod(PQgetvalue(res, row, col), NULL);
  } else {
    cell->n = (size_t)PQgetlength(res, row, col);
    if (type == STORE_NULL && cell->n == 0) return;   /* the unit '' is no unit */
    if ((cell->s = malloc(cell->n + 1)) != NULL) {
      memcpy(cell->s, PQgetvalue(res, row, col), cell->n);
      cell->s[cell->n] = 0;
      cell->type = STORE_TEXT;
    }
  }
}

/* The due rows of no unit and of the units this member may act for, oldest first, locked for
 * lease seconds (the database clock) so that no other member sends them meanwhile. */
static void pg_claim(store_conn *c, double now, long limit, double lease, store_result *r) {
  static const int types[STORE_NCOLS] = {STORE_TEXT, STORE_TEXT, STORE_TEXT, STORE_INT,
                                         STORE_REAL, STORE_REAL, STORE_TEXT, STORE_NULL};
  char snow[40], slim[24], slease[40], *units;
  const char *v[5];
  PGresult *res;
  int i, k;
  if (ready(c, r)) return;
  units = c->lease ? pgl_actionable(c->lease) : strdup("{}");
  if (!units) {
    snprintf(r->err, sizeof r->err, "rec.store: pending: out of memory");
    return;
  }
  snprintf(snow, sizeof snow, "%.17g", now);
  snprintf(slim, sizeof slim, "%ld", limit > 0 ? limit : 0);
  snprintf(slease, sizeof slease, "%.3f", lease > 0 ? lease : c->k.lease);
  v[0] = snow;
  v[1] = slim;
  v[2] = units;
  v[3] = slease;
  v[4] = pgc_claimer();
  res = pgc_exec(c->pg,
    "WITH c AS (SELECT id, dest FROM outbox WHERE delivered_at IS NULL AND next_at <= $1 "
    " AND (unit = '' OR unit = ANY($3::text[])) "
    " AND (locked_until IS NULL OR locked_until <= now() OR locked_by = $5) "
    " ORDER BY created_at, id, dest LIMIT $2 FOR UPDATE SKIP LOCKED), "
    "u AS (UPDATE outbox o SET locked_until = now() + make_interval(secs => $4::double precision), "
    " locked_by = $5 FROM c WHERE o.id = c.id AND o.dest = c.dest "
    " RETURNING o.id, o.dest, o.payload, o.attempts, o.created_at, o.next_at, o.last_error, o.unit) "
    "SELECT * FROM u ORDER BY created_at, id, dest", 5, v);
  free(units);
  if (!pgc_ok(res)) {
    fail(c, r, "pending", res);
    PQclear(res);
    return;
  }
  r->nrows = PQntuples(res);
  if (r->nrows && !(r->cells = calloc((size_t)r->nrows * STORE_NCOLS, sizeof *r->cells))) {
    r->nrows = 0;
    PQclear(res);
    snprintf(r->err, sizeof r->err, "rec.store: pending: out of memory");
    return;
  }
  for (i = 0; i < r->nrows; i++)
    for (k = 0; k < STORE_NCOLS; k++) take_cell(&r->cells[i * STORE_NCOLS + k], res, i, k, types[k]);
  PQclear(res);
  r->ok = 1;
}

/* ---- open / close (loop thread), loads (store thread) ---- */

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* No writer lock: many members share the database. The key names the database (a hash of
 * the connection string, which may hold a password). */
static int pg_lock(const char *where, const void *owner, store_ident *id, char *msg, size_t n) {
  snprintf(id->key, sizeof id->key, "pg:%016llx", (unsigned long long)fnv(where));
  id->a = id->b = 0;
  return 0;
}

static void pg_owner_gone(const void *owner) { (void)owner; }

static void pg_close(store_conn *c) {
  if (!c) return;
  if (c->lease) pgl_stop(c->lease);
  PQfinish(c->pg);
  free(c->url);
  free(c);
}

static store_conn *pg_open(const char *where, const store_ident *id, char *msg, size_t n) {
  store_conn *c;
  PGresult *res;
  char e[600];
  if (!where) {
    snprintf(msg, n, "a PostgreSQL store needs a connection URL");
    return NULL;
  }
  if (!(c = calloc(1, sizeof *c)) || !(c->url = strdup(where))) {
    free(c);
    snprintf(msg, n, "out of memory");
    return NULL;
  }
  pgc_display(where, c->display, sizeof c->display);
  c->member = id && !id->no_leases;
  if (store_pg_knobs_get(&c->k, msg, n)) goto fail;
  if (!(c->pg = pgc_connect(where, &c->k, STMT_TIMEOUT, e, sizeof e))) {
    snprintf(msg, n, "the PostgreSQL store %s: %s", c->display, e);
    goto fail;
  }
  res = PQexec(c->pg, schema);   /* one implicit transaction (a multi-statement string) */
  if (!pgc_ok(res)) {
    pgc_error(c->pg, res, e, sizeof e);
    snprintf(msg, n, "the PostgreSQL store %s: cannot set up the tables: %s", c->display, e);
    PQclear(res);
    goto fail;
  }
  PQclear(res);
  return c;
fail:
  pg_close(c);
  return NULL;
}

/* At open: the keys of no unit (a member; its units come with their leases), or every key
 * (a store that does not join: sessions add/list). Then the lease thread's events. */
static void pg_ownership(store_conn *c, store_unit_fn fn, void *arg) {
  if (!c->gave_open) {
    c->gave_open = 1;
    fn(arg, STORE_UNIT_GAINED, "", 0);
  }
  if (c->lease) pgl_events(c->lease, fn, arg);
}

static int pg_load_unit(store_conn *c, const char *unit, store_kv_fn fn, void *arg, char *msg,
                        size_t n) {
  store_result r;
  PGresult *res;
  const char *v[1] = {unit};
  int i;
  memset(&r, 0, sizeof r);
  if (ready(c, &r)) {
    snprintf(msg, n, "%s", r.err);
    return -1;
  }
  if (!*unit && !c->member)
    res = pgc_exec(c->pg, "SELECT key, value FROM kv ORDER BY key", 0, NULL);
  else if (strchr(unit, '/'))   /* a prefix: "U/session" */
    res = pgc_exec(c->pg, "SELECT key, value FROM kv WHERE key > $1 || '/' AND key < $1 || '0' "
                   "ORDER BY key", 1, v);
  else
    res = pgc_exec(c->pg, "SELECT key, value FROM kv WHERE unit = $1 ORDER BY key", 1, v);
  if (!pgc_ok(res)) {
    char e[400];
    pgc_error(c->pg, res, e, sizeof e);
    snprintf(msg, n, "rec.store: load %s: %s (%s)", *unit ? unit : "(no unit)", e, c->display);
    PQclear(res);
    return -1;
  }
  for (i = 0; i < PQntuples(res); i++)
    fn(arg, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), PQgetvalue(res, i, 1),
       (size_t)PQgetlength(res, i, 1));
  PQclear(res);
  return 0;
}

static int pg_count_pending(store_conn *c, int64_t *out, char *msg, size_t n) {
  store_result r;
  memset(&r, 0, sizeof r);
  pg_counts(c, &r);
  if (!r.ok) {
    snprintf(msg, n, "%s", r.err);
    return -1;
  }
  *out = r.counts[0];
  return 0;
}

/* The events not marked done past the cursor, and those received in the last EV_RECENT s again
 * (a seq is taken at the insert, so an insert that commits late can land behind a seq already
 * read: the caller de-duplicates by noticeId). The first call gives every one not done. */
#define EV_RECENT 60.0
static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static int pg_load_events(store_conn *c, store_event_fn fn, void *arg, char *msg, size_t n) {
  char cur[32], since[40];
  const char *v[2] = {cur, since};
  PGresult *res;
  store_result r;
  int i;
  memset(&r, 0, sizeof r);
  if (ready(c, &r)) {
    snprintf(msg, n, "%s", r.err);
    return -1;
  }
  snprintf(cur, sizeof cur, "%lld", (long long)c->ev_cursor);
  snprintf(since, sizeof since, "%.17g", wall_now() - EV_RECENT);
  res = pgc_exec(c->pg, "SELECT notice_id, body, received_at, seq FROM events "
                 "WHERE done_at IS NULL AND (seq > $1::bigint OR received_at > $2::double precision) "
                 "ORDER BY seq LIMIT 5000", 2, v);
  if (!pgc_ok(res)) {
    char e[400];
    pgc_error(c->pg, res, e, sizeof e);
    snprintf(msg, n, "rec.store: events: %s (%s)", e, c->display);
    PQclear(res);
    return -1;
  }
  for (i = 0; i < PQntuples(res); i++) {
    int64_t seq = strtoll(PQgetvalue(res, i, 3), NULL, 10);
    if (seq > c->ev_cursor) c->ev_cursor = seq;
    fn(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1),
       strtod(PQgetvalue(res, i, 2), NULL));
  }
  PQclear(res);
  return 0;
}

static const char *pg_path(store_conn *c) { return c->display; }

static int pg_leases_start(store_conn *c, void (*wake)(void *), void *arg, char *msg, size_t n) {
  if (!c->member) return 0;
  c->lease = pgl_start(c->url, c->display, &c->k, wake, arg, msg, n);
  return c->lease ? 0 : -1;
}

const store_backend store_pg = {
  "postgresql", pg_lock, pg_owner_gone, pg_open, pg_ownership, pg_load_unit, pg_count_pending,
  pg_commit, pg_claim, pg_counts, pg_path, pg_close, pg_load_events, pg_leases_start,
};
