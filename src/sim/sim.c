/* sim: the simulator's request routing on the shared HTTP server (httpd.c): fault
 * injection, the webhook sink and the request log. The provider semantics (auth,
 * validation, replies) live in sim_api.c. */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "rerr.h"
#include "sim.h"
#include "sim_control.h"
#include "sim_events.h"
#include "sim_srv.h"

double sim_now(sim_t *s) { return rclock_now(s->clock) - s->t0 + s->t_offset; }

/* ---------------------------------------------------------------- request log */

void sim_log_request(sim_conn *c, const char *provider, int auth, const char *fault) {
  sim_t *s = SIM_OF(c);
  sbuf *b = &s->logline;
  const char *m = http_method_str((enum http_method)c->parser.method);
  sim_reqlog_add(s, c, provider, s->log_account);
  if (!s->logf) return;
  b->len = 0;
  sbuf_addf(b, "{\"t\":%.3f,\"method\":", c->t);
  sbuf_add_json_str(b, m, strlen(m));
  sbuf_adds(b, ",\"path\":");
  sbuf_add_json_str(b, c->path, c->pathlen);
  sbuf_adds(b, ",\"query\":");
  sbuf_add_json_str(b, c->query, c->querylen);
  sbuf_adds(b, ",\"provider\":");
  if (provider) sbuf_add_json_str(b, provider, strlen(provider));
  else sbuf_adds(b, "null");
  sbuf_addf(b, ",\"auth\":%s,\"status\":%d,\"fault\":", auth ? "true" : "false", c->status);
  if (fault) sbuf_add_json_str(b, fault, strlen(fault));
  else sbuf_adds(b, "null");
  if (s->log_call) {  /* a control call, and the tasks started (billed) so far */
    sbuf_adds(b, ",\"call\":");
    sbuf_add_json_str(b, s->log_call, strlen(s->log_call));
    sbuf_addf(b, ",\"billed\":%ld", sim_ctl_billed(s->sc));
  }
  sbuf_adds(b, "}\n");
  if (b->p) {
    fwrite(b->p, 1, b->len, s->logf);
    fflush(s->logf);
  }
}

/* ---------------------------------------------------------------- faults */

/* The first fault that applies to this request (its number per provider scope), or NULL. */
static sim_fault *pick_fault(sim_conn *c, int provider) {
  sim_scenario *sc = SIM_OF(c)->sc;
  double now = c->t;
  size_t i;
  for (i = 0; i < sc->nfaults; i++) {
    sim_fault *f = &sc->faults[i];
    long n;
    if (f->provider != SIM_P_ANY && f->provider != provider) continue;
    if (provider == SIM_P_WEBHOOK && f->provider != SIM_P_WEBHOOK) continue;
    if (now < f->after || (f->before >= 0 && now >= f->before)) continue;
    if (f->times > 0 && f->fired >= f->times) continue;
    if (f->method && strcmp(f->method, http_method_str((enum http_method)c->parser.method)))
      continue;
    if (f->match) {
      size_t ml = strlen(f->match), k;
      int found = 0;
      for (k = 0; !found && ml <= c->pathlen && k + ml <= c->pathlen; k++)
        found = memcmp(c->path + k, f->match, ml) == 0;
      if (!found) continue;
    }
    n = SIM_OF(c)->reqno[f->provider];
    if (sim_fault_fires(f, n)) return f;
  }
  return NULL;
}

static const char html500[] =
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";

/* The `delay` fault waits on the engine's clock (virtual under --virtual-time), so the
 * request is parked meanwhile: the clock may jump while a request waits in the sim. */
typedef struct sim_delay {
  rtimer_t timer;
  sim_conn *c;
  sbuf held;          /* the hold faults: the answer given, kept back meanwhile */
  const char *held_account; /* its account (the scenario's string) */
  sim_fault_kind hold; /* SIM_F_HOLD / SIM_F_HOLD_DROP, or SIM_F_COUNT when not holding */
  int held_status, held_auth;
} sim_delay;

static void sim_on_delay(rtimer_t *t) {
  sim_delay *d = t->data;
  sim_conn *c = d->c;
  rclock_unpark(SIM_OF(c)->clock, SIM_OF(c)->port, c->peer_port);
  httpd_resume(c);
}

