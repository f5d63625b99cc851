/* call: the provider request state machine, for queries and both providers' control calls.
 * Every attempt (first or retry) takes a slot from the provider's pacing bucket, so retries
 * never push the account over its rate; urgent ones (control calls, urgent queries) take the
 * bucket's priority lane. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "call.h"
#include "config.h"
#include "fence.h"
#include "http.h"
#include "jdec.h"
#include "lnorm.h"
#include "lnorm_reply.h"
#include "log.h"
#include "metrics.h"
#include <lauxlib.h>

/* Free re-sends per call: a request refused at departure (pacing) or whose resend libcurl
 * wanted (a reused connection closed before any reply) goes again with a new pacing slot,
 * without spending the script's retries, at most this many times per call. */
#define FREE_RESENDS 5
/* A 429 is the pacing's business, never the script's: the request goes again with a new
 * slot (the window widened) without spending the script's retries, up to this many times
 * per call; only a server that keeps refusing past that shows the script rate_limited. */
#define FREE_429 20

/* The fence (fence.h): an attempt that would have less than this left before the unit's
 * deadline is not sent (it could not get an answer in time). */
#define FENCE_MIN_LEFT 0.2

typedef struct pcall {
  pending_t base;
  engine_t *e;
  task_t *t;
  provider_conf *conf;
  provider_account *acct;      /* the account named, or NULL: the provider's credential */
  rl_bucket *bucket;           /* the credential's pacer: the account's or the provider's */
  call_provider provider;
  agora_query_params ap;
  qc_query_params qp;
  agctl_req cr;                /* CALL_AGORA_CTL: the request (strings in strs) */
  qcctl_req qr;                /* CALL_QC_CTL: the request (strings in strs; sign_key only
                                * in the body) */
  char *body;                  /* its JSON body, built once; NULL for GET */
  size_t body_len;
  const char *what;            /* "query", "agora.start", ...: messages and /status */
  int urgent, uwaiting;        /* the priority lane; waiting in it for the window */
  int attempt, retries, free_resends, free_429;
  int resent, refused;         /* set by on_leave for the attempt in flight */
  int fenced;                  /* on_leave: the fence refused it at its real departure */
  rec_err fence_err;           /* why (a typed `fenced`) */
  int committed;               /* pending in the bucket: committed, not yet departed */
  int tries[RETRY_NCLASS];     /* retries so far, per class of failure */
  const char *host;            /* the host of the last send (a change counts a failover) */
  double timeout;
  retry_policy retry;          /* the provider's, or this call's delays */
  rtimer_t timer;              /* backoff and pacing waits, on the engine clock */
  http_req_t *req;
  int queued;                  /* counted in recwatch_pacing_queue */
  double asked_at, sent_at;    /* engine_now: slot asked for, request sent */
  double left_at;              /* engine_now: the request's departure (on_leave) */
  long left_id;                /* its id in the bucket (rl_leave); -1: it has not left */
  char strs[];                 /* the call's strings, copied: one allocation per call */
} pcall;

static void begin_attempt(pcall *pc);
static void send_attempt(pcall *pc);

static const char *provider_label(const pcall *pc);

/* The attempt no longer waits for its pacing slot: it is sent, or the call ends. */
static void unqueue(pcall *pc) {
  if (!pc->queued) return;
  pc->queued = 0;
  metrics_inc1(metrics_builtin()->pacing_queue, provider_label(pc), -1);
}

/* The attempt was committed in the pacing bucket and will not leave. */
static void uncommit(pcall *pc) {
  rl_urgent_cancel(pc->bucket, &pc->uwaiting);
  if (!pc->committed) return;
  pc->committed = 0;
  rl_abandon(pc->bucket);
}

static void pcall_free(pcall *pc) {
  unqueue(pc);
  uncommit(pc);
  rtimer_stop(&pc->timer);
  if (pc->req) http_cancel(pc->req);
  free(pc->body);
  free(pc);
}

static void pcall_cancel(pending_t *p) {
  pcall_free((pcall *)p);
}

static int is_qingcloud(call_provider p) { return p == CALL_QINGCLOUD || p == CALL_QC_CTL; }
static int is_control(call_provider p) { return p == CALL_AGORA_CTL || p == CALL_QC_CTL; }

static const char *provider_label(const pcall *pc) {
  return is_qingcloud(pc->provider) ? "qingcloud" : "agora";
}

