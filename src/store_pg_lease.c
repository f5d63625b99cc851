/* store_pg_lease: a fleet member's lease thread (one per process, its own connection) and the
 * fence it installs (fence.h). Every r seconds (RECWATCH_FLEET_RENEW) one round:
 *   1. heartbeat the member row (expires T after the database's now());
 *   2. read the live members and the units (with their watch-set versions);
 *   3. renew every lease held, in ONE statement; a unit it no longer returns is lost;
 *   4. the desired owner of each unit: rendezvous hashing over the live members (a join or a
 *      leave moves about 1/M of the units); release (expire now) the units desired by another
 *      live member: they stop being actionable here first;
 *   5. take over the units desired by this member that are expired or absent, in one
 *      statement (token = token + 1);
 *   6. a held unit whose version moved (another process edited its sessions): "changed";
 *      the pseudo-unit '' (never leased) is the version of the keys of no unit (silences,
 *      alert groups, ...): when another member moved it, "changed" for "": the store reloads
 *      those keys into its cache (store.c), so a silence added anywhere is seen within a round.
 * Gains, losses and changes queue for the loop (pgl_events, through store.c's wake).
 *
 * The fence: a unit may be acted for while it is held, less than D s (RECWATCH_FLEET_ACT) have
 * passed on the monotonic clock since its last successful renewal statement was SENT, and at
 * least 1 s has passed since it was gained (the old owner's last pacing window); an action
 * must end by sent + T - T/10 (the lease cannot expire before sent + T). Times of leases and
 * members come from the database clock (now()), never from this host's.
 *
 * A member name already live in the members table (another process with the same
 * RECWATCH_MEMBER, or this one's previous life within T) is not joined until its row expires:
 * two processes never renew under one name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "fence.h"
#include "log.h"
#include "metrics.h"
#include "store_pg_int.h"

typedef struct lunit {
  char *unit;
  uint64_t token;
  double sent, gained;   /* fence_now() of the last renewal sent, of the gain */
  int64_t version;
} lunit;

typedef struct lev {
  struct lev *next;
  int event;
  uint64_t token;
  char unit[];
} lev;

struct pg_lease {
  char *url;
  char display[300];
  store_pg_knobs k;
  PGconn *pg;
  uv_thread_t th;
  uv_mutex_t mu;
  uv_cond_t cv;
  int quit, joined, name_said;
  double last_ok;        /* fence_now() when the last round that renewed started (0: none) */
  lunit *held;           /* under mu */
  int nheld, cap;
  lev *eh, **et;         /* events for the loop, under mu */
  int64_t shared_seen;   /* under mu: the version of the keys of no unit the cache has */
  void (*wake)(void *);
  void *arg;
  metric_t *m_held, *m_members, *m_act;
};

static uv_mutex_t active_mu;
static uv_once_t active_once = UV_ONCE_INIT;
static pg_lease *active;   /* the one lease thread of the process */
static void active_init(void) { uv_mutex_init(&active_mu); }

/* ---- held units (under mu) ---- */

static lunit *find(pg_lease *l, const char *u) {
  int i;
  for (i = 0; i < l->nheld; i++)
    if (strcmp(l->held[i].unit, u) == 0) return &l->held[i];
  return NULL;
}

static void event(pg_lease *l, int ev, const char *unit, uint64_t token) {
  size_t n = strlen(unit);
  lev *e = malloc(sizeof *e + n + 1);
  if (!e) return;   /* out of memory: the loop misses it; the fence still decides */
  e->next = NULL;
  e->event = ev;
  e->token = token;
  memcpy(e->unit, unit, n + 1);
  *l->et = e;
  l->et = &e->next;
}

static void drop(pg_lease *l, lunit *u) {
  int i = (int)(u - l->held);
  event(l, STORE_UNIT_LOST, u->unit, u->token);
  free(u->unit);
  memmove(&l->held[i], &l->held[i + 1], (size_t)(l->nheld - i - 1) * sizeof *l->held);
  l->nheld--;
}

static int add(pg_lease *l, const char *unit, uint64_t token, double sent, int64_t version) {
  lunit *u;
  if (l->nheld == l->cap) {
    int cap = l->cap ? l->cap * 2 : 32;
    lunit *n = realloc(l->held, (size_t)cap * sizeof *n);
    if (!n) return -1;
    l->held = n;
    l->cap = cap;
  }
  u = &l->held[l->nheld];
  if (!(u->unit = strdup(unit))) return -1;
  u->token = token;
  u->sent = sent;
  u->gained = fence_now();
  u->version = version;
  l->nheld++;
  event(l, STORE_UNIT_GAINED, unit, token);
  return 0;
}

