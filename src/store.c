/* store: the backend-independent part of the state store (store.h). Owns the store thread
 * and its FIFO job queue, the cache of the held units' key/values (a Lua table in the
 * engine's registry, updated in commit order before any task is resumed), the completions
 * back on the loop (a uv_async_t), the outbox metrics, and the acknowledgements that could
 * not be recorded yet.
 *
 * No backend call runs on the loop thread once the store is open: the store thread runs jobs
 * one at a time in the order they were queued; the loop talks to it through a mutex-protected
 * queue and a uv_async_t (referenced only while jobs are in flight, so an idle store never
 * keeps the process alive). A job in flight holds the engine (no virtual-clock jump).
 *
 * Acknowledgements: an alert delivered whose db:delivered failed (the file stayed locked) is
 * handed here (store_ack_later, db:delivered_later): only its record is missing. Before each claim the store
 * thread records the remembered ones first, in the order they came, and stops at the first
 * that fails again; a claim never hands out a row that waits for its record, and the pending
 * count (db:counts) leaves those rows out. So the outbox above never sends an alert twice
 * for a record that did not land, and keeps no list of its own.
 *
 * Units that come and go (a fleet: a backend with leases_start, PostgreSQL):
 * - The cache holds the keys of no unit, and every key of the units held. A key belongs to
 *   unit U when it starts with "U/" and U contains ':' ("agora:<customer id>/..."). On
 *   "gained" the unit's keys are loaded by a job on the store thread (so a slow database
 *   stalls no task) and put in the cache when it finishes, if the unit is still held under
 *   the same token; on "lost" the keys "U/..." leave the cache; on "changed" (another process
 *   edited the watch set) the keys "U/session/..." are loaded again. SQLite gains "" at open
 *   and never loses it, so its cache holds everything.
 * - Lease renewals must never wait behind a slow job: they do not go through this queue. The
 *   backend runs them on a thread and connection of its own and wakes the loop, which drains
 *   its events (be->ownership) in on_async before the finished jobs; a finished write of a
 *   unit no longer held leaves the cache alone.
 * - A unit may be acted for (store_unit, db:unit) while it is held, its keys are loaded, and
 *   the fence (fence.h, installed by the backend) says yes.
 * - A write set's precondition (unit, token) travels with the job; a refused one comes back
 *   as result.fenced and changes nothing, the cache included. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <uv.h>
#include "fence.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "store_pg.h"
#include "store_sqlite.h"

const char *const store_col_names[STORE_NCOLS] = {"id", "dest", "payload", "attempts",
                                                  "created_at", "next_at", "last_error",
                                                  "unit"};

/* A unit held (a fleet): its token, and whether its keys are in the cache yet. */
typedef struct held_unit {
  char *unit;
  uint64_t token;
  int loaded;
} held_unit;

struct store {
  const store_backend *be;
  store_conn *conn;
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv, done_cv;
  uv_async_t async;
  int started, async_inited, quit, inflight;   /* started: the store thread runs */
  store_job *head, *tail;      /* queued for the store thread */
  store_job *dhead, *dtail;    /* done, waiting for the loop */
  lua_State *L;                /* the engine's main state, for the cache */
  engine_t *e;                 /* held (no virtual-clock jump) while a job is in flight */
  int cache_ref;               /* registry ref of the cache table */
  int64_t outbox_seen;         /* its pending rows in recwatch_outbox_pending, -1: none yet */
  unsigned long count_seq;     /* store thread: outbox counts taken so far */
  unsigned long seen_seq;      /* loop: the newest count applied (a sync job can overtake) */
  char key[64];                /* the store's identity: "dev:ino", or ":memory:" */
  int replaced_said;           /* loop: the "replaced" line was logged */
  store_op *acks;              /* loop: delivered, not recorded yet (id, dest), oldest first */
  int nacks, acks_cap;
  int fleet;                   /* the backend has leases (held decides what the cache keeps) */
  held_unit *held;             /* loop: the units held (a fleet) */
  int nheld, heldcap;
};

/* ---- write sets and jobs ---- */