static void delay_start(sim_conn *c, sim_fault *f) {
  sim_t *s = SIM_OF(c);
  sim_delay *d = c->app;
  if (!d) {
    if (!(d = calloc(1, sizeof *d))) {
      httpd_close_after(c);  /* no memory for the timer: the request is dropped */
      return;
    }
    d->c = c;
    d->hold = SIM_F_COUNT;
    rtimer_init(s->clock, &d->timer, sim_on_delay, d);
    if (s->embedded) rtimer_unref(&d->timer);
    c->app = d;
  }
  httpd_pause(c);
  rtimer_start(&d->timer, (double)f->delay_ms / 1000.0);
  rclock_park(s->clock, s->port, c->peer_port);
}

/* A connection closes: its delay timer stops (and its request is no longer parked). */
static void on_conn_close(sim_conn *c, void *ud) {
  sim_t *s = ud;
  sim_delay *d = c->app;
  if (!d) return;
  if (rtimer_active(&d->timer)) rclock_unpark(s->clock, s->port, c->peer_port);
  rtimer_stop(&d->timer);
  sbuf_free(&d->held);
  free(d);
  c->app = NULL;
}

/* Answers with the fault; returns 0, or 1 when the request must be answered normally
 * later (delay). */
static int apply_fault(sim_conn *c, sim_fault *f, int provider) {
  switch (f->kind) {
    case SIM_F_DELAY:
      delay_start(c, f);
      return 1;
    case SIM_F_500_HTML:
      sim_reply(c, 500, "text/html", html500, sizeof html500 - 1);
      break;
    case SIM_F_AGORA_206:
      sim_reply_json(c, 206, "{\"code\":65,\"reason\":\"request not completed\"}");
      break;
    case SIM_F_AGORA_504:
      sim_reply_json(c, 504, "{\"code\":62,\"reason\":\"request timeout\"}");
      break;
    case SIM_F_DROP:
      c->status = 0;
      httpd_close_after(c);
      break;
    case SIM_F_MALFORMED:
      sim_reply_json(c, 200, provider == SIM_P_QC
                                 ? "{\"code\":\"success\",\"offset\":0,\"limit\":20,\"recinfos\":"
                                   "[{\"id\":39,\"status\":2,,}"
                                 : "{\"resourceId\":\"sim\",\"sid\":\"sim\",\"serverResponse\":"
                                   "{\"status\":5,\"fileList\":[{\"fileName\":}");
      break;
    case SIM_F_TRUNCATED: {
      static const char part[] =
          "{\"code\":\"success\",\"offset\":0,\"limit\":20,\"recinfos\":[{\"id\":39,\"status\":2,"
          "\"channel\":\"demo-channel\",\"host\":\"rtc-rec-gw-sim-1\"";
      httpd_close_after(c);
      httpd_head(c, 200, "application/json", 4096);
      if (!c->is_head) sbuf_add(&c->out, part, sizeof part - 1);
      break;
    }
    case SIM_F_HUGE:
      httpd_reply_borrowed(c, 200, "application/json", f->huge_body, f->bytes);
      break;
    case SIM_F_429:
      sim_reply_json(c, 429, provider == SIM_P_QC
                                 ? "{\"code\":\"RequestLimitExceeded\",\"message\":"
                                   "\"API rate limit exceeded\"}"
                                 : "{\"message\":\"API rate limit exceeded\"}");
      break;
    case SIM_F_AGORA_404:
      sim_reply_json(c, 404, "{\"code\":404,\"reason\":\"failed to find worker\"}");
      break;
    case SIM_F_AGORA_502:
      sim_reply_json(c, 500, "{\"code\":502,\"reason\":\"no worker available\"}");
      break;
    default:
      break;
  }
  return 0;
}

/* The hold faults: the request takes effect now (a start starts, and is billed), its
 * answer waits `ms` on the engine clock like a delay, then goes out (hold) or the
 * connection closes unanswered (hold_drop): a client killed meanwhile never learns it. */
