/* config: provider settings (credentials, hosts, pacing, timeouts, retries) with defaults
 * from the environment; filled by rec.configure and by `run --sim`. */
#ifndef REC_CONFIG_H
#define REC_CONFIG_H
#include <stddef.h>
#include "ratelimit.h"
#include "retry.h"

typedef struct provider_conf {
  const char *name;              /* "agora" | "qingcloud" */
  char *id, *secret;             /* customer id/secret or access key id/secret */
  char *auth_header;             /* Agora: "Authorization: Basic ...", built once per credential */
  const char *id_env, *secret_env, *base_env;
  char **hosts;                  /* failover order; hosts[0] is the base URL */
  size_t nhosts;
  double rate;                   /* requests per second, 0 = unlimited */
  double timeout;                /* seconds per attempt */
  retry_policy retry;
  rl_bucket bucket;              /* shared by every task and retry of this credential */
  int rate_set;                  /* the bucket has been initialised once */
  int locked;                    /* --sim: base URL and credentials are fixed */
} provider_conf;

typedef struct config {
  provider_conf agora, qc;
  size_t max_reply;
  char *ca_file;
  char *state_path;
} config_t;

void config_init(config_t *c);
void config_free(config_t *c);
/* Sets a provider's hosts: a single base URL (no failover) or base + fallbacks. */
void config_set_hosts(provider_conf *p, const char *base, const char *const *fallbacks,
                      size_t nfallbacks);
void config_set_credential(provider_conf *p, const char *id, const char *secret);
void config_set_rate(provider_conf *p, double rate);

#endif
