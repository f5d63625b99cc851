/* store_sqlite: the SQLite backend of the store (store.h): one writer, one file. Owns the
 * schema (a key/value table, the watchers' last seen statuses, and the alert outbox: rows
 * written in the same transaction as the status change that caused them, pending until
 * acknowledged), the statements (the outbox rules are their SQL), the identity checks of a
 * state file, and the one-writer lock.
 *
 * A write set is one transaction: BEGIN IMMEDIATE, the statements, COMMIT, with SQLite's
 * busy handler (5 s) retrying on the store thread while another process holds the file.
 * There is one writer per file, so ownership never changes: every unit is gained at open,
 * none is ever lost, and a write set's precondition (unit, token) always holds.
 *
 * One writer per state file, whatever path names it: the lock belongs to the file (its device
 * and inode), not to a path. The first open of a file takes an open-file-description lock
 * (F_OFD_SETLK) on one byte of the database file far past SQLite's own lock bytes, through a
 * descriptor kept open until the process ends (a reload reopens without losing it); a second
 * process is refused whether it comes through the same path, a symbolic link, a hard link or
 * "../". The in-process table of writers is keyed by (st_dev, st_ino) too, so a second engine
 * of this process is refused the same way, and one engine opening the file under two names
 * gets one connection. Not flock: on NFS flock is emulated with whole-file POSIX locks, which
 * would collide with SQLite's; and not a POSIX lock either, since closing any descriptor of
 * the file would drop it (and SQLite's). The descriptor is never closed while SQLite may hold
 * the file in this process. A file replaced by a rename is a new inode: a new lock.
 *
 * A bad state file (a directory, not writable, not an SQLite database, another program's
 * database, a newer schema, damaged, locked) is refused at open with a message that says what
 * to do (the caller stops the run with exit status 2).
 *
 * Durability: WAL journal with synchronous=FULL, so a committed transaction survives kill -9
 * (NORMAL would already) and a power loss too; writes are tiny and rare (a status change). */
#define _GNU_SOURCE  /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include "store.h"
#include "store_sqlite.h"

#define BUSY_MS 5000

enum {
  S_KEYS, S_SET, S_DEL, S_ENQ, S_DELIVERED, S_FAILED, S_PRUNE, S_PENDING, S_COUNT_PENDING,
  S_COUNT_DONE, S_BEGIN, S_COMMIT, S_ROLLBACK, S_EV_ADD, S_EV_DONE, S_EV_PRUNE, S_EV_LOAD,
  S_NSTMT
};

static const char *const stmt_sql[S_NSTMT] = {
  "SELECT key, value FROM kv ORDER BY key",
  "INSERT INTO kv(key, value, updated_at) VALUES (?1, ?2, ?3) "
  "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
  "DELETE FROM kv WHERE key = ?1",
  "INSERT OR IGNORE INTO outbox(id, dest, payload, created_at, attempts, next_at) "
  "VALUES (?1, ?2, ?3, ?4, 0, ?4)",
  "UPDATE outbox SET delivered_at = ?3, attempts = attempts + 1 "
  "WHERE id = ?1 AND dest = ?2 AND delivered_at IS NULL",
  "UPDATE outbox SET attempts = attempts + 1, next_at = ?3, last_error = ?4 "
  "WHERE id = ?1 AND dest = ?2 AND delivered_at IS NULL",
  "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
  "SELECT id, dest, payload, attempts, created_at, next_at, last_error, NULL FROM outbox "
  "WHERE delivered_at IS NULL AND next_at <= ?1 ORDER BY created_at, id, dest LIMIT ?2",
  "SELECT count(*) FROM outbox WHERE delivered_at IS NULL",
  "SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL",
  "BEGIN IMMEDIATE",
  "COMMIT",
  "ROLLBACK",
  "INSERT OR IGNORE INTO events(notice_id, body, received_at) VALUES (?1, ?2, ?3)",
  "UPDATE events SET done_at = ?2, body = '' WHERE notice_id = ?1 AND done_at IS NULL",
  "DELETE FROM events WHERE done_at IS NOT NULL AND received_at < ?1",
  "SELECT notice_id, body, received_at FROM events WHERE done_at IS NULL ORDER BY seq",
};

/* How each op of a write set binds: the statement, and which of its strings and its number
 * go to which parameter (0: not bound). One table instead of a statement per case. */
