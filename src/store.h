/* store: the state store's interface, as operations (not SQL), and its backend-independent
 * part (store.c: the store thread, the job queue, the cache kept in commit order, the
 * completions back on the loop, the acknowledgements not yet recorded). A backend is a
 * struct of function pointers, like SQLite's VFS, plus an open function of its own
 * (store_sqlite.c: one writer, one file). Nothing above this header knows which runs.
 *
 * What a backend must do (and what a second one, PostgreSQL for a fleet, is given room for):
 * - commit a write set atomically: every op or none. A write set may carry a precondition
 *   (a unit and the writer's token for it: fencing). A backend that cannot lose a unit (SQLite,
 *   the only writer of its file) always satisfies it; one that can refuses a stale token
 *   (result.fenced) and commits nothing.
 * - the outbox: enqueue (in a write set, with the state change that caused it), claim the due
 *   rows (with a lease time: SQLite, with one deliverer per file, ignores it), acknowledge
 *   (delivered), attempt failed, prune, count.
 * - read one unit's state (load_unit), to fill the cache when the unit is gained.
 * - ownership events: a unit gained, a unit lost, a unit's watch set changed. SQLite gains
 *   every unit (unit "") at open and never loses one. A backend with leases (PostgreSQL,
 *   store_pg.c) gains and loses units from its own lease thread: its renewals must never
 *   wait behind a slow job, so they do not go through the job queue of store.c (one thread,
 *   FIFO) but through a second thread and connection of the backend's own, which wakes the
 *   loop (leases_start's wake) to drain its events (ownership).
 *
 * Threads: open/lock/ownership/close run on the loop thread (load_unit there too at open,
 * while no job is in flight); commit/claim/counts/load_unit (a unit gained later) run on the
 * store thread, one at a time. */
#ifndef REC_STORE_H
#define REC_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "engine.h"

/* ---- the operations of a write set ---- */

enum store_op_kind {
  STORE_SET = 1,     /* s[0] key, s[1] value; x updated_at */
  STORE_DEL,         /* s[0] key */
  STORE_ENQ,         /* s[0] id, s[1] dest, s[2] payload; x created_at (and first due time) */
  STORE_DELIVERED,   /* s[0] id, s[1] dest; x delivered_at (the acknowledgement) */
  STORE_FAILED,      /* s[0] id, s[1] dest, s[2] last_error or NULL; x next_at */
  STORE_PRUNE,       /* x: forget delivered rows older than this wall time */
  /* received events (events.c): durable before the receiver answers 200 */
  STORE_EVENT_ADD,   /* s[0] noticeId, s[1] the raw body; x received_at. A noticeId the store
                        holds already changes nothing (0 rows: a duplicate) */
  STORE_EVENT_DONE,  /* s[0] noticeId; x done_at: processed, not delivered again */
  STORE_EVENT_PRUNE  /* x: forget processed events received before this wall time (the end
                        of the de-duplication window) */
};

typedef struct store_op {
  int kind;
  char *s[3];
  size_t n[3];
  double x;
} store_op;

typedef struct store_writeset {
  store_op *ops;
  int nops, cap;
  const char *unit;    /* the precondition: NULL = none; else the writer must hold unit */
  uint64_t token;      /* ... with this token (fencing) */
  int *changed;        /* NULL, or nops slots the commit fills with each op's changed rows */
} store_writeset;

/* Appends an op; its strings are copied (NULL = absent). 0, or -1 out of memory. */
int store_ws_add(store_writeset *ws, int kind, double x, const char *const s[3],
                 const size_t n[3]);
void store_ws_clear(store_writeset *ws);

/* ---- results ---- */

enum { STORE_NULL, STORE_INT, STORE_REAL, STORE_TEXT };

typedef struct store_cell {
  int type;
  int64_t i;
  double d;
  char *s;
  size_t n;
} store_cell;

/* The columns of a claimed outbox row, in this order (unit: the unit the row was enqueued
 * under, NULL when none: SQLite keeps none). */