static void op_free(store_op *o) {
  int i;
  for (i = 0; i < 3; i++) free(o->s[i]);
}

int store_ws_add(store_writeset *ws, int kind, double x, const char *const s[3],
                 const size_t n[3]) {
  store_op *o;
  int i;
  if (ws->nops == ws->cap) {
    int cap = ws->cap ? ws->cap * 2 : 4;
    store_op *ops = realloc(ws->ops, (size_t)cap * sizeof *ops);
    if (!ops) return -1;
    ws->ops = ops;
    ws->cap = cap;
  }
  o = &ws->ops[ws->nops];
  memset(o, 0, sizeof *o);
  o->kind = kind;
  o->x = x;
  for (i = 0; i < 3; i++) {
    if (!s[i]) continue;
    if (!(o->s[i] = malloc(n[i] + 1))) {
      op_free(o);
      return -1;
    }
    memcpy(o->s[i], s[i], n[i]);
    o->s[i][n[i]] = 0;
    o->n[i] = n[i];
  }
  ws->nops++;
  return 0;
}

void store_ws_clear(store_writeset *ws) {
  int i;
  for (i = 0; i < ws->nops; i++) op_free(&ws->ops[i]);
  free(ws->ops);
  memset(ws, 0, sizeof *ws);
}

store_job *store_job_new(size_t size, int kind) {
  store_job *j = calloc(1, size < sizeof *j ? sizeof *j : size);
  if (!j) return NULL;
  j->kind = kind;
  j->r.pending = -1;   /* only a job that counts the outbox says how many are pending */
  return j;
}

void store_job_free(store_job *j) {
  int i;
  if (!j) return;
  for (i = 0; i < j->r.nkv; i++) {
    free(j->r.kv[i].k);
    free(j->r.kv[i].v);
  }
  free(j->r.kv);
  free(j->unit);
  store_ws_clear(&j->ws);
  for (i = 0; i < j->r.nrows * STORE_NCOLS; i++) free(j->r.cells[i].s);
  free(j->r.cells);
  for (i = 0; i < j->nacks; i++) op_free(&j->acks[i]);
  free(j->acks);
  free(j);
}

/* ---- the store thread ---- */

/* Records the remembered acknowledgements, oldest first, each in a transaction of its own (as
 * the db:delivered it stands for), until one fails. */
static void record_acks(store_t *s, store_job *j) {
  for (j->acked = 0; j->acked < j->nacks; j->acked++) {
    store_writeset ws = {&j->acks[j->acked], 1, 1, NULL, 0, NULL};
    store_result r;
    int i;
    memset(&r, 0, sizeof r);
    r.pending = -1;
    s->be->commit(s->conn, &ws, &r);
    if (!r.ok) {
      snprintf(j->ack_err, sizeof j->ack_err, "%s", r.err[0] ? r.err : "rec.store: failed");
      return;
    }
    for (i = 0; i < 3; i++) j->r.alerts[i] += r.alerts[i];
    if (r.pending >= 0) j->r.pending = r.pending;
    j->r.replaced |= r.replaced;
  }
}

/* A load job collects the unit's key/values. */
static void kv_collect(void *arg, const char *k, size_t kn, const char *v, size_t vn) {
  store_result *r = arg;
  store_kv *e;
  if (r->nkv == r->kvcap) {
    int cap = r->kvcap ? r->kvcap * 2 : 64;
    store_kv *n = realloc(r->kv, (size_t)cap * sizeof *n);
    if (!n) {
      r->kvcap = -1;   /* out of memory: the load fails */
      return;
    }
    r->kv = n;
    r->kvcap = cap;
  }
  if (r->kvcap < 0) return;
  e = &r->kv[r->nkv];
  e->k = malloc(kn + 1);
  e->v = malloc(vn + 1);
  if (!e->k || !e->v) {
    free(e->k);
    free(e->v);
    r->kvcap = -1;
    return;
  }
  memcpy(e->k, k, kn);
  e->k[kn] = 0;
  memcpy(e->v, v, vn);
  e->v[vn] = 0;
  e->kn = kn;
  e->vn = vn;
  r->nkv++;
}

