/* sim_cli: `recwatch sim` — parses options, starts the simulator on its own loop, prints
 * the base URLs and credentials as shell export lines, serves until SIGINT/SIGTERM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sim.h"
#include "sim_events.h"
#include "sim_int.h"

static const char usage[] =
    "usage: recwatch sim [--listen HOST:PORT] [--scenario FILE] [--log-requests FILE]\n"
    "                    [--idle-timeout SECONDS] [--header-timeout SECONDS]\n"
    "                    [--events-url URL --ncs-secret-file PATH]\n"
    "       recwatch sim --print-scenario\n"
    "Serves simulated QingCloud RTC and Agora Cloud Recording APIs (default 127.0.0.1:0 =\n"
    "an ephemeral port). Prints export lines for the client, then serves until SIGINT/SIGTERM.\n"
    "A connection idle for --idle-timeout (default 60 s), or whose request takes longer than\n"
    "--header-timeout (default 10 s) to arrive, is closed.\n"
    "--events-url: POST signed Agora NCS events for the scenario's recordings there (a path\n"
    "starting with / is on the simulator itself), signed with the secret in the file.\n";

typedef struct cli_state {
  sim_t *sim;
  uv_signal_t sigint, sigterm;
} cli_state;

static void on_signal(uv_signal_t *h, int signum) {
  cli_state *st = h->data;
  sim_free(st->sim);
  st->sim = NULL;
  uv_close((uv_handle_t *)&st->sigint, NULL);
  uv_close((uv_handle_t *)&st->sigterm, NULL);
}

/* Prints NAME='value' with shell single quotes. */
static void put_export(const char *name, const char *value) {
  const char *p;
  printf("export %s='", name);
  for (p = value; *p; p++) {
    if (*p == '\'') fputs("'\\''", stdout);
    else putchar(*p);
  }
  puts("'");
}

/* The NCS secret from a file (never from the command line, where ps shows it): the first
 * line, without its line end. 0, or -1 with a message on stderr. */
static int read_secret(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n;
  if (!f) {
    fprintf(stderr, "recwatch sim: cannot read --ncs-secret-file %s\n", path);
    return -1;
  }
  n = fread(out, 1, cap - 1, f);
  fclose(f);
  out[n] = '\0';
  out[strcspn(out, "\r\n")] = '\0';
  if (!out[0] || n == cap - 1) {
    fprintf(stderr, "recwatch sim: --ncs-secret-file %s: expected one line of 1..%zu bytes\n",
            path, cap - 2);
    return -1;
  }
  return 0;
}