static void hold_start(sim_conn *c, sim_fault *f, size_t from, int auth) {
  sim_delay *d;
  delay_start(c, f);
  if (!(d = c->app)) return;  /* no memory: delay_start dropped the request */
  d->held.len = 0;
  sbuf_add(&d->held, c->out.p + from, c->out.len - from);
  c->out.len = from;
  d->hold = f->kind;
  d->held_status = c->status;
  d->held_auth = auth;
  d->held_account = SIM_OF(c)->log_account;
}

/* A held answer's time is up: 1 when this request was held (now answered or dropped). */
static int hold_release(sim_conn *c, const char *pname) {
  sim_delay *d = c->app;
  sim_fault_kind k;
  if (!d || d->hold == SIM_F_COUNT) return 0;
  k = d->hold;
  d->hold = SIM_F_COUNT;
  if (k == SIM_F_HOLD) {
    sbuf_add(&c->out, d->held.p, d->held.len);
    c->status = d->held_status;
  } else {
    c->status = 0;
    httpd_close_after(c);
  }
  SIM_OF(c)->log_account = d->held_account;
  sim_log_request(c, pname, d->held_auth, sim_fault_names[k]);
  SIM_OF(c)->log_call = NULL;
  SIM_OF(c)->log_account = NULL;
  return 1;
}

/* ---------------------------------------------------------------- routing */

static const char no_route[] = "{\"message\":\"no Route matched with those values\"}";
static const char webhook_path[] = "/_sim/webhook";

/* The webhook sink: a POST here is an alert "arriving"; it is logged and answered the way
 * the chat-ops robots answer success ({"errcode":0,"code":0}), so demos under --sim show
 * the whole delivery path. */
/* Webhook bodies are kept for sim_webhook (recwatch test's t:webhooks()), up to a cap, so a
 * simulator left running for days (or a fuzzer) does not grow without end; past it the
 * sink still answers and logs each alert, and says once that it stopped keeping them. */
#define SIM_KEEP_HOOKS 10000
#define SIM_KEEP_HOOK_BYTES (16u << 20)
static void keep_webhook(sim_t *s, const char *body, size_t len) {
  char *copy;
  if (s->nhooks >= SIM_KEEP_HOOKS || s->hook_bytes + len > SIM_KEEP_HOOK_BYTES) {
    if (!s->hooks_full) log_warn("sim: webhook sink keeps the first %zu bodies (%u MiB at most) "
                                 "for t:webhooks(); later ones are logged only", s->nhooks,
                                 SIM_KEEP_HOOK_BYTES >> 20);
    s->hooks_full = 1;
    return;
  }
  if (s->nhooks == s->caphooks) {
    size_t ncap = s->caphooks ? 2 * s->caphooks : 16;
    sbuf *g = realloc(s->hooks, ncap * sizeof *g);
    if (!g) return;
    s->hooks = g;
    s->caphooks = ncap;
  }
  if (!(copy = malloc(len + 1))) return;
  memcpy(copy, body, len);
  copy[len] = '\0';
  s->hooks[s->nhooks].p = copy;
  s->hooks[s->nhooks].len = s->hooks[s->nhooks].cap = len;
  s->nhooks++;
  s->hook_bytes += len;
}

const char *sim_webhook(sim_t *s, size_t i, size_t *len) {
  if (i >= s->nhooks) return NULL;
  *len = s->hooks[i].len;
  return s->hooks[i].p;
}

static int webhook_sink(sim_conn *c, int resumed) {
  char excerpt[512];
  sim_fault *f = NULL;
  if (c->pathlen != sizeof webhook_path - 1 || memcmp(c->path, webhook_path, c->pathlen) != 0)
    return 0;
  if (c->parser.method == HTTP_POST && !resumed) {  /* faults that name "webhook" */
    SIM_OF(c)->reqno[SIM_P_WEBHOOK]++;
    if ((f = pick_fault(c, SIM_P_WEBHOOK)) != NULL) {
      if (apply_fault(c, f, SIM_P_WEBHOOK)) return 1;  /* delay: answered when resumed */
      sim_log_request(c, "webhook", 0, sim_fault_names[f->kind]);
      return 1;
    }
  }
  if (c->parser.method != HTTP_POST) {
    sim_reply_json(c, 404, no_route);
  } else {
    rec_excerpt(excerpt, sizeof excerpt, c->body.p, c->body.len);
    log_info("sim: webhook received: %s", excerpt);
    keep_webhook(SIM_OF(c), c->body.p ? c->body.p : "", c->body.len);
    sim_reply_json(c, 200, "{\"errcode\":0,\"code\":0,\"ok\":true}");
  }
  sim_log_request(c, c->parser.method == HTTP_POST ? "webhook" : NULL, 0, resumed ? "delay" : NULL);
  return 1;
}