static void run_job(store_t *s, store_job *j) {
  if (j->kind == STORE_J_LOAD) {
    if (s->be->load_unit(s->conn, j->unit, kv_collect, &j->r, j->r.err, sizeof j->r.err) == 0) {
      if (j->r.kvcap < 0) snprintf(j->r.err, sizeof j->r.err, "rec.store: load: out of memory");
      else j->r.ok = 1;
    }
  } else if (j->kind == STORE_J_WRITE) {
    s->be->commit(s->conn, &j->ws, &j->r);
  } else if (j->kind == STORE_J_CLAIM) {
    record_acks(s, j);
    s->be->claim(s->conn, j->now, j->limit, j->lease, &j->r);
  } else {
    s->be->counts(s->conn, &j->r);
  }
  if (j->r.pending >= 0) j->counted = ++s->count_seq;
}

static void store_main(void *arg) {
  store_t *s = arg;
  uv_mutex_lock(&s->mu);
  for (;;) {
    store_job *j;
    while (!s->head && !s->quit) uv_cond_wait(&s->cv, &s->mu);
    if (!s->head) break;
    j = s->head;
    s->head = j->next;
    if (!s->head) s->tail = NULL;
    j->next = NULL;
    uv_mutex_unlock(&s->mu);
    run_job(s, j);
    uv_mutex_lock(&s->mu);
    j->finished = 1;
    if (j->sync) {
      uv_cond_broadcast(&s->done_cv);
    } else {
      if (s->dtail) s->dtail->next = j;
      else s->dhead = j;
      s->dtail = j;
      uv_async_send(&s->async);
    }
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- back on the loop ---- */

/* The unit a key belongs to: the length of U in "U/..." when U contains ':', else 0. */
static size_t key_unit(const char *k, size_t kn) {
  const char *slash = memchr(k, '/', kn);
  if (!slash || slash == k || !memchr(k, ':', (size_t)(slash - k))) return 0;
  return (size_t)(slash - k);
}

static held_unit *held_find(store_t *s, const char *u, size_t un) {
  int i;
  for (i = 0; i < s->nheld; i++)
    if (strlen(s->held[i].unit) == un && memcmp(s->held[i].unit, u, un) == 0) return &s->held[i];
  return NULL;
}

/* Does the cache keep key? Every key, but in a fleet the keys of units not held. */
static int cache_keeps(store_t *s, const char *k, size_t kn) {
  size_t un;
  if (!s->fleet) return 1;
  un = key_unit(k, kn);
  return un == 0 || held_find(s, k, un) != NULL;
}

static void apply_cache(store_t *s, lua_State *L, store_job *j) {
  int i;
  if (j->cached || !j->r.ok || j->r.fenced || j->kind != STORE_J_WRITE ||
      s->cache_ref == LUA_NOREF)
    return;
  j->cached = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->cache_ref);
  for (i = 0; i < j->ws.nops; i++) {
    const store_op *o = &j->ws.ops[i];
    if ((o->kind == STORE_SET || o->kind == STORE_DEL) && !cache_keeps(s, o->s[0], o->n[0]))
      continue;
    if (o->kind == STORE_SET) {
      lua_pushlstring(L, o->s[0], o->n[0]);
      lua_pushlstring(L, o->s[1], o->n[1]);
      lua_rawset(L, -3);
    } else if (o->kind == STORE_DEL) {
      lua_pushlstring(L, o->s[0], o->n[0]);
      lua_pushnil(L);
      lua_rawset(L, -3);
    }
  }
  lua_pop(L, 1);
}

/* recwatch_outbox_pending is the sum of the undelivered rows of every open store of the
 * process: each adds the count it saw last (at open, after a commit that changed the outbox,
 * at db:counts()), and takes it back when it closes. Only a job that counted changes it (a
 * read job says nothing about the outbox: it once set the gauge to 0 on every delivery
 * pass). */
static uv_mutex_t gauge_mu;
static uv_once_t gauge_once = UV_ONCE_INIT;
static double pending_total;
static void gauge_init(void) { uv_mutex_init(&gauge_mu); }

static void outbox_seen(store_t *s, int64_t n) {
  uv_once(&gauge_once, gauge_init);
  uv_mutex_lock(&gauge_mu);
  if (s->outbox_seen >= 0) pending_total -= (double)s->outbox_seen;
  if (n >= 0) pending_total += (double)n;
  if (pending_total < 0) pending_total = 0;
  s->outbox_seen = n;
  metrics_set1(metrics_builtin()->outbox_pending, NULL, pending_total);
  uv_mutex_unlock(&gauge_mu);
}

/* recwatch_alerts_total{state} counts committed outbox changes */
static void count_alerts(store_t *s, const store_job *j) {
  static const char *const states[3] = {"queued", "delivered", "failed"};
  int i;
  if (!j->r.ok) return;
  if (j->r.replaced && !s->replaced_said) {
    s->replaced_said = 1;
    log_error("kind=state_file the state file %s is no longer the file this process opened "
              "(replaced by a rename, or removed): its writes go to the old file, which the next "
              "start will not see; restart recwatch to use the file now at that path",
              store_path(s));
  }
  for (i = 0; i < 3; i++)
    if (j->r.alerts[i] > 0) metrics_inc1(metrics_builtin()->alerts, states[i], j->r.alerts[i]);
  if (j->r.pending >= 0 && j->counted > s->seen_seq) {
    s->seen_seq = j->counted;
    outbox_seen(s, j->r.pending);
  }
}

static int ack_find(const store_t *s, const char *id, size_t idn, const char *dest, size_t dn) {
  int i;
  for (i = 0; i < s->nacks; i++)
    if (s->acks[i].n[0] == idn && s->acks[i].n[1] == dn && memcmp(s->acks[i].s[0], id, idn) == 0 &&
        memcmp(s->acks[i].s[1], dest, dn) == 0)
      return i;
  return -1;
}

int store_ack_later(store_t *s, const char *id, size_t idn, const char *dest, size_t destn) {
  const char *str[3] = {id, dest, NULL};
  size_t n[3] = {idn, destn, 0};
  store_writeset one = {NULL, 0, 0, NULL, 0, NULL};
  if (ack_find(s, id, idn, dest, destn) >= 0) return 0;
  if (s->nacks == s->acks_cap) {
    int cap = s->acks_cap ? s->acks_cap * 2 : 8;
    store_op *a = realloc(s->acks, (size_t)cap * sizeof *a);
    if (!a) return -1;
    s->acks = a;
    s->acks_cap = cap;
  }
  if (store_ws_add(&one, STORE_DELIVERED, 0, str, n)) return -1;
  s->acks[s->nacks++] = one.ops[0];   /* takes the strings over */
  free(one.ops);
  return 0;
}

static void ack_forget(store_t *s, int i) {
  op_free(&s->acks[i]);
  memmove(&s->acks[i], &s->acks[i + 1], (size_t)(s->nacks - i - 1) * sizeof *s->acks);
  s->nacks--;
}

/* Copies the remembered acknowledgements into a claim, stamped now. */
static void ack_copy(store_t *s, store_job *j) {
  int i;
  if (!s->nacks || !(j->acks = calloc((size_t)s->nacks, sizeof *j->acks))) return;
  for (i = 0; i < s->nacks; i++) {
    const store_op *a = &s->acks[i];
    const char *str[3] = {a->s[0], a->s[1], NULL};
    store_writeset one = {NULL, 0, 0, NULL, 0, NULL};
    if (store_ws_add(&one, STORE_DELIVERED, engine_time(s->e), str, a->n)) break;
    j->acks[j->nacks++] = one.ops[0];
    free(one.ops);
  }
}

/* What the store itself does with a finished job, in commit order: the acknowledgements a
 * claim recorded, the rows it must not hand out, the pending count without them. */
static void settle(store_t *s, store_job *j) {
  int i, k;
  if (j->kind == STORE_J_CLAIM) {
    for (i = 0; i < j->acked; i++) {
      int at = ack_find(s, j->acks[i].s[0], j->acks[i].n[0], j->acks[i].s[1], j->acks[i].n[1]);
      if (at >= 0) ack_forget(s, at);
    }
    if (j->acked < j->nacks)
      log_write(LOG_WARN, j->task, "outbox: alert %s was delivered to %s but cannot be recorded "
                "yet: %s", j->acks[j->acked].s[0], j->acks[j->acked].s[1], j->ack_err);
    for (i = k = 0; j->r.ok && i < j->r.nrows; i++) {
      store_cell *row = &j->r.cells[i * STORE_NCOLS];
      const store_cell *id = &row[STORE_COL_ID], *dest = &row[STORE_COL_DEST];
      if (id->type == STORE_TEXT && dest->type == STORE_TEXT &&
          ack_find(s, id->s, id->n, dest->s, dest->n) >= 0) {
        int c;
        for (c = 0; c < STORE_NCOLS; c++) free(row[c].s);
        continue;
      }
      if (k != i) memcpy(&j->r.cells[k * STORE_NCOLS], row, STORE_NCOLS * sizeof *row);
      k++;
    }
    if (j->r.ok) j->r.nrows = k;
  }
  if (j->kind == STORE_J_COUNTS && j->r.ok)
    j->r.counts[0] = j->r.counts[0] > s->nacks ? j->r.counts[0] - s->nacks : 0;
}

/* ---- units held (a fleet) ---- */

/* Drops the keys "prefix/..." (every key for "") from the cache on top of the stack. */
static void drop_prefix(lua_State *L, const char *p, size_t pn) {
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    size_t kn;
    const char *k = lua_tolstring(L, -2, &kn);
    lua_pop(L, 1);
    if (!pn || (kn > pn && k[pn] == '/' && memcmp(k, p, pn) == 0)) {
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, -4);   /* clearing a field during lua_next is allowed */
    }
  }
}

