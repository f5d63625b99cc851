/* store_pg: the PostgreSQL backend of the store (store_pg.c: the tables and the store
 * operations; store_pg_lease.c: the lease thread, a fleet's members and units; store_pg_conn.c:
 * connections, the fleet's knobs, and the outage that makes the process loud). */
#ifndef REC_STORE_PG_H
#define REC_STORE_PG_H
#include <stddef.h>
#include "store.h"

/* Many members share one database; each holds the units (accounts) it owns under a lease. */
extern const store_backend store_pg;

/* 1 while a PostgreSQL store of this process cannot reach its database (why says since when
 * and the last error), 0 when none is down. Any thread (/healthz asks it). */
int store_pg_outage(char *why, size_t n);

/* The fleet's knobs from the environment (RECWATCH_FLEET_RENEW, _LEASE, _ACT; defaults 2, 10,
 * 5 s), checked: r < D and D + 1 < T. 0, or -1 with msg. */
typedef struct store_pg_knobs {
  double renew, lease, act;
} store_pg_knobs;
int store_pg_knobs_get(store_pg_knobs *k, char *msg, size_t n);
#endif
