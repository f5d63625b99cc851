/* config: provider settings (credentials, hosts, pacing, timeouts, retries) with defaults
 * from the environment; filled by rec.configure and by `run --sim`. */
#ifndef REC_CONFIG_H
#define REC_CONFIG_H
#include <stddef.h>
#include "ratelimit.h"
#include "retry.h"

/* An account (issue 24): one more credential of a provider, with its own pacer. A call that
 * names it (account = "<id>") uses its credential and its bucket; hosts, timeout and retries
 * stay the provider's. Accounts are never freed before config_free (a call in flight keeps a
 * pointer to its bucket): one that a later rec.configure no longer lists is only unlisted. */
typedef struct provider_account {
  char *id, *secret;
  char *auth_header;             /* Agora: "Authorization: Basic ..." */
  double rate;                   /* requests per second, 0 = unlimited */
  rl_bucket bucket;
  int listed;                    /* named by the latest configuration (or the simulator) */
  int locked;                    /* --sim: the simulator's secret, whatever a script says */
} provider_account;

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
  provider_account **accounts;   /* rec.configure{<provider> = {accounts = {...}}} */
  size_t naccounts;
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

/* The account of this id (listed or not), or NULL. */
provider_account *config_account(const provider_conf *p, const char *id);
/* Adds the account, or updates the one of this id in place (its bucket keeps its history):
 * the secret (unless the account is locked and lock is 0), the rate (< 0: the provider's),
 * listed = 1; lock = 1 makes it the simulator's. NULL when out of memory. */
provider_account *config_set_account(provider_conf *p, const char *id, const char *secret,
                                     double rate, int lock);
/* Every account unlisted (a new configuration lists the ones it keeps). */
void config_unlist_accounts(provider_conf *p);

#endif