static void submit_load(store_t *s, held_unit *h, const char *what) {
  store_job *j = store_job_new(sizeof *j, STORE_J_LOAD);
  if (!j || !(j->unit = strdup(what))) {
    store_job_free(j);
    log_error("kind=store_error cannot load the unit %s: out of memory", h->unit);
    return;
  }
  j->token = h->token;
  if (strcmp(what, h->unit) == 0) h->loaded = 0;   /* a whole unit: not actionable until in */
  store_submit(s, j);
}

/* A load finished (in commit order): its keys replace the cached ones of the unit (or of its
 * "U/session" prefix), if the unit is still held under the same token. */
static void apply_load(store_t *s, lua_State *L, store_job *j) {
  const char *slash = strchr(j->unit, '/');
  size_t un = slash ? (size_t)(slash - j->unit) : strlen(j->unit);
  held_unit *h = held_find(s, j->unit, un);
  int i;
  if (j->cached) return;
  j->cached = 1;
  if (!h || h->token != j->token || s->cache_ref == LUA_NOREF || !L) return;
  if (!j->r.ok) {   /* tried again on the next wake of the lease thread */
    log_warn("kind=store_error cannot load the rows of unit %s: %s; retrying", h->unit, j->r.err);
    h->loaded = -1;
    return;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->cache_ref);
  drop_prefix(L, j->unit, strlen(j->unit));
  for (i = 0; i < j->r.nkv; i++) {
    lua_pushlstring(L, j->r.kv[i].k, j->r.kv[i].kn);
    lua_pushlstring(L, j->r.kv[i].v, j->r.kv[i].vn);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
  if (!slash) h->loaded = 1;
}

static void held_drop(store_t *s, held_unit *h) {
  int i = (int)(h - s->held);
  free(h->unit);
  memmove(&s->held[i], &s->held[i + 1], (size_t)(s->nheld - i - 1) * sizeof *s->held);
  s->nheld--;
}

/* An ownership event from the lease thread, on the loop. */
static void on_lease_event(void *arg, int event, const char *unit, uint64_t token) {
  store_t *s = arg;
  lua_State *L = s->L;
  size_t un = strlen(unit);
  held_unit *h = held_find(s, unit, un);
  if (event == STORE_UNIT_GAINED) {
    if (!h) {
      char *u = strdup(unit);
      if (s->nheld == s->heldcap) {
        int cap = s->heldcap ? s->heldcap * 2 : 16;
        held_unit *n = u ? realloc(s->held, (size_t)cap * sizeof *n) : NULL;
        if (!n) {
          free(u);
          log_error("kind=store_error cannot hold the unit %s: out of memory", unit);
          return;
        }
        s->held = n;
        s->heldcap = cap;
      }
      h = &s->held[s->nheld++];
      h->unit = u;
    }
    h->token = token;
    submit_load(s, h, unit);
  } else if (event == STORE_UNIT_LOST) {
    if (h) held_drop(s, h);
    if (s->cache_ref != LUA_NOREF && L && un) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, s->cache_ref);
      drop_prefix(L, unit, un);
      lua_pop(L, 1);
    }
  } else if (event == STORE_UNIT_CHANGED && h) {   /* after a full load still in flight: FIFO */
    char what[600];
    snprintf(what, sizeof what, "%s/session", unit);
    submit_load(s, h, what);
  }
}