static void handle(sim_conn *c, int resumed, void *ud) {
  sim_t *s = ud;
  int provider = -1, auth = 0;
  sim_fault *f = NULL;
  const char *pname = NULL;
  sim_api_req req;

  s->log_account = NULL;
  if (!resumed) {
    c->t = sim_now(s);
    if (c->status == 400) {  /* a URL httpd could not parse: already answered */
      sim_log_request(c, NULL, 0, NULL);
      return;
    }
  }

  if (webhook_sink(c, resumed)) return;
  if (sim_ctl_page(c)) {  /* GET /_sim/billed */
    sim_log_request(c, "sim", 0, NULL);
    return;
  }
  if (sim_reqlog_page(c)) return;  /* GET /_sim/requests: reading the log adds nothing to it */
  memset(&req, 0, sizeof req);
  req.c = c;
  if (sim_ctl_route(c, &req) == 0) {  /* control calls: POST (QingCloud: POST, PATCH) */
    provider = req.provider;
    s->log_call = sim_ctl_name(req.ctl);
  } else if (sim_api_route(c, &req) == 0) {
    if (c->parser.method == HTTP_GET) provider = req.provider;
  }
  if (provider < 0) {
    sim_reply_json(c, 404, no_route);
    sim_log_request(c, NULL, 0, NULL);
    return;
  }
  pname = provider == SIM_P_AGORA ? "agora" : "qingcloud";
  if (resumed && hold_release(c, pname)) return;
  if (!resumed) {
    s->reqno[SIM_P_ANY]++;
    s->reqno[provider]++;
    f = pick_fault(c, provider);
  }
  auth = sim_api_auth(&req);
  s->log_account = auth ? sim_api_account(&req) : NULL;
  /* agora_404 plays a live recording's failover window: a server answers it, so only to an
   * authenticated Agora request (anything else gets its normal answer) */
  if (f && f->kind == SIM_F_AGORA_404 && (provider != SIM_P_AGORA || !auth)) {
    f->fired--;
    f = NULL;
  }
  if (f && (f->kind == SIM_F_HOLD || f->kind == SIM_F_HOLD_DROP)) {
    size_t from = c->out.len;
    sim_api_answer(&req);
    hold_start(c, f, from, auth);  /* answered (or dropped) when handle is called again */
    s->log_call = NULL;
    return;
  }
  if (f) {
    if (!apply_fault(c, f, provider)) /* delay: answered when handle is called again */
      sim_log_request(c, pname, auth, sim_fault_names[f->kind]);
    s->log_call = NULL;
    return;
  }
  sim_api_answer(&req);
  sim_log_request(c, pname, auth, resumed ? "delay" : NULL);
  s->log_call = NULL;
  s->log_account = NULL;
}

/* sim_start failed before anything was listening. */
static void drop_unstarted(sim_t *s) {
  if (s->own_clock) rclock_free(s->clock);
  free(s);
}

static void sim_freed(void *ud) {
  sim_t *s = ud;
  if (s->own_clock && s->clock) rclock_free(s->clock);  /* a start that failed late */
  sim_scenario_free(s->sc);
  while (s->nhooks > 0) free(s->hooks[--s->nhooks].p);
  free(s->hooks);
  if (s->logf) fclose(s->logf);
  sbuf_free(&s->scratch);
  sbuf_free(&s->qbuf);
  sbuf_free(&s->logline);
  sim_reqlog_free(s);
  free(s);
}

/* ---------------------------------------------------------------- public API */