/* Ends the call: the values are on the task's stack. */
static void finish(pcall *pc, int nres) {
  task_t *t = pc->t;
  engine_detach(t, &pc->base);
  pcall_free(pc);
  engine_complete(t, nres);
}

static void fail(pcall *pc, rec_err *err) {
  lua_State *co = task_thread(pc->t);
  err->attempts = pc->attempt;
  log_redact(err->message, sizeof err->message);
  lua_pushnil(co);
  engine_push_err(co, err);
  finish(pc, 2);
}

static void slot_reached(pcall *pc);
static void on_backoff_done(rtimer_t *t) { begin_attempt(t->data); }
static void on_slot(rtimer_t *t) { slot_reached(t->data); }

/* Runs then(pc) after seconds on the call's engine timer (never early: the engine clock
 * fires a timer only once its deadline has passed, in real and virtual time alike). */
static void after(pcall *pc, double seconds, rtimer_cb then) {
  pc->timer.cb = then;
  rtimer_start(&pc->timer, seconds);
}

/* Which retry table a failure takes: a 206 (Agora's "request not completed", code 65) is
 * the same request again on the same host; anything else on a query (no reply, a 5xx) is
 * the failover table, and moves to the next host as it goes. */
static retry_class failure_class(const pcall *pc, const rec_err *err) {
  if (pc->provider == CALL_QC_CTL) return RETRY_CONTROL;  /* QingCloud has no code 65 */
  if (err->status == 206) return RETRY_AGAIN;
  return pc->provider == CALL_AGORA_CTL ? RETRY_CONTROL : RETRY_FAILOVER;
}

/* A control call retries as documented, each class its table once through: 206 (code 65)
 * after 3 s then 6 s, a 5xx or no reply after 3, 6 and 9 s. */
static int class_spent(const pcall *pc, retry_class cls) {
  int n = cls == RETRY_AGAIN ? pc->retry.nagain : cls == RETRY_CONTROL ? pc->retry.ncontrol
                                                                        : pc->retry.ndelays;
  return is_control(pc->provider) && pc->tries[cls] >= n;
}

/* A QingCloud start that got no HTTP answer (timeout, dropped connection) may have started a
 * task: QingCloud has no duplicate-start answer (Agora's 7 or 53), so sending it again could
 * start and bill a second recorder. It is not retried; the error says so. */
static int unsure_start(pcall *pc, rec_err *err) {
  if (pc->provider != CALL_QC_CTL || pc->qr.call != QCCTL_START || err->status != 0 ||
      !err->retryable)
    return 0;
  err->retryable = 0;
  snprintf(err->message + strlen(err->message), sizeof err->message - strlen(err->message),
           "; not retried: the start may have been taken, list the channel's tasks "
           "(rec.qingcloud.query) before starting again");
  return 1;
}

static void failed_attempt(pcall *pc, rec_err *err) {
  double d;
  retry_class cls = failure_class(pc, err);
  (void)unsure_start(pc, err);
  if (!err->retryable || pc->attempt > pc->retries || class_spent(pc, cls) ||
      engine_stopping(pc->e)) {
    fail(pc, err);
    return;
  }
  pc->tries[cls]++;
  d = retry_delay(&pc->retry, cls, pc->tries[cls], err->retry_after, engine_random(pc->e));
  metrics_inc1(metrics_builtin()->retries, provider_label(pc), 1);
  log_write(LOG_INFO, task_id(pc->t), "%s %s attempt %d failed (%s: %s); retrying in %.2f s",
            provider_label(pc), pc->what, pc->attempt, rec_errkind_name(err->kind), err->message, d);
  after(pc, d, on_backoff_done);
}

/* Pushes the reply's value (nil when it is not JSON) and interprets it. A 2xx reply that keeps
 * the contract is decoded, checked and normalised in one pass (lnorm_reply); anything else
 * takes the general path (decode, facts, then the provider pass), which names what is wrong. */
/* Sets t[k] = true on the table on top. */
static void set_flag(lua_State *L, const char *k) {
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, k);
}

/* The outcome of a control call on its result (a table on top): outcome = its name, and one
 * boolean a script can test without reading codes. */