static void on_units(store_t *s) {
  int i;
  s->be->ownership(s->conn, on_lease_event, s);
  for (i = 0; i < s->nheld; i++)   /* a load that failed: again */
    if (s->held[i].loaded == -1) submit_load(s, &s->held[i], s->held[i].unit);
}

static void store_wake(void *arg) { uv_async_send(&((store_t *)arg)->async); }

int store_fleet(const store_t *s) { return s && s->fleet; }

int store_unit(store_t *s, const char *unit, uint64_t *token, char *why, size_t whyn) {
  held_unit *h;
  double until;
  *token = 0;
  if (why && whyn) why[0] = 0;
  if (!s->fleet) {
    *token = 1;
    return 1;
  }
  if (!(h = held_find(s, unit, strlen(unit)))) {
    snprintf(why, whyn, "unit %s is not held by this member", unit);
    return 0;
  }
  if (h->loaded != 1) {
    snprintf(why, whyn, "unit %s: its rows are still loading", unit);
    return 0;
  }
  if (!fence_check(unit, &until, why, whyn)) return 0;
  *token = h->token;
  return 1;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void store_push_units(store_t *s, lua_State *L) {
  int i, n = 0;
  lua_newtable(L);
  if (s->fleet) {
    const char **u = s->nheld ? malloc((size_t)s->nheld * sizeof *u) : NULL;
    if (s->nheld && !u) luaL_error(L, "out of memory");
    for (i = 0; i < s->nheld; i++)
      if (s->held[i].loaded == 1) u[n++] = s->held[i].unit;
    if (n > 1) qsort(u, (size_t)n, sizeof *u, cmp_str);
    for (i = 0; i < n; i++) {
      lua_pushstring(L, u[i]);
      lua_rawseti(L, -2, i + 1);
    }
    free(u);
    return;
  }
  /* every unit with a "<unit>/session/" key: a set first, then sorted */
  lua_newtable(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->cache_ref);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    size_t kn, un;
    const char *k = lua_tolstring(L, -2, &kn);
    lua_pop(L, 1);
    un = key_unit(k, kn);
    if (un && kn > un + 9 && memcmp(k + un, "/session/", 9) == 0) {
      lua_pushlstring(L, k, un);
      lua_pushboolean(L, 1);
      lua_rawset(L, -5);
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -4, ++n);
  }
  lua_pop(L, 1);
  lua_getglobal(L, "table");
  lua_getfield(L, -1, "sort");
  lua_remove(L, -2);
  lua_pushvalue(L, -2);
  lua_call(L, 1, 0);
}