/* "HOST:PORT", "[v6]:PORT", ":PORT" or "PORT". */
static int parse_listen(const char *s, char *host, size_t hostlen, int *port) {
  const char *colon = strrchr(s, ':'), *ps;
  char *end;
  long p;
  size_t hl;
  if (!colon) {
    ps = s;
    snprintf(host, hostlen, "127.0.0.1");
  } else {
    ps = colon + 1;
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
      s++;
      hl -= 2;
    }
    if (hl == 0) snprintf(host, hostlen, "127.0.0.1");
    else if (hl >= hostlen) return -1;
    else {
      memcpy(host, s, hl);
      host[hl] = '\0';
    }
  }
  if (!*ps) return -1;
  p = strtol(ps, &end, 10);
  if (*end || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

int sim_command(int argc, char **argv) {
  sim_options opt;
  sim_info info;
  cli_state st;
  uv_loop_t loop;
  char host[128], err[512], secret[1024];
  const char *events_url = NULL, *secret_file = NULL;
  int i;
  memset(&opt, 0, sizeof opt);
  memset(&st, 0, sizeof st);
  snprintf(host, sizeof host, "127.0.0.1");
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *val = NULL, *eq;
    char name[32];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(a, "--print-scenario")) {
      fputs(sim_default_scenario_lua, stdout);
      return 0;
    }
    eq = strchr(a, '=');
    if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = '\0';
      val = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", a);
    }
    if (strcmp(name, "--listen") && strcmp(name, "--scenario") && strcmp(name, "--log-requests") &&
        strcmp(name, "--idle-timeout") && strcmp(name, "--header-timeout") &&
        strcmp(name, "--events-url") && strcmp(name, "--ncs-secret-file")) {
      fprintf(stderr, "recwatch sim: unknown option '%s'\n%s", a, usage);
      return 2;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "recwatch sim: %s needs a value\n%s", name, usage);
        return 2;
      }
      val = argv[++i];
    }
    if (!strcmp(name, "--listen")) {
      if (parse_listen(val, host, sizeof host, &opt.port) != 0) {
        fprintf(stderr, "recwatch sim: bad --listen '%s' (expected HOST:PORT)\n", val);
        return 2;
      }
    } else if (!strcmp(name, "--scenario")) {
      opt.scenario_path = val;
    } else if (!strcmp(name, "--events-url")) {
      events_url = val;
    } else if (!strcmp(name, "--ncs-secret-file")) {
      secret_file = val;
    } else if (!strcmp(name, "--idle-timeout") || !strcmp(name, "--header-timeout")) {
      char *end;
      double v = strtod(val, &end);
      if (*end || !(v > 0 && v <= 86400)) {
        fprintf(stderr, "recwatch sim: %s must be seconds in (0, 86400]\n", name);
        return 2;
      }
      if (name[2] == 'i') opt.idle_timeout = v;
      else opt.header_timeout = v;
    } else {
      opt.log_requests_path = val;
    }
  }
  opt.host = host;
  if (!events_url != !secret_file) {
    fprintf(stderr, "recwatch sim: --events-url and --ncs-secret-file go together\n%s", usage);
    return 2;
  }
  if (secret_file && read_secret(secret_file, secret, sizeof secret) != 0) return 2;
  if (uv_loop_init(&loop) != 0) {
    fprintf(stderr, "recwatch sim: cannot create the event loop\n");
    return 1;
  }
  st.sim = sim_start(&loop, &opt, err, sizeof err);
  if (!st.sim) {
    fprintf(stderr, "recwatch sim: %s\n", err);
    uv_run(&loop, UV_RUN_DEFAULT);  /* let close callbacks free what was started */
    uv_loop_close(&loop);
    return 2;
  }
  if (events_url && sim_events_target(st.sim, events_url, secret) != 0) {
    fprintf(stderr, "recwatch sim: bad --events-url (expected an http(s) URL)\n");
    sim_free(st.sim);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 2;
  }
  memset(secret, 0, sizeof secret);
  sim_get_info(st.sim, &info);
  printf("# recwatch sim: QingCloud RTC and Agora Cloud Recording on %s (%s scenario)\n",
         info.base_url, opt.scenario_path ? opt.scenario_path : "default");
  put_export("AGORA_API_BASE", info.base_url);
  put_export("AGORA_CUSTOMER_ID", info.agora_customer_id);
  put_export("AGORA_CUSTOMER_SECRET", info.agora_customer_secret);
  put_export("QINGCLOUD_RTC_API_BASE", info.base_url);
  put_export("QINGCLOUD_ACCESS_KEY_ID", info.qc_access_key_id);
  put_export("QINGCLOUD_SECRET_ACCESS_KEY", info.qc_secret_access_key);
  {  /* the further customers and keys (accounts, issue 24): _2, _3, ... */
    const char *id, *sec;
    char name[64];
    size_t i;
    int lim;
    for (i = 1; sim_agora_customer(st.sim, i, &id, &sec, &lim); i++) {
      snprintf(name, sizeof name, "AGORA_CUSTOMER_ID_%zu", i + 1);
      put_export(name, id);
      snprintf(name, sizeof name, "AGORA_CUSTOMER_SECRET_%zu", i + 1);
      put_export(name, sec);
    }
    for (i = 1; sim_qingcloud_key(st.sim, i, &id, &sec); i++) {
      snprintf(name, sizeof name, "QINGCLOUD_ACCESS_KEY_ID_%zu", i + 1);
      put_export(name, id);
      snprintf(name, sizeof name, "QINGCLOUD_SECRET_ACCESS_KEY_%zu", i + 1);
      put_export(name, sec);
    }
  }
  printf("export RECWATCH_SIM_PORT=%d\n", info.port);
  fflush(stdout);
  uv_signal_init(&loop, &st.sigint);
  uv_signal_init(&loop, &st.sigterm);
  st.sigint.data = st.sigterm.data = &st;
  uv_signal_start(&st.sigint, on_signal, SIGINT);
  uv_signal_start(&st.sigterm, on_signal, SIGTERM);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
