/* sim_events: the simulator sends Agora NCS events (reference §3) for its recordings as their
 * timelines play: signed POSTs with resends on a non-200, and the `ncs` faults (drop, delay,
 * duplicate, mis_sign). All timers on the engine clock, so virtual time covers it. */
#ifndef REC_SIM_EVENTS_H
#define REC_SIM_EVENTS_H
#include <stddef.h>

typedef struct sim sim_t;
struct lua_State;
struct sim_scenario;

/* Where the events go: an http(s) URL, or a path starting with "/" on the simulator itself
 * (e.g. "/_sim/webhook"); secret signs them (copied, registered for log redaction).
 * url NULL stops sending (events that fall due meanwhile are counted, not sent).
 * Returns 0, or -1 (bad URL, no secret, out of memory): the previous target stays. */
int sim_events_target(sim_t *sim, const char *url, const char *secret);

/* What the sender did so far (for tests and the closing log line). */
typedef struct sim_events_stats {
  long generated;   /* events that fell due */
  long attempts;    /* POSTs started (first sends, resends and duplicates) */
  long delivered;   /* answered 200 */
  long resent;      /* resends after a non-200 or a transport failure */
  long gave_up;     /* still not 200 after the last resend */
  long dropped;     /* `drop` fault: never sent */
  long duplicated, delayed, mis_signed;
  long no_target;   /* came to be sent while the target was unset (sim_events_target NULL) */
  long over_cap;    /* refused: the queue was full */
} sim_events_stats;
void sim_events_get_stats(sim_t *sim, sim_events_stats *out);

/* Hex HMAC-SHA1 (Agora-Signature) and hex HMAC-SHA256 (Agora-Signature-V2) of body. 0/-1. */
int sim_events_sign(const char *secret, const void *body, size_t len, char v1[41],
                    char v2[65]);

/* The events the scenario's recordings make, in the order they fall due (for tests):
 * the i-th one's due time in sim seconds, event type and payload JSON (sequence and sendts
 * as they will be sent when the sim started at wall-clock second wall0). NULL when i is past
 * the end. The payload is valid until sim_events_plan_free. */
typedef struct sim_events_plan sim_events_plan;
sim_events_plan *sim_events_plan_new(struct sim_scenario *sc);
const char *sim_events_plan_get(sim_events_plan *p, size_t i, double *t, int *type);
void sim_events_plan_free(sim_events_plan *p);
/* The body sent for an event: {"noticeId":..,"productId":3,"eventType":..,"notifyMs":..,
 * "payload":...}; written into out (cap bytes); its length, or 0 when it does not fit. */
size_t sim_events_body(char *out, size_t cap, const char *notice_id, int type,
                       long long notify_ms, const char *payload);

/* Internal, for sim.c and sim_scenario.c. */
int sim_events_start(sim_t *sim, char *err, size_t errlen);
void sim_events_stop(sim_t *sim);
/* Reads the scenario's `agora_ncs` section at the table index root (raises a Lua error on
 * bad input; what it allocated is already in sc, freed by sim_events_free_config). */
void sim_events_read_config(struct lua_State *L, int root, struct sim_scenario *sc);
void sim_events_free_config(struct sim_scenario *sc);

#endif