static const struct {
  int stmt;
  const char *name;    /* for the error message */
  int str_param[3];    /* the parameter of s[0], s[1], s[2] */
  int x_param;         /* the parameter of x */
} op_binding[] = {
  [STORE_SET] = {S_SET, "set", {1, 2, 0}, 3},
  [STORE_DEL] = {S_DEL, "set", {1, 0, 0}, 0},
  [STORE_ENQ] = {S_ENQ, "enqueue", {1, 2, 3}, 4},
  [STORE_DELIVERED] = {S_DELIVERED, "delivered", {1, 2, 0}, 3},
  [STORE_FAILED] = {S_FAILED, "attempt_failed", {1, 2, 4}, 3},
  [STORE_PRUNE] = {S_PRUNE, "prune", {0, 0, 0}, 1},
  [STORE_EVENT_ADD] = {S_EV_ADD, "event_add", {1, 2, 0}, 3},
  [STORE_EVENT_DONE] = {S_EV_DONE, "event_done", {1, 0, 0}, 2},
  [STORE_EVENT_PRUNE] = {S_EV_PRUNE, "event_prune", {0, 0, 0}, 1},
};

static const char schema[] =
  "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at REAL);"
  "CREATE TABLE IF NOT EXISTS outbox (id TEXT NOT NULL, dest TEXT NOT NULL, payload TEXT NOT NULL,"
  " created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,"
  " last_error TEXT, delivered_at REAL, PRIMARY KEY (id, dest));"
  "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(next_at) WHERE delivered_at IS NULL;"
  /* received events: the noticeId is the de-duplication key; seq keeps arrival order */
  "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, notice_id TEXT NOT NULL UNIQUE,"
  " body TEXT NOT NULL, received_at REAL NOT NULL, done_at REAL);"
  "CREATE INDEX IF NOT EXISTS events_pending ON events(seq) WHERE done_at IS NULL;";

struct store_conn {
  sqlite3 *db;
  sqlite3_stmt *st[S_NSTMT];
  char *path;          /* NULL: in memory */
  char name[64];       /* what messages call it when in memory */
  dev_t dev;           /* the file's identity when it was opened (a file only) */
  ino_t ino;
};

/* ---- the store thread ---- */