/* Hands finished jobs back. Taken as one list first: a resumed task may close the store (the
 * struct itself lives until the async handle's close callback). The lease thread's events
 * go first: a unit lost leaves the cache before a late job of it completes. */
static void on_async(uv_async_t *h) {
  store_t *s = h->data;
  store_job *j, *list;
  if (s->fleet) on_units(s);
  uv_mutex_lock(&s->mu);
  list = s->dhead;
  s->dhead = s->dtail = NULL;
  uv_mutex_unlock(&s->mu);
  for (j = list; j; j = j->next) {
    if (j->kind == STORE_J_LOAD) apply_load(s, s->L, j);
    apply_cache(s, s->L, j);  /* in commit order, before any resume */
    count_alerts(s, j);
    settle(s, j);
  }
  while ((j = list) != NULL) {
    list = j->next;
    if (j->done) j->done(j, s->L);
    else store_job_free(j);
    engine_release(s->e);
    if (--s->inflight == 0 && !uv_is_closing((uv_handle_t *)&s->async))
      uv_unref((uv_handle_t *)&s->async);
  }
}

static void enqueue(store_t *s, store_job *j) {
  if (j->kind == STORE_J_CLAIM) ack_copy(s, j);
  if (s->tail) s->tail->next = j;
  else s->head = j;
  s->tail = j;
  uv_cond_signal(&s->cv);
}

