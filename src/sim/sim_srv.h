/* sim_srv: the simulator's server state (sim_t, connections) shared by sim.c (transport)
 * and sim_api.c (provider semantics). Internal. */
#ifndef REC_SIM_SRV_H
#define REC_SIM_SRV_H
#include <http_parser.h>
#include "httpd.h"
#include <stdio.h>
#include <uv.h>
#include "qcsign.h"
#include "sim.h"
#include "sim_int.h"

#define SIM_MAX_PARAMS 64

/* A connection of the shared HTTP server (httpd.h); c->t is the request's arrival in sim
 * seconds, c->app the connection's delay timer (sim.c). */
typedef httpd_conn sim_conn;
#define SIM_OF(c) ((sim_t *)httpd_ud(c))

struct sim {
  uv_loop_t *loop;
  httpd_t *srv;
  int embedded, freeing, port;
  sim_scenario *sc;
  rclock_t *clock;   /* the engine clock, or the sim's own real one */
  int own_clock;
  double t0;         /* rclock_now at start */
  double t_offset;   /* sim seconds already elapsed at t0 (sim_options.start_at) */
  time_t wall0;      /* the clock's wall-clock time at sim time 0 */
  FILE *logf;
  char base_url[96];
  long reqno[4];     /* requests seen per provider scope (SIM_P_ANY counts both providers) */
  sbuf scratch, qbuf, logline;
  sbuf *hooks;       /* bodies the webhook sink received */
  size_t nhooks, caphooks, hook_bytes;
  int hooks_full;     /* the cap was reached (logged once) */
  const char *log_call; /* a control call being logged: its name ("call" and "billed") */
  struct sim_events *events;  /* the NCS events sender (sim_events.c) */
  struct sim_reqlog *reqlog;  /* GET /_sim/requests (sim_reqlog.c) */
  const char *log_account;    /* the account of the request being logged, or NULL */
};

/* One routed request (lives on the stack of the handler). */
typedef struct sim_api_req {
  sim_conn *c;
  int provider;
  int ctl;           /* a control call (SIM_CTL_*, sim_control.h), 0 for a query */
  /* agora */
  const char *appid, *rid, *sid, *mode;
  size_t appid_len, rid_len, sid_len, mode_len;
  int cred;          /* matched customer, -1 bad credentials, -2 no Authorization */
  /* qingcloud */
  qc_param params[SIM_MAX_PARAMS];
  size_t nparams;
  int too_many;
  int qc_key;        /* the access key of an authenticated request, else -1 */
  int auth_status;   /* 0 ok, else 400/401 */
  const char *auth_code;
  char auth_msg[160];
} sim_api_req;

double sim_now(sim_t *s);
/* Replies on c: used by sim.c (faults, sink, no route) and sim_api.c (the services). */
static inline void sim_reply(sim_conn *c, int status, const char *ctype, const char *body,
                             size_t len) {
  httpd_reply(c, status, ctype, body, len);
}
static inline void sim_reply_json(sim_conn *c, int status, const char *body) {
  sim_reply(c, status, "application/json", body, strlen(body));
}
void sim_log_request(sim_conn *c, const char *provider, int auth, const char *fault);

/* sim_reqlog.c: the request log of GET /_sim/requests, SIM_REQLOG_CAP entries at most
 * (SIM_REQLOG_CAP_EMBEDDED inside `run --sim`, whose memory is the process's own) */
#define SIM_REQLOG_CAP 100000
#define SIM_REQLOG_CAP_EMBEDDED 10000
int sim_reqlog_init(sim_t *s, size_t cap);
void sim_reqlog_free(sim_t *s);
void sim_reqlog_add(sim_t *s, sim_conn *c, const char *provider, const char *account);
int sim_reqlog_page(sim_conn *c);  /* 1 when it answered GET /_sim/requests */
/* The JSON array of the entries with t > since, oldest first, into b (emptied first). */
void sim_reqlog_render(const sim_t *s, double since, sbuf *b);
/* The authenticated account of a routed request (a customer id, an access key id), or NULL. */
const char *sim_api_account(const sim_api_req *req);

/* sim_api.c */
int sim_api_route(sim_conn *c, sim_api_req *req);  /* 0 when a provider path matched */
int sim_api_auth(sim_api_req *req);                /* 1 when authenticated */
void sim_api_answer(sim_api_req *req);

#endif