/* ---- the fence ---- */

static int fence(void *arg, const char *unit, double *until, char *why, size_t n) {
  pg_lease *l = arg;
  double now = fence_now();
  lunit *u;
  int ok = 0;
  uv_mutex_lock(&l->mu);
  if (!(u = find(l, unit)))
    snprintf(why, n, "unit %s is not held by this member (%s)", unit, fence_member());
  else if (now - u->sent >= l->k.act)
    snprintf(why, n, "unit %s: no lease renewal for %.1f s (D = %g s): this member stops acting "
             "for it", unit, now - u->sent, l->k.act);
  else if (now < u->gained + 1)
    snprintf(why, n, "unit %s: just gained; waiting out the old owner's last pacing window "
             "(%.2f s left)", unit, u->gained + 1 - now);
  else {
    ok = 1;
    if (until) *until = u->sent + l->k.lease - l->k.lease / 10;
  }
  uv_mutex_unlock(&l->mu);
  return ok;
}

char *pgl_actionable(pg_lease *l) {
  const char **v;
  char *out;
  int i, n = 0;
  double now = fence_now();
  uv_mutex_lock(&l->mu);
  v = malloc((size_t)(l->nheld + 1) * sizeof *v);
  for (i = 0; v && i < l->nheld; i++)
    if (now - l->held[i].sent < l->k.act && now >= l->held[i].gained + 1) v[n++] = l->held[i].unit;
  out = v ? pgc_array(v, n) : NULL;
  uv_mutex_unlock(&l->mu);
  free(v);
  return out;
}

void pgl_shared_wrote(pg_lease *l, int64_t v) {
  uv_mutex_lock(&l->mu);
  if (v == l->shared_seen + 1) l->shared_seen = v;
  uv_mutex_unlock(&l->mu);
}

void pgl_events(pg_lease *l, store_unit_fn fn, void *arg) {
  lev *e;
  uv_mutex_lock(&l->mu);
  e = l->eh;
  l->eh = NULL;
  l->et = &l->eh;
  uv_mutex_unlock(&l->mu);
  while (e) {
    lev *next = e->next;
    fn(arg, e->event, e->unit, e->token);
    free(e);
    e = next;
  }
}

/* ---- rendezvous ---- */