enum { STORE_COL_ID, STORE_COL_DEST, STORE_COL_PAYLOAD, STORE_COL_ATTEMPTS, STORE_COL_CREATED,
       STORE_COL_NEXT, STORE_COL_ERROR, STORE_COL_UNIT, STORE_NCOLS };

/* One key/value a load job read. */
typedef struct store_kv {
  char *k, *v;
  size_t kn, vn;
} store_kv;
extern const char *const store_col_names[STORE_NCOLS];

typedef struct store_result {
  int ok;
  int fenced;          /* the precondition failed: nothing committed */
  int changes;         /* rows the last op changed */
  int alerts[3];       /* outbox rows queued, delivered, failed by the commit */
  int64_t pending;     /* outbox rows pending after it, or -1 when not counted */
  int replaced;        /* after a commit: the store's name no longer leads to what was opened */
  char err[512];
  store_cell *cells;   /* claim: nrows * STORE_NCOLS */
  int nrows;
  int64_t counts[2];   /* counts: pending, delivered */
  store_kv *kv;        /* load: the unit's key/values */
  int nkv, kvcap;
} store_result;

/* ---- a backend ---- */

typedef struct store_conn store_conn;   /* a backend's connection */

/* Where a store is, once its writer lock is held: key names it whatever path was used (one
 * connection per store and engine); a and b are the backend's own (SQLite: device, inode). */
typedef struct store_ident {
  char key[64];
  unsigned long long a, b;
  int no_leases;       /* a store with leases, opened without joining them (a CLI) */
} store_ident;

/* Ownership events. GAINED: the unit is held under token (load it); LOST: no longer held
 * (drop its keys); CHANGED: another process changed the unit's watch set (its
 * "<unit>/session/" keys): reload those. */
enum { STORE_UNIT_GAINED = 1, STORE_UNIT_LOST, STORE_UNIT_CHANGED };
typedef void (*store_kv_fn)(void *arg, const char *k, size_t kn, const char *v, size_t vn);
typedef void (*store_unit_fn)(void *arg, int event, const char *unit, uint64_t token);
/* One received event not processed yet: its noticeId, raw body, and when it was received. */
typedef void (*store_event_fn)(void *arg, const char *id, const char *body, size_t bodyn,
                               double received);

typedef struct store_backend {
  const char *name;
  /* Becomes the one writer of the store at `where` for owner (an engine), and says which
   * store that is. 0, or -1 with a message for the person running recwatch in msg. */
  int (*lock)(const char *where, const void *owner, store_ident *id, char *msg, size_t n);
  /* The owner is gone (its Lua state closed): a later engine (a reload) may take its stores. */
  void (*owner_gone)(const void *owner);
  /* Opens where (NULL: in memory, this run only). NULL with msg on failure. */
  store_conn *(*open)(const char *where, const store_ident *id, char *msg, size_t n);
  /* Calls fn once per ownership event not handed out yet: at open SQLite gains "" (every
   * key), PostgreSQL gains "" (the keys of no unit; every key when not a member); later the
   * lease thread's gains and losses. */
  void (*ownership)(store_conn *c, store_unit_fn fn, void *arg);
  /* Every key/value of unit ("": as the gain of "" says; "U/session": a prefix). 0, or -1
   * with msg. */
  int (*load_unit)(store_conn *c, const char *unit, store_kv_fn fn, void *arg, char *msg,
                   size_t n);
  /* Outbox rows not delivered yet (the backlog at open). 0, or -1 with msg. */
  int (*count_pending)(store_conn *c, int64_t *out, char *msg, size_t n);
  /* Store thread: the jobs. */
  void (*commit)(store_conn *c, const store_writeset *ws, store_result *r);
  void (*claim)(store_conn *c, double now, long limit, double lease, store_result *r);
  void (*counts)(store_conn *c, store_result *r);
  const char *(*path)(store_conn *c);   /* NULL when in memory */
  void (*close)(store_conn *c);
  /* The received events not marked done, in the order they were received; on the thread
   * that owns c. 0, or -1 with msg. NULL: the backend keeps no events. */
  int (*load_events)(store_conn *c, store_event_fn fn, void *arg, char *msg, size_t n);
  /* A backend with leases (NULL: none): joins the fleet and starts the lease thread, which
   * calls wake(arg) from its thread when ownership events wait (drained on the loop with
   * ownership). Loop thread, once, after open. 0, or -1 with msg. */
  int (*leases_start)(store_conn *c, void (*wake)(void *arg), void *arg, char *msg, size_t n);
} store_backend;