void store_submit(store_t *s, store_job *j) {
  if (s->inflight++ == 0) uv_ref((uv_handle_t *)&s->async);
  engine_hold(s->e);
  uv_mutex_lock(&s->mu);
  enqueue(s, j);
  uv_mutex_unlock(&s->mu);
}

void store_run_sync(store_t *s, store_job *j, lua_State *L) {
  store_job *k;
  j->sync = 1;
  uv_mutex_lock(&s->mu);
  enqueue(s, j);
  while (!j->finished) uv_cond_wait(&s->done_cv, &s->mu);
  /* jobs that committed before this one and wait for on_async: their writes go first */
  for (k = s->dhead; k; k = k->next) {
    if (k->kind == STORE_J_LOAD) apply_load(s, L, k);
    apply_cache(s, L, k);
  }
  uv_mutex_unlock(&s->mu);
  apply_cache(s, L, j);
  count_alerts(s, j);   /* the metrics as on_async would (it does not see a sync job) */
  settle(s, j);
}

/* ---- open / close ---- */

static void free_store_cb(uv_handle_t *h) {
  store_t *s = h->data;
  free(s);
}

static void free_acks(store_t *s) {
  while (s->nacks > 0) ack_forget(s, s->nacks - 1);
  free(s->acks);
  s->acks = NULL;
}

void store_close(store_t *s, lua_State *L) {
  store_job *j;
  if (!s) return;
  if (s->started) {
    uv_mutex_lock(&s->mu);
    s->quit = 1;
    uv_cond_signal(&s->cv);
    uv_mutex_unlock(&s->mu);
    uv_thread_join(&s->thread);
    while ((j = s->dhead) != NULL) {
      s->dhead = j->next;
      if (L) apply_cache(s, L, j);
      count_alerts(s, j);
      settle(s, j);
      if (j->done) j->done(j, L);
      else store_job_free(j);
      if (s->inflight > 0) {
        s->inflight--;
        engine_release(s->e);
      }
    }
    s->dtail = NULL;
    uv_mutex_destroy(&s->mu);
    uv_cond_destroy(&s->cv);
    uv_cond_destroy(&s->done_cv);
  }
  outbox_seen(s, -1);   /* a closed store's backlog is no longer this process's */
  free_acks(s);
  if (s->conn) s->be->close(s->conn);   /* a backend with leases releases them here */
  s->conn = NULL;
  while (s->nheld > 0) held_drop(s, &s->held[s->nheld - 1]);
  free(s->held);
  s->held = NULL;
  s->fleet = 0;
  if (L && s->cache_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->cache_ref);
  s->cache_ref = LUA_NOREF;
  s->started = 0;
  if (s->async_inited) uv_close((uv_handle_t *)&s->async, free_store_cb);
  else free(s);
}

/* The cache takes a unit's key/values (the table is on top of the stack). */
static void cache_put(void *arg, const char *k, size_t kn, const char *v, size_t vn) {
  lua_State *L = arg;
  lua_pushlstring(L, k, kn);
  lua_pushlstring(L, v, vn);
  lua_rawset(L, -3);
}