static sqlite3_stmt *stmt(store_conn *c, int which) {
  sqlite3_stmt *st = c->st[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

static void fail(store_conn *c, store_result *r, const char *what) {
  snprintf(r->err, sizeof r->err, "rec.store: %s: %s (%s)", what, sqlite3_errmsg(c->db),
           c->path ? c->path : ":memory:");
  r->ok = 0;
}

static int step(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* One count(*): SQLITE_ROW with the count in out, or the error code. */
static int count_rows(store_conn *c, int which, int64_t *out) {
  sqlite3_stmt *st = stmt(c, which);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc;
}

static void bind_op(sqlite3_stmt *st, const store_op *o) {
  int i, p;
  for (i = 0; i < 3; i++) {
    if (!(p = op_binding[o->kind].str_param[i])) continue;
    if (o->s[i]) sqlite3_bind_text(st, p, o->s[i], (int)o->n[i], SQLITE_STATIC);
    else sqlite3_bind_null(st, p);
  }
  if ((p = op_binding[o->kind].x_param)) sqlite3_bind_double(st, p, o->x);
}

static void sq_commit(store_conn *c, const store_writeset *ws, store_result *r) {
  int i;
  struct stat sb;
  /* ws->unit/token: one writer per file, so the precondition always holds */
  if (step(stmt(c, S_BEGIN))) {
    fail(c, r, "begin");
    return;
  }
  for (i = 0; i < ws->nops; i++) {
    const store_op *o = &ws->ops[i];
    sqlite3_stmt *st = stmt(c, op_binding[o->kind].stmt);
    bind_op(st, o);
    if (step(st)) {
      fail(c, r, op_binding[o->kind].name);
      goto rollback;
    }
    r->changes = sqlite3_changes(c->db);
    if (ws->changed) ws->changed[i] = r->changes;
    if (o->kind >= STORE_ENQ && o->kind <= STORE_FAILED) r->alerts[o->kind - STORE_ENQ] += r->changes;
  }
  if (step(stmt(c, S_COMMIT))) {
    fail(c, r, "commit");
    goto rollback;
  }
  r->ok = 1;
  r->pending = -1;
  if (r->alerts[0] + r->alerts[1] + r->alerts[2] > 0 &&
      count_rows(c, S_COUNT_PENDING, &r->pending) != SQLITE_ROW)
    r->pending = -1;
  /* a file replaced by a rename (or removed) while open: the commits go to a file that no
   * longer has this name, which the next start will not see */
  if (c->path && (stat(c->path, &sb) != 0 || sb.st_dev != c->dev || sb.st_ino != c->ino))
    r->replaced = 1;
  return;
rollback:
  if (!sqlite3_get_autocommit(c->db)) step(stmt(c, S_ROLLBACK));
}

static void sq_counts(store_conn *c, store_result *r) {
  int which[2] = {S_COUNT_PENDING, S_COUNT_DONE}, i;
  for (i = 0; i < 2; i++)
    if (count_rows(c, which[i], &r->counts[i]) != SQLITE_ROW) {
      fail(c, r, "counts");
      return;
    }
  r->pending = r->counts[0];
  r->ok = 1;
}

static void take_cell(store_cell *cell, sqlite3_stmt *st, int i) {
  int type = sqlite3_column_type(st, i);
  memset(cell, 0, sizeof *cell);
  if (type == SQLITE_INTEGER) {
    cell->type = STORE_INT;
    cell->i = sqlite3_column_int64(st, i);
  } else if (type == SQLITE_FLOAT) {
    cell->type = STORE_REAL;
    cell->d = sqlite3_column_double(st, i);
  } else if (type != SQLITE_NULL) {
    cell->n = (size_t)sqlite3_column_bytes(st, i);
    if ((cell->s = malloc(cell->n + 1)) != NULL) {
      memcpy(cell->s, sqlite3_column_text(st, i), cell->n);
      cell->s[cell->n] = 0;
      cell->type = STORE_TEXT;
    }
  }
}

/* The due rows, oldest first. The lease: one deliverer per file, so no claim is kept. */
static void sq_claim(store_conn *c, double now, long limit, double lease, store_result *r) {
  sqlite3_stmt *st = stmt(c, S_PENDING);
  int rc, i, cap = 0;
  (void)lease;
  sqlite3_bind_double(st, 1, now);
  sqlite3_bind_int64(st, 2, limit);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (r->nrows == cap) {
      store_cell *n;
      cap = cap ? cap * 2 : 16;
      if (!(n = realloc(r->cells, (size_t)cap * STORE_NCOLS * sizeof *n))) {
        sqlite3_reset(st);
        snprintf(r->err, sizeof r->err, "rec.store: pending: out of memory");
        return;
      }
      r->cells = n;
    }
    for (i = 0; i < STORE_NCOLS; i++) take_cell(&r->cells[r->nrows * STORE_NCOLS + i], st, i);
    r->nrows++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    fail(c, r, "pending");
    return;
  }
  r->ok = 1;
}

/* The byte of the database file the writer lock covers: past SQLite's own lock bytes
 * (PENDING_BYTE at 1 GiB, RESERVED_BYTE, then 510 SHARED bytes), which it never touches, so
 * SQLite's locks of this process and of others (a reader, `sqlite3 .backup`) never meet it. */
#define WRITER_LOCK_BYTE ((off_t)0x40000000 + 0x10000)

/* The table of writers is process-wide on purpose: the kernel's lock belongs to the process
 * (an OFD lock taken twice through one process's descriptors would both succeed), so only a
 * table of the whole process can refuse a second engine of it, and the descriptor that holds
 * the lock must outlive every engine (a reload's next engine takes the file over). */
typedef struct lockent {
  dev_t dev;
  ino_t ino;
  int fd;              /* holds the OFD lock; never closed (SQLite may have the file open) */
  const void *owner;   /* the engine holding it; NULL between a reload's two engines */
  struct lockent *next;
} lockent;

static lockent *locks;
static uv_mutex_t locks_mu;
static uv_once_t locks_once = UV_ONCE_INIT;
static void locks_init(void) { uv_mutex_init(&locks_mu); }

/* Releases every lock owned by engine e (it keeps the file descriptor, so the process keeps
 * the lock: a reload's next engine takes it over; the kernel drops it with the process). */
static void sq_owner_gone(const void *e) {
  lockent *l;
  uv_once(&locks_once, locks_init);
  uv_mutex_lock(&locks_mu);
  for (l = locks; l; l = l->next)
    if (l->owner == e) l->owner = NULL;
  uv_mutex_unlock(&locks_mu);
}

static lockent *find_lock(dev_t dev, ino_t ino) {
  lockent *l;
  for (l = locks; l; l = l->next)
    if (l->dev == dev && l->ino == ino) return l;
  return NULL;
}

static const char *file_kind(mode_t m) {
  return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
       : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a regular file";
}

/* Takes the writer lock of the database file at path (created when missing) for engine e, and
 * gives its identity. 0, or -1 with a message in msg. */
static int take_lock(const void *e, const char *path, dev_t *dev, ino_t *ino, char *msg,
                     size_t n) {
  struct stat st;
  lockent *l = NULL;
  int fd = -1, ok, exists = 0;
  if (stat(path, &st) == 0) {
    exists = 1;
    if (!S_ISREG(st.st_mode)) {
      snprintf(msg, n, "the state path %s is %s: --state names a database file (created when "
               "missing)", path, file_kind(st.st_mode));
      return -1;
    }
  } else if (errno != ENOENT) {
    snprintf(msg, n, "cannot use the state file %s: %s", path, strerror(errno));
    return -1;
  }
  uv_once(&locks_once, locks_init);
  uv_mutex_lock(&locks_mu);
  /* A file this process has locked is never opened again here: closing a second descriptor
   * of it would drop SQLite's POSIX locks on it. */
  if (exists) l = find_lock(st.st_dev, st.st_ino);
  if (!l) {
    /* O_NONBLOCK: a FIFO put there after the stat must not block the open */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd < 0 || fstat(fd, &st) != 0) {
      int err = errno;
      uv_mutex_unlock(&locks_mu);
      if (fd >= 0) close(fd);
      snprintf(msg, n, "cannot open the state file %s for writing: %s%s", path, strerror(err),
               err == EROFS || err == EACCES || err == EPERM
                 ? " (the state file and its directory must be writable: the directory holds "
                   "SQLite's -wal and -shm files)" : "");
      return -1;
    }
    if (!S_ISREG(st.st_mode)) {
      uv_mutex_unlock(&locks_mu);
      close(fd);
      snprintf(msg, n, "the state path %s is %s: --state names a database file", path,
               file_kind(st.st_mode));
      return -1;
    }
    /* the path was renamed onto a file this process holds between the stat and the open:
     * keep that descriptor open rather than drop SQLite's locks by closing it */
    if ((l = find_lock(st.st_dev, st.st_ino)) != NULL) fd = -1;
  }
  if (!l) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = WRITER_LOCK_BYTE;
    fl.l_len = 1;
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
      int err = errno;
      uv_mutex_unlock(&locks_mu);
      close(fd);   /* no SQLite connection of this process has this file: it is not in locks */
      if (err == EAGAIN || err == EACCES)
        snprintf(msg, n, "the state file %s is in use by another recwatch process (it holds the "
                 "writer lock of this file, whatever path names it); one writer per state "
                 "file: stop it or use another --state", path);
      else
        snprintf(msg, n, "cannot lock the state file %s: %s", path, strerror(err));
      return -1;
    }
    if (!(l = calloc(1, sizeof *l))) {
      uv_mutex_unlock(&locks_mu);
      close(fd);
      snprintf(msg, n, "out of memory");
      return -1;
    }
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->fd = fd;
    l->next = locks;
    locks = l;
  }
  ok = l->owner == NULL || l->owner == e;
  if (ok) l->owner = e;
  *dev = l->dev;
  *ino = l->ino;
  uv_mutex_unlock(&locks_mu);
  if (!ok) {
    snprintf(msg, n, "the state file %s is already in use by another engine in this process; "
             "one writer per state file", path);
    return -1;
  }
  return 0;
}