static uint64_t score(const char *member, const char *unit) {
  uint64_t h = 1469598103934665603ull;
  const char *s;
  for (s = member; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (s = unit; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  h ^= h >> 30;   /* splitmix64's finaliser: FNV alone leaves the last bytes' bits weak */
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

static const char *desired(char **members, int nm, const char *unit) {
  const char *best = NULL;
  uint64_t bs = 0;
  int i;
  for (i = 0; i < nm; i++) {
    uint64_t s = score(members[i], unit);
    if (!best || s > bs || (s == bs && strcmp(members[i], best) < 0)) {
      best = members[i];
      bs = s;
    }
  }
  return best;
}

/* ---- one round ---- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "{1,2,...}": the tokens of the held units, in their order (under mu). */
static char *token_array(pg_lease *l) {
  char *out = malloc((size_t)l->nheld * 21 + 3), *p = out;
  int i;
  if (!out) return NULL;
  *p++ = '{';
  for (i = 0; i < l->nheld; i++)
    p += sprintf(p, "%s%llu", i ? "," : "", (unsigned long long)l->held[i].token);
  *p++ = '}';
  *p = 0;
  return out;
}

static int count_actionable(pg_lease *l) {
  double now = fence_now();
  int i, n = 0;
  uv_mutex_lock(&l->mu);
  for (i = 0; i < l->nheld; i++)
    if (now - l->held[i].sent < l->k.act && now >= l->held[i].gained + 1) n++;
  uv_mutex_unlock(&l->mu);
  return n;
}

/* A statement of the round; NULL (logged when the database answered) on failure. */
static PGresult *q(pg_lease *l, const char *what, const char *sql, int n, const char *const *v,
                   char *err, size_t en) {
  PGresult *r = pgc_exec(l->pg, sql, n, v);
  if (pgc_ok(r)) return r;
  pgc_error(l->pg, r, err, en);
  PQclear(r);
  if (PQstatus(l->pg) == CONNECTION_OK)
    log_warn("kind=fleet the lease round failed at %s: %s (tried again in %g s)", what, err,
             l->k.renew);
  return NULL;
}

static void round_once(pg_lease *l) {
  char err[400], lease_s[32], *arr = NULL, *toks = NULL;
  const char *me = fence_member(), *nonce = pgc_claimer();
  double start = fence_now();
  PGresult *rm = NULL, *ru = NULL, *r = NULL;
  char **members = NULL, **want = NULL, **gone = NULL, *gtok = NULL;
  size_t gtl = 0;
  int nm = 0, nu, i, nwant = 0, ngone = 0, self = 0;
  double t0;
  err[0] = 0;
  if (pgc_ensure(l->pg, &l->k, l->k.lease, err, sizeof err)) {
    pgc_health(0, l->display, err);
    metrics_set(l->m_act, NULL, count_actionable(l), NULL, 0);
    return;
  }
  snprintf(lease_s, sizeof lease_s, "%.3f", l->k.lease);
  { /* 1. heartbeat, under this process's nonce; the first one only when the name is free */
    const char *v[3] = {me, lease_s, nonce};
    r = q(l, "heartbeat", l->joined
      ? "UPDATE members SET expires_at = now() + make_interval(secs => $2::double precision) "
        "WHERE member = $1 AND nonce = $3 RETURNING member"
      : "INSERT INTO members(member, expires_at, nonce) VALUES ($1, now() + make_interval(secs => $2::double precision), $3) "
        "ON CONFLICT (member) DO UPDATE SET expires_at = excluded.expires_at, nonce = excluded.nonce "
        "WHERE members.expires_at <= now() OR members.nonce = excluded.nonce RETURNING member", 3, v,
      err, sizeof err);
    if (!r) goto out;
    if (PQntuples(r) == 0 && l->joined) {
      /* another process took this member name while this one was away (paused past T):
       * every unit held here is given up at once, without touching the database (the
       * leases under this name are the other's now), and this one joins again once the
       * name is free */
      log_error("kind=fleet_member_taken the member name %s was taken by another process while "
                "this one was away: it stops acting for all its units and joins again once the "
                "name is free", me);
      uv_mutex_lock(&l->mu);
      while (l->nheld > 0) drop(l, &l->held[l->nheld - 1]);
      uv_mutex_unlock(&l->mu);
      l->joined = 0;
      l->name_said = 0;
    }
    if (PQntuples(r) == 0) {
      if (!l->name_said++)
        log_warn("kind=fleet the member name %s is live in the fleet's members (another process "
                 "with the same RECWATCH_MEMBER, or this one's previous life): joining once it "
                 "expires", me);
      pgc_health(1, l->display, NULL);
      goto out;
    }
    if (!l->joined) log_info("kind=fleet joined the fleet of %s as member %s", l->display, me);
    l->joined = 1;
    PQclear(r);
    r = NULL;
  }
  /* 2. who is live, which units exist */
  if (!(rm = q(l, "members", "SELECT member FROM members WHERE expires_at > now() ORDER BY member",
               0, NULL, err, sizeof err)) ||
      !(ru = q(l, "units", "SELECT unit, version FROM units ORDER BY unit", 0, NULL, err, sizeof err)))
    goto out;
  nm = PQntuples(rm);
  nu = PQntuples(ru);
  members = calloc((size_t)nm + 1, sizeof *members);
  want = calloc((size_t)nu + 1, sizeof *want);
  if (!members || !want) goto out;
  for (i = 0; i < nm; i++) {
    members[i] = PQgetvalue(rm, i, 0);
    if (strcmp(members[i], me) == 0) self = 1;
  }
  if (!self) members[nm++] = (char *)me;
  /* 3. renew what is held, in one statement, by (unit, token): a unit whose token moved (taken
   * over, if only by another process under this member name) is not renewed, and is lost */
  uv_mutex_lock(&l->mu);
  {
    const char **v = malloc((size_t)(l->nheld + 1) * sizeof *v);
    for (i = 0; v && i < l->nheld; i++) v[i] = l->held[i].unit;
    arr = v ? pgc_array(v, l->nheld) : NULL;
    free(v);
    toks = token_array(l);
  }
  i = l->nheld;
  uv_mutex_unlock(&l->mu);
  if (!arr || !toks) goto out;
  if (i > 0) {
    const char *v[4] = {me, arr, lease_s, toks};
    t0 = fence_now();   /* the fence counts from when the renewal was SENT */
    if (!(r = q(l, "renew", "UPDATE leases l SET expires_at = now() + make_interval(secs => $3::double precision) "
                "FROM unnest($2::text[], $4::bigint[]) AS h(unit, token) "
                "WHERE l.unit = h.unit AND l.token = h.token AND l.owner = $1 RETURNING l.unit",
                4, v, err, sizeof err)))
      goto out;
    uv_mutex_lock(&l->mu);
    for (i = l->nheld - 1; i >= 0; i--) {
      int k, back = 0;
      for (k = 0; k < PQntuples(r) && !back; k++) back = strcmp(PQgetvalue(r, k, 0), l->held[i].unit) == 0;
      if (back) l->held[i].sent = t0;
      else {
        log_info("kind=fleet unit %s lost: its lease was taken over (token %llu)", l->held[i].unit,
                 (unsigned long long)l->held[i].token);
        drop(l, &l->held[i]);
      }
    }
    uv_mutex_unlock(&l->mu);
    PQclear(r);
    r = NULL;
  }
  /* 4. desired owners: release the units another live member should hold */
  l->last_ok = start;   /* renewed (or nothing to renew): the round's health */
  gone = calloc((size_t)nu + 1, sizeof *gone);
  gtok = calloc((size_t)nu + 1, 21);
  if (!gone || !gtok) goto out;
  uv_mutex_lock(&l->mu);
  for (i = 0; i < nu; i++) {
    const char *unit = PQgetvalue(ru, i, 0);
    const char *d;
    lunit *u;
    int64_t ver = strtoll(PQgetvalue(ru, i, 1), NULL, 10);
    if (!*unit) {   /* the keys of no unit: versions only grow, a late read is older */
      if (ver > l->shared_seen) {
        l->shared_seen = ver;
        event(l, STORE_UNIT_CHANGED, "", 0);
      }
      continue;
    }
    d = desired(members, nm, unit);
    u = find(l, unit);
    if (u && d && strcmp(d, me) != 0) {
      if (!(gone[ngone] = strdup(unit))) continue;
      gtl += (size_t)sprintf(gtok + gtl, "%s%llu", ngone ? "," : "{", (unsigned long long)u->token);
      ngone++;
      log_info("kind=fleet unit %s released to member %s", unit, d);
      drop(l, u);   /* not actionable from here on, before the database hears of it */
    } else if (u && ver != u->version) {
      u->version = ver;   /* 6. its watch set changed */
      event(l, STORE_UNIT_CHANGED, unit, u->token);
    } else if (!u && d && strcmp(d, me) == 0) {
      want[nwant++] = (char *)unit;
    }
  }
  uv_mutex_unlock(&l->mu);
  if (ngone) {
    char *ga = pgc_array((const char *const *)gone, ngone);
    const char *v[3] = {me, ga, gtok};
    strcpy(gtok + gtl, "}");
    if (ga && (r = q(l, "release", "UPDATE leases l SET expires_at = now() "
                     "FROM unnest($2::text[], $3::bigint[]) AS h(unit, token) "
                     "WHERE l.owner = $1 AND l.unit = h.unit AND l.token = h.token", 3, v, err,
                     sizeof err))) {
      PQclear(r);
      r = NULL;
    }
    free(ga);
  }
  /* 5. take over what is desired here and free, in one statement (sorted: no deadlock) */
  if (nwant) {
    char *wa;
    qsort(want, (size_t)nwant, sizeof *want, cmp_str);
    if ((wa = pgc_array((const char *const *)want, nwant)) != NULL) {
      const char *v[3] = {me, wa, lease_s};
      t0 = fence_now();
      /* the expired rows are locked FOR UPDATE SKIP LOCKED: a row still locked (by an old
       * owner's write transaction, a paused process) is skipped this round, and stalls
       * neither the others nor this member's next renewal; absent units are inserted */
      r = q(l, "take over",
            "WITH w AS (SELECT unnest($2::text[]) AS u), "
            "e AS (SELECT l.unit FROM leases l JOIN w ON l.unit = w.u WHERE l.expires_at <= now() "
            " ORDER BY l.unit FOR UPDATE OF l SKIP LOCKED), "
            "t AS (UPDATE leases l SET owner = $1, token = l.token + 1, "
            " expires_at = now() + make_interval(secs => $3::double precision) FROM e "
            " WHERE l.unit = e.unit RETURNING l.unit, l.token), "
            "i AS (INSERT INTO leases(unit, owner, token, expires_at) "
            " SELECT u, $1, 1, now() + make_interval(secs => $3::double precision) FROM w "
            " WHERE NOT EXISTS (SELECT 1 FROM leases x WHERE x.unit = w.u) "
            " ON CONFLICT (unit) DO NOTHING RETURNING unit, token) "
            "SELECT unit, token FROM t UNION ALL SELECT unit, token FROM i", 3, v, err, sizeof err);
      free(wa);
      if (r) {
        uv_mutex_lock(&l->mu);
        for (i = 0; i < PQntuples(r); i++) {
          const char *unit = PQgetvalue(r, i, 0);
          uint64_t tok = strtoull(PQgetvalue(r, i, 1), NULL, 10);
          int64_t ver = 0;
          int k;
          for (k = 0; k < nu; k++)
            if (strcmp(PQgetvalue(ru, k, 0), unit) == 0) ver = strtoll(PQgetvalue(ru, k, 1), NULL, 10);
          if (add(l, unit, tok, t0, ver) == 0)
            log_info("kind=fleet unit %s gained (token %llu)", unit, (unsigned long long)tok);
        }
        uv_mutex_unlock(&l->mu);
        PQclear(r);
        r = NULL;
      }
    }
  }
  pgc_health(1, l->display, NULL);
  uv_mutex_lock(&l->mu);
  i = l->nheld;
  uv_mutex_unlock(&l->mu);
  metrics_set(l->m_held, NULL, i, NULL, 0);
  metrics_set(l->m_members, NULL, nm, NULL, 0);
out:
  /* an outage: the connection is gone, or the database answers but no round has renewed for
   * D s (a timeout, a read-only standby, a full disk): the member is fenced either way */
  if (PQstatus(l->pg) != CONNECTION_OK) {
    pgc_health(0, l->display, err);
  } else if (l->joined && l->last_ok > 0 && fence_now() - l->last_ok >= l->k.act) {
    char why[500];
    snprintf(why, sizeof why, "no lease renewal for %.1f s (D = %g s): %s", fence_now() - l->last_ok,
             l->k.act, err[0] ? err : "the round failed");
    pgc_health(0, l->display, why);
  }
  metrics_set(l->m_act, NULL, count_actionable(l), NULL, 0);
  free(gtok);
  free(toks);
  for (i = 0; gone && i < ngone; i++) free(gone[i]);
  free(gone);
  free(members);
  free(want);
  free(arr);
  PQclear(r);
  PQclear(rm);
  PQclear(ru);
}

/* Leaving: nothing is actionable any more, then every lease expires now and the member row
 * goes, so the others take over within one round instead of T. */
static void leave(pg_lease *l) {
  char *arr = NULL, *toks = NULL;
  const char **units;
  int i;
  uv_mutex_lock(&l->mu);
  /* only the leases this process holds, by (unit, token): never another process's under
   * the same member name */
  if ((units = malloc((size_t)(l->nheld + 1) * sizeof *units)) != NULL) {
    for (i = 0; i < l->nheld; i++) units[i] = l->held[i].unit;
    arr = pgc_array(units, l->nheld);
    free(units);
  }
  toks = token_array(l);
  uv_mutex_unlock(&l->mu);
  if (l->joined && PQstatus(l->pg) == CONNECTION_OK && arr && toks) {
    const char *v[3] = {fence_member(), arr, toks}, *m[2] = {fence_member(), pgc_claimer()};
    PQclear(pgc_exec(l->pg, "UPDATE leases l SET expires_at = now() "
                     "FROM unnest($2::text[], $3::bigint[]) AS h(unit, token) "
                     "WHERE l.owner = $1 AND l.unit = h.unit AND l.token = h.token", 3, v));
    PQclear(pgc_exec(l->pg, "DELETE FROM members WHERE member = $1 AND nonce = $2", 2, m));
  }
  free(arr);
  free(toks);
  uv_mutex_lock(&l->mu);
  while (l->nheld > 0) drop(l, &l->held[l->nheld - 1]);
  uv_mutex_unlock(&l->mu);
}

static void lease_main(void *arg) {
  pg_lease *l = arg;
  uv_mutex_lock(&l->mu);
  while (!l->quit) {
    double t = fence_now(), left;
    uv_mutex_unlock(&l->mu);
    round_once(l);
    if (l->wake) l->wake(l->arg);
    uv_mutex_lock(&l->mu);
    left = l->k.renew - (fence_now() - t);
    if (!l->quit && left > 0) uv_cond_timedwait(&l->cv, &l->mu, (uint64_t)(left * 1e9));
  }
  uv_mutex_unlock(&l->mu);
  leave(l);
}

static void free_lease(pg_lease *l) {
  lev *e;
  while (l->nheld > 0) {
    free(l->held[l->nheld - 1].unit);
    l->nheld--;
  }
  free(l->held);
  while ((e = l->eh)) {
    l->eh = e->next;
    free(e);
  }
  PQfinish(l->pg);
  free(l->url);
  free(l);
}

pg_lease *pgl_start(const char *url, const char *display, const store_pg_knobs *k,
                    void (*wake)(void *), void *arg, char *msg, size_t n) {
  pg_lease *l;
  char e[600];
  uv_once(&active_once, active_init);
  uv_mutex_lock(&active_mu);
  if (active) {
    uv_mutex_unlock(&active_mu);
    snprintf(msg, n, "a PostgreSQL store with leases is already open in this process (one fleet "
             "membership per process)");
    return NULL;
  }
  if (!(l = calloc(1, sizeof *l)) || !(l->url = strdup(url))) {
    uv_mutex_unlock(&active_mu);
    free(l);
    snprintf(msg, n, "out of memory");
    return NULL;
  }
  snprintf(l->display, sizeof l->display, "%s", display);
  l->k = *k;
  l->et = &l->eh;
  l->wake = wake;
  l->arg = arg;
  l->m_held = metrics_register(METRIC_GAUGE, "recwatch_fleet_units_held",
                               "Units (accounts) this member holds a lease on", 0, NULL, NULL, 0,
                               NULL, 0);
  l->m_members = metrics_register(METRIC_GAUGE, "recwatch_fleet_members",
                                  "Live members of the fleet, as this member saw them last", 0,
                                  NULL, NULL, 0, NULL, 0);
  l->m_act = metrics_register(METRIC_GAUGE, "recwatch_fleet_units_actionable",
                              "Units this member may act for now (held, renewed within D, past "
                              "the 1 s wait after a gain)", 0, NULL, NULL, 0, NULL, 0);
  if (!(l->pg = pgc_connect(url, k, k->lease, e, sizeof e))) {
    uv_mutex_unlock(&active_mu);
    snprintf(msg, n, "the PostgreSQL store %s: the lease connection: %s", display, e);
    free_lease(l);
    return NULL;
  }
  uv_mutex_init(&l->mu);
  uv_cond_init(&l->cv);
  fence_set(fence, l);
  if (uv_thread_create(&l->th, lease_main, l) != 0) {
    fence_set(NULL, NULL);
    uv_mutex_unlock(&active_mu);
    uv_mutex_destroy(&l->mu);
    uv_cond_destroy(&l->cv);
    snprintf(msg, n, "cannot start the lease thread");
    free_lease(l);
    return NULL;
  }
  active = l;
  uv_mutex_unlock(&active_mu);
  log_info("kind=fleet member %s: renew every %g s, act for %g s after a renewal, lease %g s",
           fence_member(), k->renew, k->act, k->lease);
  return l;
}

void pgl_stop(pg_lease *l) {
  uv_mutex_lock(&l->mu);
  l->quit = 1;
  uv_cond_signal(&l->cv);
  uv_mutex_unlock(&l->mu);
  uv_thread_join(&l->th);
  fence_set(NULL, NULL);
  metrics_set(l->m_held, NULL, 0, NULL, 0);
  metrics_set(l->m_act, NULL, 0, NULL, 0);
  uv_mutex_lock(&active_mu);
  if (active == l) active = NULL;
  uv_mutex_unlock(&active_mu);
  uv_mutex_destroy(&l->mu);
  uv_cond_destroy(&l->cv);
  free_lease(l);
}