static void mark_outcome(lua_State *L, agctl_call c, agctl_outcome oc, long status) {
  lua_pushstring(L, agctl_outcome_name(oc));
  lua_setfield(L, -2, "outcome");
  lua_pushinteger(L, status);
  lua_setfield(L, -2, "http_status");
  if (c == AGCTL_START) set_flag(L, "running");  /* started, or proven running already */
  if (oc == AGCTL_ALREADY_STARTED) set_flag(L, "already_started");
  if (oc == AGCTL_CONFLICT_RUNNING) set_flag(L, "conflict");
  if (oc == AGCTL_ALREADY_STOPPED) set_flag(L, "already_stopped");
  if (oc == AGCTL_NOTHING_RECORDED) set_flag(L, "nothing_recorded");
  if (c == AGCTL_STOP) set_flag(L, "stopped");
}

/* A control call's reply: a 200 that keeps the call's contract in one pass (jdec, schema of
 * agctl_reply_schema), else the general path; then the outcome marked on a result table. */
static int interpret_ctl(pcall *pc, lua_State *L, const http_response *res, rec_err *err) {
  reply_facts f;
  agctl_outcome oc;
  agctl_call c = pc->cr.call;
  const sch_node *node = agctl_reply_schema(c);
  int done = 0;
  if (res->status == 200 && res->body_len > 0) {
    if (c == AGCTL_QUERY) {
      done = lnorm_reply(L, res->body, res->body_len, LNORM_AGORA, &f);
    } else {
      jdec_schema s = {node, NULL, NULL};
      done = jdec_reply(L, res->body, res->body_len, &s, &f);
    }
  }
  if (!done) {
    memset(&f, 0, sizeof f);
    if (res->body_len > 0 && jdec_decode(L, res->body, res->body_len)) lnorm_facts(L, -1, &f);
    else lua_pushnil(L);
  }
  if (agctl_interpret(c, res->status, res->body, res->body_len, &f, &oc, err) != 0) return -1;
  if (!done && oc == AGCTL_OK) {
    int bad = c == AGCTL_QUERY ? lnorm_agora(L, -1, res->status, err)
                               : lnorm_check(L, -1, node, node->name, err);
    if (bad) return -1;
  }
  if (!lua_istable(L, -1)) {  /* a special outcome's body that is not an object */
    lua_pop(L, 1);
    lua_newtable(L);
  }
  mark_outcome(L, c, oc, res->status);
  return 0;
}

/* A QingCloud control call's reply: the query as rec.query_qingcloud reads it; a start or
 * stop checked against its row of the schema in one pass (jdec) or the general path. */
static int interpret_qcctl(pcall *pc, lua_State *L, const http_response *res, rec_err *err) {
  reply_facts f;
  qcctl_call c = pc->qr.call;
  const sch_node *node = qcctl_reply_schema(c);
  int done = 0, ok2xx = res->status >= 200 && res->status < 300 && res->body_len > 0;
  if (ok2xx && c == QCCTL_QUERY) {
    done = lnorm_reply(L, res->body, res->body_len, LNORM_QINGCLOUD, &f);
  } else if (ok2xx) {
    jdec_schema s = {node, NULL, NULL};
    done = jdec_reply(L, res->body, res->body_len, &s, &f);
  }
  if (!done) {
    memset(&f, 0, sizeof f);
    if (res->body_len > 0 && jdec_decode(L, res->body, res->body_len)) lnorm_facts(L, -1, &f);
    else lua_pushnil(L);
  }
  if (qcctl_interpret(c, res->status, res->body, res->body_len, &f, err) != 0) return -1;
  if (!done && (c == QCCTL_QUERY ? lnorm_qingcloud(L, -1, res->status, err)
                                 : lnorm_check(L, -1, node, node->name, err)))
    return -1;
  lua_pushstring(L, "ok");
  lua_setfield(L, -2, "outcome");
  lua_pushinteger(L, res->status);
  lua_setfield(L, -2, "http_status");
  if (c == QCCTL_START) set_flag(L, "started");
  if (c == QCCTL_STOP) set_flag(L, "stopped");
  return 0;
}

static int interpret(pcall *pc, lua_State *L, const http_response *res, rec_err *err) {
  reply_facts f;
  int agora = pc->provider == CALL_AGORA, done;
  if (pc->provider == CALL_AGORA_CTL) return interpret_ctl(pc, L, res, err);
  if (pc->provider == CALL_QC_CTL) return interpret_qcctl(pc, L, res, err);
  done = res->status >= 200 && res->status < 300 && res->body_len > 0 &&
         lnorm_reply(L, res->body, res->body_len, agora ? LNORM_AGORA : LNORM_QINGCLOUD, &f);
  if (!done) {
    memset(&f, 0, sizeof f);
    if (res->body_len > 0 && jdec_decode(L, res->body, res->body_len)) lnorm_facts(L, -1, &f);
    else lua_pushnil(L);
  }
  if (agora) {
    if (agora_interpret(res->status, res->body, res->body_len, &f, err) != 0) return -1;
    return done ? 0 : lnorm_agora(L, -1, res->status, err);
  }
  if (qc_interpret(res->status, res->body, res->body_len, &f, err) != 0) return -1;
  return done ? 0 : lnorm_qingcloud(L, -1, res->status, err);
}

