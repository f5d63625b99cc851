/* fence: may this process act for a unit (an Agora account, a QingCloud access key) now, and
 * until when must an action it starts have ended? In a fleet (store_pg.c) a unit is held under
 * a lease; the holder may act only while less than D seconds have passed, on the monotonic
 * clock, since it sent its last successful renewal, and a request it sends must end before
 * the lease can expire (sent + T). A store with leases installs the check; without one
 * (SQLite, no store) every unit may act, with no deadline.
 *
 * Unit names: "agora:<customer id>", "qingcloud:<access key id>" (fence_unit_name).
 * The member name: RECWATCH_MEMBER, else "<hostname>:<pid>" (fence_member). */
#ifndef REC_FENCE_H
#define REC_FENCE_H
#include <stddef.h>

/* 1: may act, *until = the monotonic time (uv_hrtime() seconds) by which an action started now
 * must have ended (0: no deadline); 0: may not (not held, or past D): why in why. */
typedef int (*fence_check_fn)(void *arg, const char *unit, double *until, char *why,
                              size_t whyn);

/* Installs the check (NULL: none, every unit may act). Process-wide: one store with leases
 * per process. Thread-safe to call fence_check from any thread. */
void fence_set(fence_check_fn fn, void *arg);
/* 1 may act (until as above), 0 may not (why filled). Without a check: 1, *until = 0. */
int fence_check(const char *unit, double *until, char *why, size_t whyn);
/* 1 when a check is installed (this process is a member of a fleet). */
int fence_active(void);
/* "<provider>:<id>" into out; out. */
const char *fence_unit_name(char *out, size_t n, const char *provider, const char *id);
/* This process's member name (stable for the life of the process). */
const char *fence_member(void);
/* The monotonic clock fence deadlines are given on: uv_hrtime() in seconds. */
double fence_now(void);
#endif