/* The backend for a --state value: PostgreSQL for a libpq URL (postgresql://, postgres://),
 * else SQLite. */
const store_backend *store_backend_for(const char *where);
/* Every owner_gone of every backend: the engine's Lua state is closing. */
void store_owner_gone(const void *owner);

/* ---- the backend-independent part (store.c) ---- */

typedef struct store store_t;

enum { STORE_J_WRITE, STORE_J_CLAIM, STORE_J_COUNTS, STORE_J_LOAD };

typedef struct store_job store_job;
struct store_job {
  store_job *next;
  int kind, sync, finished, cached;   /* cached: its writes are in the cache already */
  unsigned task;       /* the asking task's id, for the log lines the store writes */
  store_writeset ws;   /* STORE_J_WRITE */
  double now, lease;   /* STORE_J_CLAIM: due time, lease */
  long limit;
  char *unit;          /* STORE_J_LOAD: the unit (or "U/session" prefix) to read */
  uint64_t token;      /* ... held under this token when asked */
  store_result r;
  unsigned long counted;   /* when r.pending was read: the store thread's count sequence */
  /* the acknowledgements retried before a claim (copies), and how many committed */
  store_op *acks;
  int nacks, acked;
  char ack_err[512];   /* why acks[acked] failed */
  /* On the loop, once finished (after the cache took its writes): the caller's. It owns the
   * job from then on (store_job_free). L is NULL when the Lua state is closing (lua_close):
   * push nothing then. NULL: the store frees the job. */
  void (*done)(store_job *j, lua_State *L);
};

/* A new job of kind (size >= sizeof(store_job): the caller's struct, the job first). */
store_job *store_job_new(size_t size, int kind);
void store_job_free(store_job *j);

/* Opens the store at path (NULL: memory) for engine e, whose main Lua state keeps the cache.
 * NULL with msg on failure. */
store_t *store_open(engine_t *e, lua_State *L, const store_backend *be, const char *path,
                    const store_ident *id, char *msg, size_t n);
/* Stops the store thread after the jobs already queued, finishes them (done is called, with
 * L NULL from lua_close: no cache), closes the connection. */
void store_close(store_t *s, lua_State *L);
int store_started(const store_t *s);
const char *store_path(const store_t *s);
const char *store_key(const store_t *s);
/* The registry reference of the cache: key -> value of every unit held. */
int store_cache_ref(const store_t *s);
/* An alert delivered whose record could not be written (db:delivered failed): the store
 * remembers it, records it before its next claim, and meanwhile neither hands the row out
 * nor counts it as pending. 0, or -1 out of memory. */
int store_ack_later(store_t *s, const char *id, size_t idn, const char *dest, size_t destn);
/* Queues j; done runs on the loop once it finished. */
void store_submit(store_t *s, store_job *j);
/* Queues j and waits for it on the loop thread (a caller that cannot yield); the cache and
 * metrics are updated as on the loop, done is not called. */
void store_run_sync(store_t *s, store_job *j, lua_State *L);

/* ---- units (a fleet) ---- */

/* 1 when the store has leases (PostgreSQL with a lease thread). */
int store_fleet(const store_t *s);
/* May this process write and act for unit now? 1 with *token (SQLite: always, token 1);
 * 0 with why (not held, its rows still loading, or the fence says no). */
int store_unit(store_t *s, const char *unit, uint64_t *token, char *why, size_t whyn);
/* Pushes the array of units held (SQLite: every unit with a "<unit>/session/" key), sorted. */
void store_push_units(store_t *s, lua_State *L);
#endif