static void on_reply(void *ud, const http_response *res, const rec_err *terr) {
  pcall *pc = ud;
  lua_State *L = engine_lua(pc->e);
  int top = lua_gettop(L);
  rec_err err;
  const metrics_builtin_t *mb = metrics_builtin();
  pc->req = NULL;
  uncommit(pc);  /* it never left (no connection, a refusal, a resend) */
  if (pc->fenced) {  /* refused at departure by the fence: not sent, not retried */
    err = pc->fence_err;
    pc->attempt--;
    fail(pc, &err);
    return;
  }
  metrics_observe1(mb->request_duration, provider_label(pc), engine_now(pc->e) - pc->sent_at);
  if (terr && (pc->resent || pc->refused) && pc->free_resends < FREE_RESENDS &&
      !engine_stopping(pc->e)) {
    /* not a failed attempt: libcurl wanted to resend it, or it would have left too close
     * to the previous ones; it goes again with a new pacing slot */
    log_write(LOG_DEBUG, task_id(pc->t), "%s %s attempt %d %s; sending it again",
              provider_label(pc), pc->what, pc->attempt,
              pc->resent ? "lost its reused connection before any reply" : "held back by pacing");
    pc->free_resends++;
    pc->attempt--;
    begin_attempt(pc);
    return;
  }
  if (terr) {
    err = *terr;
    metrics_inc2(mb->requests, provider_label(pc), rec_errkind_name(err.kind), 1);
    failed_attempt(pc, &err);
    return;
  }
  log_write(LOG_DEBUG, task_id(pc->t), "%s %s attempt %d: HTTP %ld, %zu bytes",
            provider_label(pc), pc->what, pc->attempt, res->status, res->body_len);
  /* a slow reply moves the request's stamp to when the server may have seen it */
  rl_arrived(pc->bucket, pc->left_id, pc->left_at, engine_now(pc->e));
  if (res->status != 429) {
    rl_accepted(pc->bucket);
  } else {
    /* the server's window was fuller than ours: widen ours */
    rl_bucket *b = pc->bucket;
    if (rl_throttled(b, engine_now(pc->e), pc->left_at))
      log_write(LOG_WARN, task_id(pc->t),
                "%s answered 429 (rate limit)%s%s%s: pacing widened to %d requests per %.3f s "
                "(%.1f%% of the configured %g/s)",
                provider_label(pc), pc->acct ? " for account '" : "",
                pc->acct ? pc->acct->id : "", pc->acct ? "'" : "",
                b->window_n > 0 ? b->window_n : 1, b->w, 100.0 * b->span / b->w, b->rate);
  }
  if (res->status == 429 && pc->free_429 < FREE_429 && !engine_stopping(pc->e)) {
    /* sent again with a new slot, after the server's Retry-After if it gave one */
    metrics_inc2(mb->requests, provider_label(pc), rec_errkind_name(REC_E_RATE_LIMITED), 1);
    metrics_inc1(mb->retries, provider_label(pc), 1);
    pc->free_429++;
    pc->attempt--;
    if (res->retry_after > 0) {
      double d = res->retry_after;  /* capped like any retry wait */
      if (pc->retry.max_delay > 0 && d > pc->retry.max_delay) d = pc->retry.max_delay;
      after(pc, d, on_backoff_done);
    } else {
      begin_attempt(pc);
    }
    return;
  }
  if (interpret(pc, L, res, &err) == 0) {
    metrics_inc2(mb->requests, provider_label(pc), "ok", 1);
    lua_xmove(L, task_thread(pc->t), 1);
    lua_settop(L, top);
    finish(pc, 1);
    return;
  }
  lua_settop(L, top);
  metrics_inc2(mb->requests, provider_label(pc), rec_errkind_name(err.kind), 1);
  if (res->retry_after > 0) err.retry_after = res->retry_after;
  failed_attempt(pc, &err);
}

