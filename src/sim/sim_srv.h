/* sim_srv: the simulator's server state (sim_t, connections) shared by sim.c (transport)
 * and sim_api.c (provider semantics). Internal. */
#ifndef REC_SIM_SRV_H
#define REC_SIM_SRV_H
#include <http_parser.h>
#include <stdio.h>
#include <uv.h>
#include "qcsign.h"
#include "sim.h"
#include "sim_int.h"

#define SIM_MAX_PARAMS 64

typedef struct sim_conn sim_conn;

struct sim {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listener_open, embedded, freeing, port;
  sim_scenario *sc;
  rclock_t *clock;   /* the engine clock, or the sim's own real one */
  int own_clock;
  double t0;         /* rclock_now at start */
  double t_offset;   /* sim seconds already elapsed at t0 (sim_options.start_at) */
  time_t wall0;      /* the clock's wall-clock time at sim time 0 */
  FILE *logf;
  char base_url[96];
  sim_conn *conns;   /* newest first */
  long nconns, max_conns;        /* max_conns: descriptors we may use, with headroom */
  uint64_t idle_ms, header_ms;   /* transport timeouts (real time, not the engine clock) */
  long shed;                     /* idle connections closed to make room */
  long reqno[4];     /* requests seen per provider scope (SIM_P_ANY counts both providers) */
  sbuf scratch, qbuf, logline;
  sbuf *hooks;       /* bodies the webhook sink received */
  size_t nhooks, caphooks;
  char rbuf[65536];  /* shared read buffer: every read is consumed before returning */
};

struct sim_conn {
  uv_tcp_t tcp;
  rtimer_t timer;    /* the `delay` fault, on the engine clock (parked while it runs) */
  int peer_port;     /* the client's port: how the engine knows a parked request */
  uv_timer_t guard;  /* idle and slow-request timeouts (real time) */
  uint64_t idle_since;  /* uv_now when the connection last became idle */
  sim_t *sim;
  sim_conn *prev, *next;
  http_parser parser;
  int open_handles;
  unsigned closing : 1, close_after : 1, stop_parsing : 1, delaying : 1, reading : 1,
      bp_paused : 1, peer_eof : 1, is_head : 1, http10 : 1, has_auth : 1, in_auth : 1,
      last_value : 1, in_message : 1;
  int writes;        /* uv_write requests in flight */
  int err_status;    /* 431/413 decided inside a parser callback */
  int status;        /* status of the reply being sent (for the log) */
  size_t head_bytes, body_bytes;
  sbuf url, auth, field, out;
  sbuf body;         /* the request body (POSTs to the webhook sink), capped at MAX_BODY */
  char *in;          /* unparsed bytes kept while a delayed request waits */
  size_t in_len;
  sim_fault *delayed_fault;
  double req_t;      /* arrival of the current request, sim seconds */
  const char *path, *query;
  size_t pathlen, querylen;
};

/* One routed request (lives on the stack of the handler). */
typedef struct sim_api_req {
  sim_conn *c;
  int provider;
  /* agora */
  const char *appid, *rid, *sid, *mode;
  size_t appid_len, rid_len, sid_len, mode_len;
  int cred;          /* matched customer, -1 bad credentials, -2 no Authorization */
  /* qingcloud */
  qc_param params[SIM_MAX_PARAMS];
  size_t nparams;
  int too_many;
  int auth_status;   /* 0 ok, else 400/401 */
  const char *auth_code;
  char auth_msg[160];
} sim_api_req;

double sim_now(sim_t *s);
void sim_reply(sim_conn *c, int status, const char *ctype, const char *body, size_t len);
void sim_reply_json(sim_conn *c, int status, const char *body);
void sim_reply_borrowed(sim_conn *c, int status, const char *ctype, const char *body, size_t len);
void sim_log_request(sim_conn *c, const char *provider, int auth, const char *fault);
void sim_on_delay(rtimer_t *t);
void sim_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void sim_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* sim_api.c */
int sim_api_route(sim_conn *c, sim_api_req *req);  /* 0 when a provider path matched */
int sim_api_auth(sim_api_req *req);                /* 1 when authenticated */
void sim_api_answer(sim_api_req *req);

#endif
