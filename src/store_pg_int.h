/* store_pg_int: what the PostgreSQL store's rooms share (store_pg.c, store_pg_lease.c,
 * store_pg_conn.c); nothing above the store includes it. */
#ifndef REC_STORE_PG_INT_H
#define REC_STORE_PG_INT_H
#include <libpq-fe.h>
#include "store.h"
#include "store_pg.h"

/* ---- store_pg_conn.c ---- */

/* Connects to url (any libpq connection string), and sets the session up: the
 * idle_in_transaction_session_timeout (T, so a paused holder cannot block a takeover) and a
 * statement_timeout. NULL with msg (never the password). */
PGconn *pgc_connect(const char *url, const store_pg_knobs *k, double stmt_timeout, char *msg,
                    size_t n);
/* A connection found broken is made again (PQreset, then the session settings). 0 when it
 * works, -1 with msg. */
int pgc_ensure(PGconn *pg, const store_pg_knobs *k, double stmt_timeout, char *msg, size_t n);
/* "postgresql://user@host:port/db" of url, with no password and no other parameter. */
void pgc_display(const char *url, char *out, size_t n);
/* The outage bookkeeping (process-wide): ok = 1 the database answered, 0 it could not be
 * reached (why). The first 0 after a 1 logs kind=store_outage; the first 1 after logs that
 * it is over; recwatch_store_up follows; /healthz fails meanwhile (store_pg_outage). */
void pgc_health(int ok, const char *display, const char *why);
/* The message of a failed result or connection, one line. */
void pgc_error(PGconn *pg, PGresult *r, char *out, size_t n);
/* PQexecParams with text parameters; the result (check with pgc_ok). */
PGresult *pgc_exec(PGconn *pg, const char *sql, int nparams, const char *const *vals);
int pgc_ok(const PGresult *r);
/* A PostgreSQL array literal of the strings ({"a","b"}); malloc'ed, NULL out of memory. */
char *pgc_array(const char *const *v, int n);
/* "<member>/<nonce>": this process, told apart from another process under the same member
 * name (the members row's nonce, the outbox's locked_by). Fixed for the life of the process. */
const char *pgc_claimer(void);

/* ---- store_pg_lease.c ---- */

typedef struct pg_lease pg_lease;
/* Joins the fleet as fence_member() and starts the lease thread (one per process); installs
 * the fence (fence_set). wake(arg) is called from the thread after each round. NULL with msg. */
pg_lease *pgl_start(const char *url, const char *display, const store_pg_knobs *k,
                    void (*wake)(void *), void *arg, char *msg, size_t n);
/* Stops acting, releases every lease and leaves the members (best effort), stops the
 * thread, removes the fence. */
void pgl_stop(pg_lease *l);
/* Hands out the ownership events not handed out yet, in order (loop thread). */
void pgl_events(pg_lease *l, store_unit_fn fn, void *arg);
/* This member's store committed a write of keys of no unit, which made their version v: when
 * v follows the version the lease thread saw last, no other member wrote in between and the
 * cache has it all (no reload). Any thread. */
void pgl_shared_wrote(pg_lease *l, int64_t v);
/* The units held that may be acted for now, as a PostgreSQL array literal (malloc'ed). */
char *pgl_actionable(pg_lease *l);
#endif