/* Agora's host for this attempt: the same host for the first failover retry, then the
 * next ones (agora_host_for_attempt), counting failover retries only (a control call's 5xx
 * or lost reply counts as one): a 206 retry or a free re-send stays where it is. */
static const char *agora_host(const pcall *pc) {
  const provider_conf *c = pc->conf;
  return agora_host_for_attempt((const char *const *)c->hosts, c->nhosts,
                                1 + pc->tries[RETRY_FAILOVER] + pc->tries[RETRY_CONTROL]);
}

/* The credential of the call: the account's, or the provider's (read at each attempt: a
 * reconfiguration may have replaced the secret meanwhile). */
static const char *cred_id(const pcall *pc) { return pc->acct ? pc->acct->id : pc->conf->id; }
static const char *cred_secret(const pcall *pc) {
  return pc->acct ? pc->acct->secret : pc->conf->secret;
}
static const char *cred_auth(const pcall *pc) {
  return pc->acct ? pc->acct->auth_header : pc->conf->auth_header;
}

/* Before every attempt: may this process act for the credential's unit ("agora:<customer
 * id>", "qingcloud:<access key id>") now? 0 with *cap = the seconds the attempt may last
 * (0: no cap), or -1 with a `fenced` error (not retryable): nothing may be sent. */
static int fence_attempt(const pcall *pc, double *cap, rec_err *err) {
  char unit[200], why[200];
  double until = 0, left;
  *cap = 0;
  fence_unit_name(unit, sizeof unit, provider_label(pc), cred_id(pc));
  if (!fence_check(unit, &until, why, sizeof why)) {
    rec_err_set(err, REC_E_FENCED, 0, "%s %s: this member may not act for %s now (%s); not sent",
                provider_label(pc), pc->what, unit, why[0] ? why : "fenced");
    err->retryable = 0;
    return -1;
  }
  if (until <= 0) return 0;
  left = until - fence_now();
  if (left < FENCE_MIN_LEFT) {
    rec_err_set(err, REC_E_FENCED, 0, "%s %s: %.2f s left to act for %s (at least %.1f s needed); "
                "not sent", provider_label(pc), pc->what, left > 0 ? left : 0, unit, FENCE_MIN_LEFT);
    err->retryable = 0;
    return -1;
  }
  *cap = left;
  return 0;
}

/* "User-Agent: recwatch member=<name>" when this process is a member of a fleet (a store
 * with leases, or RECWATCH_MEMBER set), so a provider's (or the simulator's) request log
 * tells the members apart; NULL otherwise (no User-Agent: neither provider asks for one). */
static const char *member_agent(void) {
  static char line[200];
  const char *m;
  size_t i, n;
  if (!fence_active() && !getenv("RECWATCH_MEMBER")) return NULL;
  if (!line[0]) {  /* the member name is fixed for the life of the process */
    n = (size_t)snprintf(line, sizeof line, "User-Agent: recwatch member=");
    for (m = fence_member(), i = 0; m[i] && n + 1 < sizeof line; i++)
      line[n++] = (unsigned char)m[i] > ' ' && (unsigned char)m[i] < 127 ? m[i] : '_';
    line[n] = 0;
  }
  return line;
}

static char *build_url(pcall *pc, rec_err *err) {
  provider_conf *c = pc->conf;
  if (pc->provider == CALL_AGORA) return agora_build_query_url(agora_host(pc), &pc->ap, err);
  if (pc->provider == CALL_AGORA_CTL) return agctl_build_url(agora_host(pc), &pc->cr, err);
  if (pc->provider == CALL_QC_CTL)  /* signed afresh each attempt, over the body sent */
    return qcctl_build_url(c->hosts[0], &pc->qr, cred_id(pc), cred_secret(pc), (time_t)engine_time(pc->e),
                           pc->body, pc->body_len, err);
  return qc_build_query_url(c->hosts[0], &pc->qp, cred_id(pc), cred_secret(pc),
                            (time_t)engine_time(pc->e), err);
}

/* Runs inside libcurl when the request is about to leave on its connection: the pacing
 * check at departure (after any wait for a connection), and libcurl's resend refused. */
static int on_leave(void *ud, int resend) {
  pcall *pc = ud;
  if (resend) {
    pc->resent = 1;
    return 1;
  }
  {
    /* the real departure (it may have waited in http.c's per-host queue since
     * send_attempt): the fence again, so that a unit released or past D meanwhile sends
     * nothing; still committed, on_reply's uncommit gives its slot back */
    double cap;
    if (fence_attempt(pc, &cap, &pc->fence_err) != 0) {
      pc->fenced = 1;
      return 1;
    }
  }
  pc->committed = 0;  /* rl_leave takes it off the pending ones either way */
  pc->left_at = engine_now(pc->e);
  pc->left_id = rl_leave(pc->bucket, pc->left_at);
  if (pc->left_id < 0) {
    pc->refused = 1;
    return 1;
  }
  return 0;
}