typedef struct unit_ctx {
  store_t *s;
  lua_State *L;
  char *msg;
  size_t n;
  int failed;
} unit_ctx;

/* An ownership event at open, the cache table on top of the stack: a unit gained is loaded;
 * a unit lost drops its keys ("unit/..."; every key for ""). */
static void on_unit(void *arg, int event, const char *unit, uint64_t token) {
  unit_ctx *u = arg;
  lua_State *L = u->L;
  size_t un = strlen(unit);
  if (u->failed) return;
  if (event == STORE_UNIT_GAINED) {
    if (u->s->be->load_unit(u->s->conn, unit, cache_put, L, u->msg, u->n)) u->failed = 1;
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    size_t kn;
    const char *k = lua_tolstring(L, -2, &kn);
    lua_pop(L, 1);
    if (!un || (kn > un && k[un] == '/' && memcmp(k, unit, un) == 0)) {
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, -4);   /* clearing a field during lua_next is allowed */
    }
  }
}

store_t *store_open(engine_t *e, lua_State *L, const store_backend *be, const char *path,
                    const store_ident *id, char *msg, size_t n) {
  store_t *s = calloc(1, sizeof *s);
  unit_ctx u;
  int64_t pending = 0;
  if (!s) {
    snprintf(msg, n, "out of memory");
    return NULL;
  }
  s->be = be;
  s->cache_ref = LUA_NOREF;
  s->outbox_seen = -1;
  snprintf(s->key, sizeof s->key, "%s", id ? id->key : ":memory:");
  if (!(s->conn = be->open(path, id, msg, n))) goto fail;
  /* the cache: the units held, read once here, then kept by the commits */
  lua_newtable(L);
  u.s = s;
  u.L = L;
  u.msg = msg;
  u.n = n;
  u.failed = 0;
  be->ownership(s->conn, on_unit, &u);
  /* the backlog a previous run left: recwatch_outbox_pending says so from the start */
  if (u.failed || be->count_pending(s->conn, &pending, msg, n)) {
    lua_pop(L, 1);
    goto fail;
  }
  s->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->e = e;
  s->L = e ? engine_lua(e) : L;
  if (!s->L) s->L = L;
  if (!e) {
    snprintf(msg, n, "no engine");
    goto fail;
  }
  uv_mutex_init(&s->mu);
  uv_cond_init(&s->cv);
  uv_cond_init(&s->done_cv);
  uv_async_init(engine_loop(e), &s->async, on_async);
  s->async.data = s;
  s->async_inited = 1;
  uv_unref((uv_handle_t *)&s->async);
  if (uv_thread_create(&s->thread, store_main, s) != 0) {
    uv_mutex_destroy(&s->mu);
    uv_cond_destroy(&s->cv);
    uv_cond_destroy(&s->done_cv);
    snprintf(msg, n, "cannot start the store thread for %s", path ? path : s->key);
    goto fail;
  }
  s->started = 1;
  if (be->leases_start && !(id && id->no_leases)) {
    if (be->leases_start(s->conn, store_wake, s, msg, n)) goto fail;
    s->fleet = 1;
  }
  outbox_seen(s, pending);
  return s;
fail:
  store_close(s, L);
  return NULL;
}

int store_started(const store_t *s) { return s && s->started; }
const char *store_path(const store_t *s) { return s->conn ? s->be->path(s->conn) : NULL; }
const char *store_key(const store_t *s) { return s->key; }
int store_cache_ref(const store_t *s) { return s->cache_ref; }

/* ---- backends ---- */

static const store_backend *const backends[] = {&store_sqlite, &store_pg};

const store_backend *store_backend_for(const char *where) {
  if (where && (strncmp(where, "postgresql://", 13) == 0 || strncmp(where, "postgres://", 11) == 0))
    return &store_pg;
  return &store_sqlite;
}

void store_owner_gone(const void *owner) {
  size_t i;
  for (i = 0; i < sizeof backends / sizeof *backends; i++) backends[i]->owner_gone(owner);
}
