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
  if (strcmp(p->name, "agora") == 0 && p->id && p->secret) {
    char *basic = agora_basic_auth(p->id, p->secret);
    size_t n = basic ? strlen(basic) + 16 : 0;
    if (basic && (p->auth_header = malloc(n)) != NULL) {
      snprintf(p->auth_header, n, "Authorization: %s", basic);
      log_add_secret(basic + 6);  /* the base64 of id:secret is as secret as the secret */
    }
    if (basic) OPENSSL_cleanse(basic, strlen(basic));
    free(basic);
  }
}

/* A new rate keeps the bucket's history (the booked slots and the last send), so
 * reconfiguring in the middle of a run never lets a burst through. */
void config_set_rate(provider_conf *p, double rate) {
  p->rate = rate;
  if (p->rate_set) rl_set_rate(&p->bucket, rate);
  else rl_init(&p->bucket, rate);
  p->rate_set = 1;
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