static void send_attempt(pcall *pc) {
  /* only the headers the provider documents: Agora's Basic auth and Content-Type; QingCloud
   * signs its query string and asks for none, but a control call's body says it is JSON */
  const char *agora_headers[4] = {NULL, "Content-Type: application/json", NULL, NULL};
  const char *qc_headers[3] = {"Content-Type: application/json", NULL, NULL};
  const char *qc_get_headers[2] = {NULL, NULL};
  const char *ua = member_agent();
  http_request r;
  rec_err err;
  double cap;
  char *url;
  const metrics_builtin_t *mb = metrics_builtin();
  unqueue(pc);
  if (fence_attempt(pc, &cap, &err) != 0) {  /* checked again at departure: time has passed */
    uncommit(pc);
    pc->attempt--;  /* not sent */
    fail(pc, &err);
    return;
  }
  url = build_url(pc, &err);
  metrics_observe1(mb->pacing_wait, provider_label(pc), engine_now(pc->e) - pc->asked_at);
  if (!is_qingcloud(pc->provider)) {
    const char *host = agora_host(pc);
    if (pc->host && host != pc->host) metrics_inc1(mb->failovers, provider_label(pc), 1);
    pc->host = host;
  }
  if (!url) {
    uncommit(pc);
    fail(pc, &err);
    return;
  }
  memset(&r, 0, sizeof r);
  if (!is_qingcloud(pc->provider)) {
    agora_headers[0] = cred_auth(pc) ? cred_auth(pc) : "Authorization:";
    agora_headers[2] = ua;
    r.headers = agora_headers;
    r.cache_url = 1;  /* the same query URL every poll; QingCloud's is signed afresh */
  } else if (ua) {
    qc_get_headers[0] = qc_headers[1] = ua;
    r.headers = qc_get_headers;
  }
  r.method = "GET";
  r.url = url;
  r.timeout = pc->timeout;
  if (cap > 0 && cap < r.timeout) r.timeout = cap;  /* it must end before the unit's deadline */
  r.reuse = 1;
  if (pc->body) {  /* a control call's POST: no kept handle (reuse is for GETs) */
    r.method = "POST";
    r.body = pc->body;
    r.body_len = pc->body_len;
    r.reuse = r.cache_url = 0;
  }
  if (pc->provider == CALL_QC_CTL && pc->body) {  /* QingCloud: start POST, stop PATCH */
    r.method = qcctl_method(pc->qr.call);
    r.headers = qc_headers;
  }
  r.on_leave = on_leave;
  pc->resent = pc->refused = pc->fenced = 0;
  pc->left_id = -1;
  pc->sent_at = engine_now(pc->e);
  pc->req = http_send(engine_http(pc->e), &r, on_reply, pc, &err);
  free(url);
  if (!pc->req) {
    uncommit(pc);
    failed_attempt(pc, &err);
  }
}

/* The booked slot has come: send when the window of departures allows it, else wait
 * until it does and ask again. */
static void slot_reached(pcall *pc) {
  rl_bucket *b = pc->bucket;
  double now = engine_now(pc->e);
  double wait = pc->urgent ? rl_commit_urgent(b, now, &pc->uwaiting) : rl_commit(b, now);
  if (wait > 0) {
    after(pc, wait, on_slot);
    return;
  }
  pc->committed = 1;
  send_attempt(pc);
}

/* Takes the next pacing slot (FIFO across all tasks, urgent ones ahead), then sends. */
static void begin_attempt(pcall *pc) {
  double wait, cap;
  rec_err err;
  if (fence_attempt(pc, &cap, &err) != 0) {  /* no slot taken for a unit this member may not act for */
    fail(pc, &err);
    return;
  }
  pc->attempt++;
  pc->asked_at = engine_now(pc->e);
  wait = pc->urgent ? rl_reserve_urgent(pc->bucket, pc->asked_at)
                    : rl_reserve(pc->bucket, pc->asked_at);
  if (wait > 0.0005) {
    pc->queued = 1;
    metrics_inc1(metrics_builtin()->pacing_queue, provider_label(pc), 1);
    after(pc, wait, on_slot);
  } else {
    slot_reached(pc);
  }
}