#define APP_ID 0x52435754       /* "RCWT": PRAGMA application_id of a recwatch state file */
#define SCHEMA_VERSION 1        /* PRAGMA user_version: the schema above */

/* Reads one integer (a PRAGMA). SQLITE_OK or the error code. */
static int read_int(sqlite3 *db, const char *sql, sqlite3_int64 *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc;
}

/* Checks, before anything is written to it, that the file is a recwatch state file or an
 * empty one. SQLITE_OK, SQLITE_MISMATCH with the reason in msg, or an SQLite error code. */
static int check_identity(sqlite3 *db, const char *path, char *msg, size_t n) {
  static const char *const kv_cols[] = {"key", "value", "updated_at", NULL};
  static const char *const ob_cols[] = {"id", "dest", "payload", "created_at", "attempts",
                                        "next_at", "last_error", "delivered_at", NULL};
  static const char *const tables[2] = {"kv", "outbox"};
  const char *const *cols[2] = {kv_cols, ob_cols};
  sqlite3_int64 app = 0, ver = 0;
  sqlite3_stmt *st;
  char others[300] = "";
  int rc, i, ours = 0, theirs = 0;
  if ((rc = read_int(db, "PRAGMA application_id", &app)) != SQLITE_OK) return rc;
  if ((rc = read_int(db, "PRAGMA user_version", &ver)) != SQLITE_OK) return rc;
  if (app != 0 && app != APP_ID) {
    snprintf(msg, n, "%s is another program's SQLite database (application_id 0x%llx), not a "
             "recwatch state file: point --state at another path, or move it away", path,
             (unsigned long long)app);
    return SQLITE_MISMATCH;
  }
  if (ver > SCHEMA_VERSION) {
    snprintf(msg, n, "%s was written by a newer recwatch (state schema %lld; this one knows "
             "%d): run that version, or restore the backup taken before the upgrade", path,
             (long long)ver, SCHEMA_VERSION);
    return SQLITE_MISMATCH;
  }
  rc = sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                          "name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (name && (strcmp(name, "kv") == 0 || strcmp(name, "outbox") == 0 ||
                 strcmp(name, "events") == 0)) {
      ours++;
    } else if (name) {
      size_t k = strlen(others);
      if (theirs++ < 8 && k + 4 < sizeof others)
        snprintf(others + k, sizeof others - k, "%s%.60s", k ? ", " : "", name);
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return rc;
  if (!ours && theirs) {
    snprintf(msg, n, "%s is an SQLite database of another schema (tables: %s%s), not a "
             "recwatch state file: point --state at another path, or move it away", path, others,
             theirs > 8 ? ", ..." : "");
    return SQLITE_MISMATCH;
  }
  for (i = 0; i < 2; i++) {   /* a table of ours must have every column the statements use */
    const char *const *c;
    char sql[96];
    int seen = 0;
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s')", tables[i]);
    for (c = cols[i]; *c; c++) {
      int found = 0;
      if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK) return rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        seen = 1;
        if (name && strcmp(name, *c) == 0) found = 1;
      }
      sqlite3_finalize(st);
      if (rc != SQLITE_DONE) return rc;
      if (!seen) break;   /* the table is not there: created with the schema */
      if (!found) {
        snprintf(msg, n, "%s has a table %s without the column %s: another schema, not a "
                 "recwatch state file: point --state at another path, or move it away", path,
                 tables[i], *c);
        return SQLITE_MISMATCH;
      }
    }
  }
  return SQLITE_OK;
}

