/* ops: recwatch as a service. The listener (/metrics, /healthz, /status) on its own thread
 * and uv_loop, fed by a snapshot and a heartbeat the main loop publishes; the watcher
 * registry behind /status and /healthz; SIGHUP (reload) and SIGUSR1 (status to the log);
 * systemd's notify protocol. One per process; the listener belongs to the process object. */
#ifndef REC_OPS_H
#define REC_OPS_H
#include <stddef.h>
#include "engine.h"
#include "sbuf.h"

/* Starts the listener on "HOST:PORT", "[V6]:PORT" or "PORT" (loopback). Listening again on
 * the same address is a no-op; on another one, an error. 0, or -1 with err. */
int ops_listen(const char *addr, char *err, size_t errlen);
/* What ops_listen(addr) would answer, without listening: a validation (engine_check_script). */
int ops_listen_check(const char *addr, char *err, size_t errlen);
/* The listener's base URL ("http://127.0.0.1:9464"), or NULL when not listening. */
const char *ops_listen_url(void);
/* The listener (its thread, loop and server), owned by the process object (process.c). The
 * functions above act on the installed one: ops_listener_use(l) installs l (NULL: the
 * built-in one, for programs without a process object) and returns the previous one;
 * ops_listener_free stops l's thread when it listens, uninstalls and frees it. */
typedef struct ops_listener ops_listener;
ops_listener *ops_listener_new(void);
ops_listener *ops_listener_use(ops_listener *l);
void ops_listener_free(ops_listener *l);
/* How long the main loop may go without a heartbeat before /healthz says it is stuck. */
void ops_set_stuck_after(double seconds);

/* Main-loop side for `recwatch run`: heartbeat + snapshot timer (sends WATCHDOG=1),
 * SIGHUP/SIGUSR1 handlers, READY=1. */
void ops_attach(engine_t *e);
/* A reload's new Lua state is made, before its script runs: the old script's watchers leave
 * /status and /healthz, but keep their times for the new script to take over when it
 * registers the same keys (until the next reload). */
void ops_new_state(void);
/* The reloaded script's main chunk ran to its first wait: counted, published; READY=1. */
void ops_reloaded(engine_t *e);
/* The new script raised at start-up, after the old one was stopped: counted as a failed
 * reload and logged; the run then ends like any script whose main task failed. */
void ops_reload_failed(engine_t *e);
/* Stops the listener thread and forgets everything (before engine_free). */
void ops_shutdown(void);

/* systemd's sd_notify datagram ("READY=1", ...); nothing when NOTIFY_SOCKET is unset. */
int ops_notify(const char *state);

/* The /status document, built now (main loop), redacted like logs. */
void ops_status_json(engine_t *e, sbuf *out);

/* Watcher registry: what watchers report after each poll (rec.health.report). */
typedef struct ops_report {
  const char *provider;
  int ok;                /* this poll succeeded */
  const char *status;    /* last status seen (text), or NULL to keep the previous one */
  const char *error;     /* the error of a failed poll */
  double next_poll;      /* engine_time of the next poll, 0 = unknown */
  double stale_after;    /* seconds without a good poll before the watcher is stale; 0 = keep */
  const char *state;     /* "ok" | "stale" | "error" | "auth_failed" from the watcher
                            itself, or NULL */
  int stale;             /* 1: the watcher has reported itself stale (also while its state
                            says auth_failed), 0: not, -1: not said (keep) */
} ops_report;
/* Registers or updates the watcher `key`: O(1) whatever the number of watchers (a hash
 * table). Times are the engine's monotonic clock (engine_now), so a wall-clock step makes
 * no watcher stale. */
void ops_report_watcher(engine_t *e, const char *key, const ops_report *r);
void ops_forget_watcher(const char *key);

/* What the registry knows of `key`, for a script that registers it again after a reload:
 * since (engine_now of its first registration before any reload), last_good (engine_now of
 * the last good poll, -1 = none), its wall time, and whether the old script had reported it
 * stale. 0 when unknown. */
typedef struct ops_times {
  double since, last_good, last_good_wall;
  int was_stale;
} ops_times;
int ops_watcher_times(const char *key, ops_times *t);

/* For tests: the same without an engine (now = engine_now, wall = engine_time); the health
 * verdict at `now` (returns how many watchers make the process unhealthy, reason "" when
 * none); how many keys lookups have compared so far (one per lookup, whatever the size). */
void ops_report_watcher_at(const char *key, const ops_report *r, double now, double wall);
int ops_health_at(double now, char *reason, size_t reasonlen);
unsigned long long ops_watcher_probes(void);

#endif