/* Copies s into the call's string area at *at. */
static const char *keep(char **at, const char *s) {
  size_t n;
  char *d = *at;
  if (!s) return NULL;
  n = strlen(s) + 1;
  memcpy(d, s, n);
  *at = d + n;
  return d;
}

static size_t len0(const char *s) { return s ? strlen(s) + 1 : 0; }

/* What a control call is called in logs and /status. */
static const char *ctl_what(agctl_call c) {
  static const char *const names[AGCTL_NCALLS] = {
    "agora.acquire", "agora.start", "agora.query", "agora.update", "agora.update_layout",
    "agora.stop"};
  return c < AGCTL_NCALLS ? names[c] : "agora control";
}

static const char *qc_ctl_what(qcctl_call c) {
  static const char *const names[QCCTL_NCALLS] = {"qingcloud.start", "qingcloud.stop",
                                                  "qingcloud.query"};
  return (unsigned)c < QCCTL_NCALLS ? names[c] : "qingcloud control";
}

/* The account a call names, listed by the latest configuration; NULL with err set when it is
 * not one (a typo must not fall back to another credential and its limit). */
static provider_account *find_account(const provider_conf *c, const char *id, rec_err *err) {
  provider_account *acct = config_account(c, id);
  if (acct && acct->listed) return acct;
  rec_err_set(err, REC_E_INVALID_ARGUMENT, 0,
              "unknown %s account '%.128s': name it in rec.configure{%s = {accounts = {...}}}",
              c->name, id, c->name);
  return NULL;
}

int call_check(engine_t *e, const call_args *a, rec_err *err) {
  config_t *cfg = engine_config(e);
  const provider_conf *c = is_qingcloud(a->provider) ? &cfg->qc : &cfg->agora;
  const provider_account *acct = NULL;
  int bad = a->provider == CALL_AGORA       ? agora_validate_query(&a->agora, err)
            : a->provider == CALL_AGORA_CTL ? agctl_validate(&a->ctl, err)
            : a->provider == CALL_QC_CTL    ? qcctl_validate(&a->qctl, err)
                                            : qc_validate_query(&a->qc, err);
  if (bad) return -1;
  if (a->account && !(acct = find_account(c, a->account, err))) return -1;
  if (acct ? !acct->secret : !c->id || !c->secret) {
    if (acct)
      rec_err_set(err, REC_E_AUTH, 0, "%s account '%.128s' has no secret", c->name, acct->id);
    else
      rec_err_set(err, REC_E_AUTH, 0,
                  "%s credentials are not set: export %s and %s, or pass them to rec.configure",
                  c->name, c->id_env, c->secret_env);
    err->retryable = 0;
    return -1;
  }
  if (c->nhosts == 0) {
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s has no base_url configured", c->name);
    return -1;
  }
  return 0;
}

int call_account_param(lua_State *L, int idx, call_args *a, const char *what, rec_err *err) {
  size_t n;
  int ty = lua_getfield(L, idx, "account");
  a->account = NULL;
  if (ty == LUA_TNIL) return 0;
  if (ty != LUA_TSTRING || (a->account = lua_tolstring(L, -1, &n), n == 0 || strlen(a->account) != n)) {
    a->account = NULL;
    rec_err_set(err, REC_E_INVALID_ARGUMENT, 0, "%s: 'account' must be a non-empty string (an "
                "account id of rec.configure)", what);
    return -1;
  }
  return 0;
}