/* What a failed SQLite step at open means for the person running recwatch. */
static void explain(char *msg, size_t n, const char *path, sqlite3 *db, int rc, const char *what) {
  const char *sm = db ? sqlite3_errmsg(db) : "out of memory";
  switch (rc & 0xff) {
  case SQLITE_NOTADB:
    snprintf(msg, n, "%s is not a recwatch state file: not an SQLite database (%s); point --state "
             "at another path, or move it away", path, sm);
    break;
  case SQLITE_CORRUPT:
    snprintf(msg, n, "the state file %s is damaged (%s): restore it from a backup, or move it "
             "away to start afresh", path, sm);
    break;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    snprintf(msg, n, "the state file %s stayed locked by another program for %d s (%s)", path,
             BUSY_MS / 1000, sm);
    break;
  default:
    snprintf(msg, n, "cannot %s the state file %s: %s", what, path, sm);
  }
}

static int sq_lock(const char *where, const void *owner, store_ident *id, char *msg, size_t n) {
  dev_t dev = 0;
  ino_t ino = 0;
  if (take_lock(owner, where, &dev, &ino, msg, n)) return -1;
  snprintf(id->key, sizeof id->key, "%llu:%llu", (unsigned long long)dev, (unsigned long long)ino);
  id->a = (unsigned long long)dev;
  id->b = (unsigned long long)ino;
  return 0;
}

static void sq_close(store_conn *c) {
  int i;
  if (!c) return;
  for (i = 0; i < S_NSTMT; i++) sqlite3_finalize(c->st[i]);
  if (c->db) sqlite3_close(c->db);
  free(c->path);
  free(c);
}

