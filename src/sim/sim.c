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
#include "sim_srv.h"

double sim_now(sim_t *s) { return (double)(uv_now(s->loop) - s->t0) / 1000.0 + s->t_offset; }

void sim_reply(sim_conn *c, int status, const char *ctype, const char *body, size_t len) {
  httpd_reply(c, status, ctype, body, len);
}

void sim_reply_json(sim_conn *c, int status, const char *body) {
  sim_reply(c, status, "application/json", body, strlen(body));
}

/* ---------------------------------------------------------------- request log */

void sim_log_request(sim_conn *c, const char *provider, int auth, const char *fault) {
  sim_t *s = SIM_OF(c);
  sbuf *b = &s->logline;
  const char *m = http_method_str((enum http_method)c->parser.method);
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
  sbuf_adds(b, "}\n");
  if (b->p) {
    fwrite(b->p, 1, b->len, s->logf);
    fflush(s->logf);
  }
}

/* ---------------------------------------------------------------- faults */

static uint64_t rng_next(uint64_t *x) {  /* xorshift64* */
  *x ^= *x >> 12;
  *x ^= *x << 25;
  *x ^= *x >> 27;
  return *x * 0x2545F4914F6CDD1DULL;
}

/* The first fault that applies to this request (its number per provider scope), or NULL. */
static sim_fault *pick_fault(sim_conn *c, int provider) {
  sim_scenario *sc = SIM_OF(c)->sc;
  double now = c->t;
  size_t i, j;
  for (i = 0; i < sc->nfaults; i++) {
    sim_fault *f = &sc->faults[i];
    long n;
    int hit;
    if (f->provider != SIM_P_ANY && f->provider != provider) continue;
    if (now < f->after || (f->before >= 0 && now >= f->before)) continue;
    if (f->times > 0 && f->fired >= f->times) continue;
    if (f->match) {
      size_t ml = strlen(f->match), k;
      int found = 0;
      for (k = 0; !found && ml <= c->pathlen && k + ml <= c->pathlen; k++)
        found = memcmp(c->path + k, f->match, ml) == 0;
      if (!found) continue;
    }
    n = SIM_OF(c)->reqno[f->provider];
    if (f->nnth) {
      hit = 0;
      for (j = 0; j < f->nnth; j++)
        if (f->nth[j] == n) hit = 1;
    } else if (f->every > 0) {
      hit = n % f->every == 0;
    } else if (f->probability >= 0) {
      hit = (double)(rng_next(&f->rng) >> 11) / 9007199254740992.0 < f->probability;
    } else {
      hit = 1;
    }
    if (hit) {
      f->fired++;
      return f;
    }
  }
  return NULL;
}

static const char html500[] =
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n";

/* Answers with the fault; returns 0, or 1 when the request must be answered normally
 * later (delay). */
static int apply_fault(sim_conn *c, sim_fault *f, int provider) {
  switch (f->kind) {
    case SIM_F_DELAY:
      c->app = f;
      httpd_defer(c, (uint64_t)f->delay_ms);
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
    default:
      break;
  }
  return 0;
}

/* ---------------------------------------------------------------- routing */

static const char no_route[] = "{\"message\":\"no Route matched with those values\"}";
static const char webhook_path[] = "/_sim/webhook";

/* The webhook sink: a POST here is an alert "arriving"; it is logged and answered the way
 * the chat-ops robots answer success ({"errcode":0,"code":0}), so demos under --sim show
 * the whole delivery path. */
static int webhook_sink(sim_conn *c) {
  char excerpt[512];
  if (c->pathlen != sizeof webhook_path - 1 || memcmp(c->path, webhook_path, c->pathlen) != 0)
    return 0;
  if (c->parser.method != HTTP_POST) {
    sim_reply_json(c, 404, no_route);
  } else {
    rec_excerpt(excerpt, sizeof excerpt, c->body.p, c->body.len);
    log_info("sim: webhook received: %s", excerpt);
    sim_reply_json(c, 200, "{\"errcode\":0,\"code\":0,\"ok\":true}");
  }
  sim_log_request(c, c->parser.method == HTTP_POST ? "webhook" : NULL, 0, NULL);
  return 1;
}

static void handle(sim_conn *c, int resumed, void *ud) {
  sim_t *s = ud;
  int provider = -1, auth = 0;
  sim_fault *f = NULL;
  const char *pname = NULL;
  sim_api_req req;

  if (!resumed) {
    c->t = sim_now(s);
    if (c->status == 400) {  /* a URL httpd could not parse: already answered */
      sim_log_request(c, NULL, 0, NULL);
      return;
    }
  }

  if (webhook_sink(c)) return;
  memset(&req, 0, sizeof req);
  req.c = c;
  if (sim_api_route(c, &req) == 0) {
    if (c->parser.method == HTTP_GET) provider = req.provider;
  }
  if (provider < 0) {
    sim_reply_json(c, 404, no_route);
    sim_log_request(c, NULL, 0, NULL);
    return;
  }
  pname = provider == SIM_P_AGORA ? "agora" : "qingcloud";
  if (!resumed) {
    s->reqno[SIM_P_ANY]++;
    s->reqno[provider]++;
    f = pick_fault(c, provider);
  }
  auth = sim_api_auth(&req);
  if (f) {
    if (apply_fault(c, f, provider)) return; /* delay: answered when handle is called again */
    sim_log_request(c, pname, auth, sim_fault_names[f->kind]);
    return;
  }
  sim_api_answer(&req);
  sim_log_request(c, pname, auth, resumed ? "delay" : NULL);
}

static void sim_freed(void *ud) {
  sim_t *s = ud;
  sim_scenario_free(s->sc);
  if (s->logf) fclose(s->logf);
  sbuf_free(&s->scratch);
  sbuf_free(&s->qbuf);
  sbuf_free(&s->logline);
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
  s->t_offset = opt && opt->start_at > 0 && opt->start_at < 1e9 ? opt->start_at : 0;
  s->wall0 = time(NULL) - (time_t)s->t_offset;
  uv_update_time(loop);
  s->t0 = uv_now(loop);
  s->sc = sim_scenario_load(opt ? opt->scenario_path : NULL, s->wall0, err, errlen);
  if (!s->sc) {
    free(s);
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
  ho.ud = s;
  s->srv = httpd_start(loop, &ho, err, errlen);
  if (!s->srv) {
    sim_freed(s);
    return NULL;
  }
  s->port = httpd_port(s->srv);
  snprintf(s->base_url, sizeof s->base_url, "%s", httpd_base_url(s->srv));
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

void sim_free(sim_t *s) {
  if (!s || s->freeing) return;
  s->freeing = 1;
  httpd_free(s->srv, sim_freed, s);
}