int call_start(lua_State *L, task_t *t, const call_args *a, const char *what) {
  engine_t *e = task_engine(t);
  config_t *cfg = engine_config(e);
  rec_err err;
  pcall *pc;
  size_t nstr;
  char *at;
  const agctl_req *cr = &a->ctl;
  const qcctl_req *qr = &a->qctl;
  if (task_cancelled(t)) return engine_yield_now(t, engine_push_cancelled(L, what));
  if (call_check(e, a, &err) != 0) return engine_return_err(L, &err);
  nstr = a->provider == CALL_AGORA
             ? len0(a->agora.appid) + len0(a->agora.resourceid) + len0(a->agora.sid) +
                   len0(a->agora.mode)
         : a->provider == CALL_AGORA_CTL
             ? len0(cr->appid) + len0(cr->cname) + len0(cr->uid) + len0(cr->resourceid) +
                   len0(cr->sid) + len0(cr->mode)
         : a->provider == CALL_QC_CTL
             ? len0(qr->app_id) + len0(qr->project_id) + len0(qr->channel) +
                   len0(qr->query.app_id) + len0(qr->query.channel)
             : len0(a->qc.app_id) + len0(a->qc.channel);
  pc = calloc(1, sizeof *pc + nstr);
  if (!pc) return luaL_error(L, "out of memory");
  at = pc->strs;
  pc->base.cancel = pcall_cancel;
  pc->e = e;
  pc->t = t;
  engine_timer_init(e, &pc->timer, on_backoff_done, pc);
  pc->provider = a->provider;
  pc->conf = is_qingcloud(a->provider) ? &cfg->qc : &cfg->agora;
  pc->acct = a->account ? config_account(pc->conf, a->account) : NULL;  /* call_check found it */
  /* one pacer per credential: an account of the default credential's id paces with it */
  pc->bucket = pc->acct && !(pc->conf->id && strcmp(pc->acct->id, pc->conf->id) == 0)
                   ? &pc->acct->bucket
                   : &pc->conf->bucket;
  pc->what = "query";
  pc->urgent = a->urgent || is_control(a->provider);
  pc->retries = a->retries >= 0 ? a->retries : pc->conf->retry.retries;
  pc->retry = pc->conf->retry;
  if (a->ndelays > 0) retry_policy_set_all(&pc->retry, a->delays, a->ndelays);
  if (a->provider == CALL_AGORA_CTL) {
    /* the documented tables, whatever the queries' settings: a class ends the call once its
     * table is spent (class_spent), so the count only caps what the script asks for */
    retry_policy_agora(&pc->retry);
    pc->retry.max_delay = pc->conf->retry.max_delay;
    pc->retries = a->retries >= 0 ? a->retries : pc->retry.nagain + pc->retry.ncontrol;
  } else if (a->provider == CALL_QC_CTL) {
    /* the control table (3, 6, 9 s) for a 5xx or no reply, whatever the queries' settings */
    retry_policy_qingcloud(&pc->retry);
    pc->retry.max_delay = pc->conf->retry.max_delay;
    pc->retries = a->retries >= 0 ? a->retries : pc->retry.ncontrol;
  }
  pc->timeout = a->timeout > 0 ? a->timeout : pc->conf->timeout;
  if (a->provider == CALL_AGORA) {
    pc->ap.appid = keep(&at, a->agora.appid);
    pc->ap.resourceid = keep(&at, a->agora.resourceid);
    pc->ap.sid = keep(&at, a->agora.sid);
    pc->ap.mode = keep(&at, a->agora.mode);
  } else if (a->provider == CALL_AGORA_CTL) {
    pc->cr = *cr;
    pc->cr.appid = keep(&at, cr->appid);
    pc->cr.cname = keep(&at, cr->cname);
    pc->cr.uid = keep(&at, cr->uid);
    pc->cr.resourceid = keep(&at, cr->resourceid);
    pc->cr.sid = keep(&at, cr->sid);
    pc->cr.mode = keep(&at, cr->mode);
    pc->cr.client_json = NULL;  /* in the body from here on */
    pc->what = ctl_what(cr->call);
    if (cr->call != AGCTL_QUERY && !(pc->body = agctl_build_body(cr, &pc->body_len, &err))) {
      pcall_free(pc);
      return engine_return_err(L, &err);
    }
  } else if (a->provider == CALL_QC_CTL) {
    pc->qr = *qr;
    pc->qr.app_id = keep(&at, qr->app_id);
    pc->qr.project_id = keep(&at, qr->project_id);
    pc->qr.channel = keep(&at, qr->channel);
    pc->qr.query.app_id = keep(&at, qr->query.app_id);
    pc->qr.query.channel = keep(&at, qr->query.channel);
    pc->what = qc_ctl_what(qr->call);
    if (qr->call != QCCTL_QUERY && !(pc->body = qcctl_build_body(qr, &pc->body_len, &err))) {
      pcall_free(pc);
      return engine_return_err(L, &err);
    }
    pc->qr.sign_key = NULL;  /* in the body from here on; never kept beside it */
  } else {
    pc->qp = a->qc;
    pc->qp.app_id = keep(&at, a->qc.app_id);
    pc->qp.channel = keep(&at, a->qc.channel);
  }
  engine_wait(t, &pc->base, pc->what);
  begin_attempt(pc);
  return engine_suspend(t);
}