/* Opens path (NULL: in memory), checks what is in it, sets it up and stamps it. */
static store_conn *sq_open(const char *path, const store_ident *id, char *msg, size_t n) {
  store_conn *c = calloc(1, sizeof *c);
  const char *name;
  char *errmsg = NULL;
  int i, rc;
  if (!c || (path && !(c->path = strdup(path)))) {
    free(c);
    snprintf(msg, n, "out of memory");
    return NULL;
  }
  snprintf(c->name, sizeof c->name, "%s", id ? id->key : ":memory:");
  if (id) {
    c->dev = (dev_t)id->a;
    c->ino = (ino_t)id->b;
  }
  name = path ? path : c->name;
  if ((rc = sqlite3_open_v2(path ? path : ":memory:", &c->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL)) != SQLITE_OK) {
    explain(msg, n, name, c->db, rc, "open");
    goto fail;
  }
  sqlite3_busy_timeout(c->db, BUSY_MS);
  /* what is in the file is checked before anything is written to it */
  if ((rc = check_identity(c->db, name, msg, n)) != SQLITE_OK) {
    if (rc != SQLITE_MISMATCH) explain(msg, n, name, c->db, rc, "read");
    goto fail;
  }
  if ((rc = sqlite3_exec(c->db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                         /* replaced values (an old last_error) do not linger in free pages */
                         "PRAGMA secure_delete=ON;",
                         NULL, NULL, &errmsg)) != SQLITE_OK ||
      (rc = sqlite3_exec(c->db, schema, NULL, NULL, &errmsg)) != SQLITE_OK) {
    explain(msg, n, name, c->db, rc, "set up");
    sqlite3_free(errmsg);
    goto fail;
  }
  {  /* stamp it as ours (once: a header write only when a value differs) */
    sqlite3_int64 app = 0, ver = 0;
    char sql[96];
    if ((rc = read_int(c->db, "PRAGMA application_id", &app)) == SQLITE_OK &&
        (rc = read_int(c->db, "PRAGMA user_version", &ver)) == SQLITE_OK &&
        (app != APP_ID || ver != SCHEMA_VERSION)) {
      snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;", APP_ID,
               SCHEMA_VERSION);
      rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
      explain(msg, n, name, c->db, rc, "set up");
      goto fail;
    }
  }
  for (i = 0; i < S_NSTMT; i++)
    if ((rc = sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                                 NULL)) != SQLITE_OK) {
      explain(msg, n, name, c->db, rc, "prepare a statement on");
      goto fail;
    }
  return c;
fail:
  sq_close(c);
  return NULL;
}

/* One writer: every unit is this connection's, from the open to the close. */
static void sq_ownership(store_conn *c, store_unit_fn fn, void *arg) {
  (void)c;
  fn(arg, STORE_UNIT_GAINED, "", 1);
}

static int sq_load_unit(store_conn *c, const char *unit, store_kv_fn fn, void *arg, char *msg,
                        size_t n) {
  sqlite3_stmt *st = stmt(c, S_KEYS);
  int rc;
  (void)unit;   /* "": there is only one */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    fn(arg, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0),
       (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1));
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return 0;
  explain(msg, n, c->path ? c->path : c->name, c->db, rc, "read");
  return -1;
}

static int sq_count_pending(store_conn *c, int64_t *out, char *msg, size_t n) {
  int rc = count_rows(c, S_COUNT_PENDING, out);
  if (rc == SQLITE_ROW) return 0;
  explain(msg, n, c->path ? c->path : c->name, c->db, rc, "read");
  return -1;
}

static const char *sq_path(store_conn *c) { return c->path; }

static int sq_load_events(store_conn *c, store_event_fn fn, void *arg, char *msg, size_t n) {
  sqlite3_stmt *st = stmt(c, S_EV_LOAD);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    fn(arg, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
       (size_t)sqlite3_column_bytes(st, 1), sqlite3_column_double(st, 2));
  sqlite3_reset(st);
  if (rc == SQLITE_DONE) return 0;
  explain(msg, n, c->path ? c->path : c->name, c->db, rc, "read");
  return -1;
}

const store_backend store_sqlite = {
  "sqlite", sq_lock, sq_owner_gone, sq_open, sq_ownership, sq_load_unit, sq_count_pending,
  sq_commit, sq_claim, sq_counts, sq_path, sq_close, sq_load_events, NULL,
};
