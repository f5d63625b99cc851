/* config: defaults (documented hosts, Agora's 10 req/s, QingCloud 20 req/s, 10 s timeouts,
 * 3 retries) overridden by environment variables, then by rec.configure. */
#include <stdio.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <string.h>
#include "agora.h"
#include "config.h"
#include "log.h"
#include "qingcloud.h"

static char *dup_or_null(const char *s) { return s && *s ? strdup(s) : NULL; }

static void free_hosts(provider_conf *p) {
  size_t i;
  for (i = 0; i < p->nhosts; i++) free(p->hosts[i]);
  free(p->hosts);
  p->hosts = NULL;
  p->nhosts = 0;
}

void config_set_hosts(provider_conf *p, const char *base, const char *const *fallbacks,
                      size_t nfallbacks) {
  size_t i;
  free_hosts(p);
  p->hosts = calloc(nfallbacks + 1, sizeof *p->hosts);
  if (!p->hosts) return;
  p->hosts[p->nhosts++] = strdup(base);
  for (i = 0; i < nfallbacks; i++) p->hosts[p->nhosts++] = strdup(fallbacks[i]);
  for (i = 0; i < p->nhosts; i++) {  /* no trailing slash */
    size_t n = strlen(p->hosts[i]);
    while (n > 0 && p->hosts[i][n - 1] == '/') p->hosts[i][--n] = '\0';
  }
}

static void wipe(char **s) {
  if (*s) {
    OPENSSL_cleanse(*s, strlen(*s));
    free(*s);
    *s = NULL;
  }
}

/* Agora's "Authorization: Basic ..." for id:secret (registered as a secret), or NULL. */
static char *basic_header(const char *id, const char *secret) {
  char *basic, *h = NULL;
  size_t n;
  if (!id || !secret) return NULL;
  basic = agora_basic_auth(id, secret);
  n = basic ? strlen(basic) + 16 : 0;
  if (basic && (h = malloc(n)) != NULL) {
    snprintf(h, n, "Authorization: %s", basic);
    log_add_secret(basic + 6);  /* the base64 of id:secret is as secret as the secret */
  }
  if (basic) OPENSSL_cleanse(basic, strlen(basic));
  free(basic);
  return h;
}

void config_set_credential(provider_conf *p, const char *id, const char *secret) {
  if (id) {
    free(p->id);
    p->id = dup_or_null(id);
    /* QingCloud's access key id is a credential (docs/operations.md): hidden also where a
     * server quotes it in prose ("access key QY... does not exist"), not only as name=value */
    if (strcmp(p->name, "qingcloud") == 0) log_add_secret(p->id);
  }
  if (secret) {
    wipe(&p->secret);
    p->secret = dup_or_null(secret);
    log_add_secret(p->secret);
  }
  wipe(&p->auth_header);
  if (strcmp(p->name, "agora") == 0) p->auth_header = basic_header(p->id, p->secret);
}

/* A new rate keeps the bucket's history (the booked slots and the last send), so
 * reconfiguring in the middle of a run never lets a burst through. */
void config_set_rate(provider_conf *p, double rate) {
  p->rate = rate;
  if (p->rate_set) rl_set_rate(&p->bucket, rate);
  else rl_init(&p->bucket, rate);
  p->rate_set = 1;
}

provider_account *config_account(const provider_conf *p, const char *id) {
  size_t i;
  for (i = 0; id && i < p->naccounts; i++)
    if (strcmp(p->accounts[i]->id, id) == 0) return p->accounts[i];
  return NULL;
}

provider_account *config_set_account(provider_conf *p, const char *id, const char *secret,
                                     double rate, int lock) {
  provider_account *a = config_account(p, id);
  if (!id || !*id) return NULL;
  if (!a) {
    provider_account **g = realloc(p->accounts, (p->naccounts + 1) * sizeof *g);
    if (!g) return NULL;
    p->accounts = g;
    if (!(a = calloc(1, sizeof *a)) || !(a->id = strdup(id))) {
      free(a);
      return NULL;
    }
    rl_init(&a->bucket, rate >= 0 ? rate : p->rate);
    a->rate = rate >= 0 ? rate : p->rate;
    p->accounts[p->naccounts++] = a;
  } else {
    a->rate = rate >= 0 ? rate : p->rate;
    rl_set_rate(&a->bucket, a->rate);  /* the history stays: no burst on a reconfigure */
  }
  if (strcmp(p->name, "qingcloud") == 0) log_add_secret(a->id);  /* as config_set_credential */
  if (lock) a->locked = 1;
  if (secret && *secret && (lock || !a->locked)) {
    wipe(&a->secret);
    a->secret = strdup(secret);
    log_add_secret(a->secret);
    wipe(&a->auth_header);
    if (strcmp(p->name, "agora") == 0) a->auth_header = basic_header(a->id, a->secret);
  }
  a->listed = 1;
  return a;
}

void config_unlist_accounts(provider_conf *p) {
  size_t i;
  for (i = 0; i < p->naccounts; i++)
    if (!p->accounts[i]->locked) p->accounts[i]->listed = 0;
}

static void provider_defaults(provider_conf *p, double rate) {
  const char *base = getenv(p->base_env);
  p->timeout = 10;
  config_set_rate(p, rate);
  config_set_credential(p, getenv(p->id_env), getenv(p->secret_env));
  if (base && *base) config_set_hosts(p, base, NULL, 0);
}

void config_init(config_t *c) {
  memset(c, 0, sizeof *c);
  c->agora.name = "agora";
  c->agora.id_env = "AGORA_CUSTOMER_ID";
  c->agora.secret_env = "AGORA_CUSTOMER_SECRET";
  c->agora.base_env = "AGORA_API_BASE";
  retry_policy_agora(&c->agora.retry);
  config_set_hosts(&c->agora, agora_default_hosts[0], agora_default_hosts + 1,
                   agora_default_hosts_count - 1);
  provider_defaults(&c->agora, 10);

  c->qc.name = "qingcloud";
  c->qc.id_env = "QINGCLOUD_ACCESS_KEY_ID";
  c->qc.secret_env = "QINGCLOUD_SECRET_ACCESS_KEY";
  c->qc.base_env = "QINGCLOUD_RTC_API_BASE";
  retry_policy_qingcloud(&c->qc.retry);
  config_set_hosts(&c->qc, QC_DEFAULT_BASE, NULL, 0);
  provider_defaults(&c->qc, 20);
}

static void provider_free(provider_conf *p) {
  size_t i;
  for (i = 0; i < p->naccounts; i++) {
    provider_account *a = p->accounts[i];
    free(a->id);
    wipe(&a->secret);
    wipe(&a->auth_header);
    free(a);
  }
  free(p->accounts);
  p->accounts = NULL;
  p->naccounts = 0;
  free_hosts(p);
  free(p->id);
  p->id = NULL;
  wipe(&p->secret);
  wipe(&p->auth_header);
}

void config_free(config_t *c) {
  provider_free(&c->agora);
  provider_free(&c->qc);
  free(c->ca_file);
  free(c->state_path);
  c->ca_file = c->state_path = NULL;
}