sim_t *sim_start(uv_loop_t *loop, const sim_options *opt, char *err, size_t errlen) {
  sim_t *s = calloc(1, sizeof *s);
  httpd_options ho;
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->loop = loop;
  s->embedded = opt ? opt->embedded : 0;
  s->clock = opt ? opt->clock : NULL;
  if (!s->clock) {
    s->clock = rclock_new(loop, 0, 0);
    s->own_clock = 1;
    if (!s->clock) {
      snprintf(err, errlen, "out of memory");
      free(s);
      return NULL;
    }
  }
  s->t_offset = opt && opt->start_at > 0 && opt->start_at < 1e9 ? opt->start_at : 0;
  s->wall0 = (time_t)rclock_time(s->clock) - (time_t)s->t_offset;
  s->t0 = rclock_now(s->clock);
  s->sc = sim_scenario_load(opt ? opt->scenario_path : NULL, s->wall0, err, errlen);
  if (!s->sc) {
    drop_unstarted(s);
    return NULL;
  }
  if (sim_reqlog_init(s, s->embedded ? SIM_REQLOG_CAP_EMBEDDED : SIM_REQLOG_CAP) != 0) {
    snprintf(err, errlen, "out of memory");
    sim_freed(s);
    return NULL;
  }
  if (opt && opt->log_requests_path) {
    s->logf = fopen(opt->log_requests_path, "a");  /* append: a file emptied meanwhile stays clean */
    if (!s->logf) {
      snprintf(err, errlen, "cannot open %s for writing", opt->log_requests_path);
      sim_freed(s);
      return NULL;
    }
  }
  memset(&ho, 0, sizeof ho);
  ho.host = opt ? opt->host : NULL;
  ho.port = opt ? opt->port : 0;
  ho.embedded = s->embedded;
  ho.server = "recwatch-sim";
  ho.handler = handle;
  ho.on_close = on_conn_close;
  ho.idle_timeout = opt ? opt->idle_timeout : 0;
  ho.header_timeout = opt ? opt->header_timeout : 0;
  ho.ud = s;
  ho.keep_headers[0] = "User-Agent";  /* the fleet member (sim_reqlog.c) */
  s->srv = httpd_start(loop, &ho, err, errlen);
  if (!s->srv) {
    sim_freed(s);
    return NULL;
  }
  s->port = httpd_port(s->srv);
  snprintf(s->base_url, sizeof s->base_url, "%s", httpd_base_url(s->srv));
  if (sim_events_start(s, err, errlen) != 0) {
    sim_free(s);
    return NULL;
  }
  return s;
}

void sim_get_info(sim_t *s, sim_info *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  out->port = s->port;
  out->base_url = s->base_url;
  out->agora_customer_id = s->sc->ag[0].id;
  out->agora_customer_secret = s->sc->ag[0].secret;
  out->qc_access_key_id = s->sc->qc[0].id;
  out->qc_secret_access_key = s->sc->qc[0].secret;
}

int sim_agora_customer(sim_t *s, size_t i, const char **id, const char **secret,
                       int *rate_limit) {
  if (!s || i >= s->sc->nag) return 0;
  *rate_limit = s->sc->ag[i].rate_limit;
  *id = s->sc->ag[i].id;
  *secret = s->sc->ag[i].secret;
  return 1;
}

int sim_qingcloud_key(sim_t *s, size_t i, const char **id, const char **secret) {
  if (!s || i >= s->sc->nqc) return 0;
  *id = s->sc->qc[i].id;
  *secret = s->sc->qc[i].secret;
  return 1;
}

void sim_free(sim_t *s) {
  if (!s || s->freeing) return;
  s->freeing = 1;
  sim_events_stop(s);  /* its requests and timers, while the clock is still there */
  httpd_free(s->srv, sim_freed, s);  /* closes every connection now: their timers stop */
  if (s->own_clock) rclock_free(s->clock);
  s->clock = NULL;
}

int sim_adopt_fd(sim_t *s, int fd) { return s && s->srv ? httpd_adopt_fd(s->srv, fd) : -1; }

long sim_nconns(const sim_t *s) { return s && s->srv ? httpd_nconns(s->srv) : 0; }
