/* sim: the simulated QingCloud RTC and Agora Cloud Recording services, served over HTTP on
 * a libuv loop (standalone with `recwatch sim`, or inside `recwatch run --sim`). */
#ifndef REC_SIM_H
#define REC_SIM_H
#include <uv.h>
#include "rclock.h"

typedef struct sim sim_t;

typedef struct sim_options {
  const char *host;              /* listen address, default "127.0.0.1" */
  int port;                      /* 0 = ephemeral */
  const char *scenario_path;     /* Lua scenario file; NULL = the built-in default story */
  const char *log_requests_path; /* one JSON line per request, or NULL */
  int embedded;                  /* 1: unref handles so the sim never keeps the loop alive */
  double idle_timeout;           /* seconds a connection may sit idle; 0 = 60 */
  double header_timeout;         /* seconds a request may take to arrive; 0 = 10 */
  rclock_t *clock;               /* the engine clock (timelines, faults, windows); NULL: own, real */
  double start_at;               /* >= 0: start as if already running this many seconds
                                  * (timelines, created/sliceStartTime; `query --at`) */
} sim_options;

/* Credentials and base URL a client must use (valid until sim_free). */
typedef struct sim_info {
  int port;
  const char *base_url;          /* "http://127.0.0.1:PORT" for both providers */
  const char *agora_customer_id, *agora_customer_secret;
  const char *qc_access_key_id, *qc_secret_access_key;
} sim_info;

/* The i-th Agora customer (agora.customers; 0 is the default one) or QingCloud key
 * (qingcloud.keys) of the scenario: 1 with *id and *secret set (valid until sim_free) and the
 * customer's requests per second (0: unlimited), 0 past
 * the last. `run --sim` and `recwatch test` make each an account of rec.configure. */
int sim_agora_customer(sim_t *s, size_t i, const char **id, const char **secret,
                       int *rate_limit);
int sim_qingcloud_key(sim_t *s, size_t i, const char **id, const char **secret);

/* Starts listening; returns NULL and writes a one-line reason into err on failure. */
sim_t *sim_start(uv_loop_t *loop, const sim_options *opt, char *err, size_t errlen);
void sim_get_info(sim_t *s, sim_info *out);
/* The i-th body the webhook sink received (NUL-terminated, len bytes), or NULL. */
const char *sim_webhook(sim_t *s, size_t i, size_t *len);
/* Closes the listener and all connections; frees everything once the handles are closed
 * (run the loop afterwards so the close callbacks run). */
void sim_free(sim_t *s);
/* Serves one more client on an already connected stream socket fd (the sim owns it from
 * now on). For the request-parsing fuzzer and tests; returns 0 or -1. */
int sim_adopt_fd(sim_t *s, int fd);
/* Open client connections (for the fuzzer). */
long sim_nconns(const sim_t *s);
/* `recwatch sim [--listen HOST:PORT] [--scenario FILE] [--log-requests FILE]`; argv[0] is
 * "sim". Runs until SIGINT/SIGTERM. Returns the process exit status. */
int sim_command(int argc, char **argv);

#endif
