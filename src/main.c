/* main: the recwatch command line: run, check, query, silence, sessions, sim, --version, --help. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin.h"
#include "config.h"
#include "crypto.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "lrec.h"
#include "ops.h"
#include "process.h"
#include "rtest.h"
#include "setup.h"
#include "sim/sim.h"
#include "store_pg.h"
#include "events.h"
#include "suggest.h"


static const char usage[] =
  "usage: recwatch [--log-level debug|info|warn|error] [--log-format text|json] COMMAND ...\n"
  "\n"
  "commands:\n"
  "  run [--sim] [--scenario FILE] [--state DB] [--listen ADDR] [--events-listen ADDR]\n"
  "      SCRIPT [ARGS...]\n"
  "                      run a Lua workflow script (ARGS are in the global `arg`);\n"
  "                      --sim starts the simulated clouds in-process and points both\n"
  "                      providers at them; --listen serves /metrics, /healthz, /status;\n"
  "                      --events-listen receives Agora's NCS events (POST /agora/ncs)\n"
  "  run --sim --virtual-time --until SECONDS [--seed N] [--scenario FILE] SCRIPT ...\n"
  "                      the same on a virtual clock that jumps whenever everything\n"
  "                      waits; stops (like SIGTERM) at SECONDS of virtual time\n"
  "  test [--junit FILE] [--seed N] [FILE|DIR]...\n"
  "                      run rec.test files (*_test.lua in a DIR), each case on a fresh\n"
  "                      engine, simulator and virtual clock; TAP on stdout (docs/testing.md)\n"
  "  check [--sim] SCRIPT [ARGS...]\n"
  "                      validate SCRIPT as a reload does: compile it, run its top level\n"
  "                      up to its first side effect (rec.configure checked, not applied);\n"
  "                      prints file:line: message on an error\n"
  "  query qingcloud --app-id ID --channel NAME [--from-hour N] [--to-hour N]\n"
  "                  [--offset N] [--limit N | --all] [SIM]\n"
  "  query agora --appid ID --resourceid RID --sid SID [--mode individual|mix|web] [SIM]\n"
  "                      one query (--all: every page); prints the normalised result as\n"
  "                      one JSON document, or the typed error on stderr with an exit\n"
  "                      status per kind (docs/api.md); SIM: --sim [--scenario FILE]\n"
  "                      [--at SECONDS] asks the simulator, at that point of its story\n"
  "  silence add --match LABEL=VALUE [--match ...] --for DURATION --comment TEXT\n"
  "  silence list | silence expire ID     [--listen ADDR] [--token-file FILE]\n"
  "                      silences through a running `recwatch run` (its admin route)\n"
  "  sessions add|remove|list --state STORE ...\n"
  "                      the sessions watch.fleet watches, in a state store (SQLite file\n"
  "                      or postgresql:// URL); `recwatch sessions --help`\n"
  "  sim [--listen HOST:PORT] [--scenario FILE] [--log-requests FILE]\n"
  "                      serve the simulated QingCloud RTC and Agora APIs\n"
  "\n"
  "  help [COMMAND]      this text, or one command's (also: recwatch COMMAND --help)\n"
  "\n"
  "exit status: 0 done, 1 the main task failed, 2 usage or configuration error\n"
  "credentials: AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET, AGORA_API_BASE,\n"
  "  QINGCLOUD_ACCESS_KEY_ID, QINGCLOUD_SECRET_ACCESS_KEY, QINGCLOUD_RTC_API_BASE\n";

static const char run_usage[] =
  "usage: recwatch run [--sim] [--scenario FILE] [--state DB] [--listen ADDR]\n"
  "                    [--admin-token-file FILE [--admin-remote]] [--events-listen ADDR]\n"
  "                    [--virtual-time --until SECONDS] [--seed N]\n"
  "                    [--fleet-renew S] [--fleet-lease S] [--fleet-act S]\n"
  "                    [--log-level LEVEL] [--log-format text|json] SCRIPT [ARGS...]\n"
  "\n"
  "Runs a Lua workflow script until its tasks end, rec.exit, or SIGINT/SIGTERM.\n"
  "  --sim            start the simulated clouds in-process; both providers use them\n"
  "  --scenario FILE  the simulator's scenario (with --sim)\n"
  "  --state DB       the state file (watchers' statuses, the alert outbox), or a\n"
  "                   PostgreSQL URL (postgresql://...): a fleet member (docs/design.md)\n"
  "  --fleet-renew S, --fleet-lease S, --fleet-act S  a fleet's lease renewal period r\n"
  "                   (2), lease time T (10) and acting window D (5); r < D, D + 1 < T\n"
  "  --listen ADDR    serve /metrics, /healthz and /status on ADDR: PORT (loopback),\n"
  "                   HOST:PORT or [IPV6]:PORT; off by default (docs/operations.md)\n"
  "  --admin-token-file FILE  the listener's admin routes (/admin/silences: `recwatch\n"
  "                   silence`) answer requests with the token of FILE's first line;\n"
  "                   loopback listeners only, unless --admin-remote\n"
  "  --events-listen ADDR  receive Agora's notifications (POST /agora/ncs) on ADDR, a\n"
  "                   listener of its own (docs/operations.md, \"Exposing the NCS receiver\")\n"
  "  --virtual-time   (with --sim) a virtual clock that jumps whenever everything waits;\n"
  "  --until SECONDS  stop (like SIGTERM) at that virtual time; --seed N: the random seed\n"
  "signals: SIGHUP reloads SCRIPT (kept running when the new one does not compile),\n"
  "  SIGUSR1 writes the /status document to the log, SIGINT/SIGTERM stop.\n"
  "exit status: 0 done, 1 the main task failed, 2 usage or configuration error\n";

static const char check_usage[] =
  "usage: recwatch check [--sim] SCRIPT [ARGS...]\n"
  "\n"
  "Validates SCRIPT the way a reload (SIGHUP) does before the running script stops: it\n"
  "compiles, and its top level runs in a scratch state up to its first side effect (a task,\n"
  "a wait, a query, the state file, a metric, a file written, an exit), with rec.configure\n"
  "checking its settings without applying them. Prints 'SCRIPT: ok', or file:line: message\n"
  "and exits 1. ARGS are the script's arguments; --sim gives it rec.sim as `run --sim` does.\n";

/* The usage of a command (NULL = the general one). */
static const char *usage_of(const char *cmd) {
  if (!cmd) return usage;
  if (strcmp(cmd, "run") == 0) return run_usage;
  if (strcmp(cmd, "check") == 0) return check_usage;
  return NULL;
}

static const char *usage_cmd;  /* the command whose usage errors show */

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "recwatch: ");
  fprintf(stderr, fmt, arg);
  if (usage_of(usage_cmd)) {
    fprintf(stderr, "\n\n%s\nTry 'recwatch %s --help'.\n", usage_of(usage_cmd), usage_cmd);
  } else {
    fprintf(stderr, "\n\n%s\nTry 'recwatch --help'.\n", usage);
  }
  return 2;
}

/* What a misspelt command or option may have meant: "unknown command 'querry' (did you mean
 * 'query'?)". */
static const char *const commands[] = {"run", "check", "query", "silence", "sessions", "sim", "test", "help",
                                       "version", "--version", "--help", "--log-level",
                                       "--log-format", NULL};
static const char *const run_options[] = {"--sim", "--scenario", "--state", "--listen",
                                          "--events-listen",
                                          "--virtual-time", "--until", "--seed", "--log-level",
                                          "--log-format", "--help", "--admin-token-file",
                                          "--admin-remote", "--fleet-renew", "--fleet-lease",
                                          "--fleet-act", NULL};

static int unknown_error(const char *fmt, const char *got, const char *const *allowed) {
  char hint[96], msg[160];
  suggest_hint(hint, sizeof hint, got, allowed);
  snprintf(msg, sizeof msg, "%s%s", fmt, hint);
  return usage_error(msg, got);
}

static int is_help(const char *a) {
  return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

/* Options that may come before the command or before the script. Returns how many argv
 * entries were used (0 when argv[0] is not one of them), or -1 after printing an error. */
static int global_option(int argc, char **argv) {
  if (strcmp(argv[0], "--log-level") == 0) {
    int lv;
    if (argc < 2) return usage_error("%s needs a value: debug, info, warn or error", argv[0]), -1;
    if ((lv = log_parse_level(argv[1])) < 0)
      return usage_error("unknown log level '%s' (use debug, info, warn or error)", argv[1]), -1;
    log_set_level((log_level)lv);
    return 2;
  }
  if (strcmp(argv[0], "--log-format") == 0) {
    if (argc < 2 || (strcmp(argv[1], "text") != 0 && strcmp(argv[1], "json") != 0))
      return usage_error("%s takes text or json", argv[0]), -1;
    log_set_json(strcmp(argv[1], "json") == 0);
    return 2;
  }
  return 0;
}

typedef struct run_opts {
  int sim, virtual_time;
  double until;                  /* virtual seconds; < 0: none */
  uint64_t seed;
  const char *scenario, *state, *listen, *events_listen;
  const char *admin_token_file;  /* run: the admin routes' token */
  int admin_remote;
  double at;                     /* query --at: simulator seconds already elapsed */
} run_opts;

static const char *sim_url;  /* for the Lua states a reload makes */
static const char *events_addr;   /* --events-listen, for the Lua states a reload makes */

/* --events-listen with --sim: rec.sim.events_url in the state L, as rec.configure's
 * events_listen sets it. */
static void sim_events_url(engine_t *e, lua_State *L) {
  events_rx *rx = events_for(e, 0, NULL, NULL, 0);
  if (!sim_url || !rx || !events_url(rx)) return;
  lua_getglobal(L, "rec");
  if (lua_istable(L, -1) && lua_getfield(L, -1, "sim") == LUA_TTABLE) {
    lua_pushstring(L, events_url(rx));
    lua_setfield(L, -2, "events_url");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static rec_process *process;  /* the log configuration, the metrics registry, the listener */

/* Starts the in-process simulator (on the engine's loop and clock) and points both providers
 * at it, credentials included. */
static sim_t *attach_sim(engine_t *e, const run_opts *o) {
  sim_options so;
  char err[256];
  sim_t *s;
  memset(&so, 0, sizeof so);
  so.host = "127.0.0.1";
  so.scenario_path = o->scenario;
  so.embedded = 1;
  so.clock = engine_clock(e);
  so.start_at = o->at;
  s = sim_start(engine_loop(e), &so, err, sizeof err);
  if (!s) {
    fprintf(stderr, "recwatch: cannot start the simulator: %s\n", err);
    return NULL;
  }
  rtest_attach_sim(e, s);
  {
    sim_info info;
    sim_get_info(s, &info);
    sim_url = info.base_url;  /* a reload's new Lua state gets rec.sim too */
  }
  return s;
}

/* Every Lua state a reload makes, and the scratch state a validation (check, reload) uses. */
static void on_new_state(engine_t *e, lua_State *L, void *ud) {
  int scratch;
  (void)ud;
  (void)e;
  scratch = lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_VALIDATE_KEY) != LUA_TNIL;
  lua_pop(L, 1);
  /* the old script's watchers: their times go on in the new one. Not for the scratch state
   * a validation runs in before the reload: a second carry would drop them all. */
  if (!scratch) ops_new_state();
  if (sim_url) lrec_set_sim(L, sim_url);
  if (!scratch && events_addr) {   /* the old state's receiver closed with it */
    char err[600];
    if (setup_events(e, L, events_addr, err, sizeof err) != 0) log_write(LOG_ERROR, 0, "%s", err);
    else sim_events_url(e, L);
  }
}

static void on_reloaded(engine_t *e, int ok, void *ud) {
  (void)ud;
  if (ok) ops_reloaded(e);
  else ops_reload_failed(e);
}

/* Runs SCRIPT (or, with chunk != NULL, an embedded module) as the main task. */
static int run_script(const run_opts *o, const char *script, int argc, char **argv,
                      const char *module) {
  char err[1024];
  setup_options so;
  engine_t *e;
  sim_t *sim = NULL;
  int status = 2;
  memset(&so, 0, sizeof so);
  so.signals = 1;
  so.virtual_time = o->virtual_time;
  so.seed = o->seed ? o->seed : (o->virtual_time ? 1 : 0);  /* virtual: the same run each time */
  so.process = process;
  so.listen = o->listen;  /* main.c is the one place that attaches a listener */
  e = setup_engine(&so, err, sizeof err);
  if (!e) {
    fprintf(stderr, "recwatch: %s\n", err);
    ops_shutdown();
    return 2;
  }
  if (o->state) engine_config(e)->state_path = strdup(o->state);
  if (o->sim && !(sim = attach_sim(e, o))) goto done;
  if (sim) setup_sim_events(sim);   /* the receiver's URL and secret, to the simulator */
  if (o->events_listen) {
    if (setup_events(e, engine_lua(e), o->events_listen, err, sizeof err) != 0) {
      fprintf(stderr, "recwatch: %s\n", err);
      goto done;
    }
    events_addr = o->events_listen;
    sim_events_url(e, engine_lua(e));
  }
  if (o->until >= 0) engine_set_until(e, o->until);
  if (engine_load_main(e, script, module, argc, argv, err, sizeof err) != 0) {
    fprintf(stderr, "recwatch: %s\n", err);
    goto done;
  }
  if (!module) {  /* a service: heartbeat, SIGHUP reload, SIGUSR1 status, sd_notify */
    engine_on_new_state(e, on_new_state, NULL);
    engine_on_reloaded(e, on_reloaded, NULL);
    ops_attach(e);
  }
  status = engine_run(e);
done:
  ops_shutdown();
  setup_sim_events(NULL);
  if (sim) sim_free(sim);
  engine_free(e);
  return status;
}

static int cmd_run(int argc, char **argv) {
  run_opts o;
  int i = 1, used, fleet_knobs = 0;
  memset(&o, 0, sizeof o);
  o.until = -1;
  while (i < argc && argv[i][0] == '-' && (argv[i][1] == '-' || is_help(argv[i]))) {
    if (strcmp(argv[i], "--sim") == 0) {
      o.sim = 1;
      i++;
    } else if (is_help(argv[i])) {
      fputs(run_usage, stdout);
      return 0;
    } else if (strcmp(argv[i], "--listen") == 0) {
      if (i + 1 >= argc) return usage_error("%s needs an address: PORT, HOST:PORT or [IPV6]:PORT", argv[i]);
      o.listen = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--admin-token-file") == 0) {
      if (i + 1 >= argc) return usage_error("%s needs a file name", argv[i]);
      o.admin_token_file = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--admin-remote") == 0) {
      o.admin_remote = 1;
      i++;
    } else if (strcmp(argv[i], "--events-listen") == 0) {
      if (i + 1 >= argc) return usage_error("%s needs an address: PORT, HOST:PORT or [IPV6]:PORT", argv[i]);
      o.events_listen = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--virtual-time") == 0) {
      o.virtual_time = 1;
      i++;
    } else if (strcmp(argv[i], "--until") == 0 || strcmp(argv[i], "--seed") == 0) {
      char *end = NULL;
      double v;
      if (i + 1 >= argc) return usage_error("%s needs a number", argv[i]);
      v = strtod(argv[i + 1], &end);
      if (!end || *end || end == argv[i + 1] || !(v >= 0) || v > 1e9)
        return usage_error("bad number '%s'", argv[i + 1]);
      if (argv[i][2] == 'u') o.until = v;
      else o.seed = (uint64_t)v;
      i += 2;
    } else if (strcmp(argv[i], "--scenario") == 0 || strcmp(argv[i], "--state") == 0) {
      if (i + 1 >= argc) return usage_error("%s needs a file name", argv[i]);
      if (argv[i][2] == 's' && argv[i][3] == 'c') o.scenario = argv[i + 1];
      else o.state = argv[i + 1];
      i += 2;
    } else if (strcmp(argv[i], "--fleet-renew") == 0 || strcmp(argv[i], "--fleet-lease") == 0 ||
               strcmp(argv[i], "--fleet-act") == 0) {   /* read by the PostgreSQL store */
      char env[32];
      size_t k;
      if (i + 1 >= argc) return usage_error("%s needs a number of seconds", argv[i]);
      snprintf(env, sizeof env, "RECWATCH_%s", argv[i] + 2);
      for (k = 0; env[k]; k++) env[k] = env[k] == '-' ? '_' : (char)toupper((unsigned char)env[k]);
      setenv(env, argv[i + 1], 1);
      fleet_knobs = 1;
      i += 2;
    } else if ((used = global_option(argc - i, argv + i)) != 0) {
      if (used < 0) return 2;
      i += used;
    } else {
      return unknown_error("unknown option '%s' for run", argv[i], run_options);
    }
  }
  if (i >= argc) return usage_error("%s", "run needs a script: recwatch run SCRIPT [ARGS...]");
  if (o.scenario && !o.sim) return usage_error("%s", "--scenario goes with --sim");
  if (o.virtual_time && !o.sim)
    return usage_error("%s", "--virtual-time goes with --sim (real providers cannot jump in time)");
  if (o.virtual_time && o.until < 0)
    return usage_error("%s", "--virtual-time needs --until SECONDS (a watcher never ends by itself)");
  if (o.until >= 0 && !o.virtual_time) return usage_error("%s", "--until goes with --virtual-time");
  if (o.admin_remote && !o.admin_token_file)
    return usage_error("%s", "--admin-remote goes with --admin-token-file");
  if (fleet_knobs) {
    store_pg_knobs k;
    char err[512];
    if (store_pg_knobs_get(&k, err, sizeof err) != 0) return usage_error("%s", err);
  }
  if (o.admin_token_file) {
    char err[512];
    if (admin_configure(o.admin_token_file, o.admin_remote, err, sizeof err) != 0) {
      fprintf(stderr, "recwatch: %s\n", err);
      return 2;
    }
  }
  return run_script(&o, argv[i], argc - i - 1, argv + i + 1, NULL);
}

static int cmd_check(int argc, char **argv) {
  char err[1024];
  engine_t *e;
  int rc, i = 1;
  if (argc >= 2 && is_help(argv[1])) {
    fputs(check_usage, stdout);
    return 0;
  }
  if (i < argc && strcmp(argv[i], "--sim") == 0) {  /* rec.sim as `run --sim` has it */
    sim_url = "http://127.0.0.1:1";
    i++;
  }
  if (i >= argc) return usage_error("%s", "check needs a script: recwatch check [--sim] SCRIPT [ARGS...]");
  e = engine_new(err, sizeof err);
  if (!e) {
    fprintf(stderr, "recwatch: %s\n", err);
    return 2;
  }
  engine_on_new_state(e, on_new_state, NULL);
  rc = engine_check_script(e, argv[i], argc - i - 1, argv + i + 1, err, sizeof err);
  engine_free(e);
  if (rc != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("%s: ok\n", argv[i]);
  return 0;
}

static int cmd_query(int argc, char **argv) {
  run_opts o;
  int i, n = 0, has_at = 0;
  char **rest;
  memset(&o, 0, sizeof o);
  o.until = -1;
  /* rec.cli.query owns its usage: --help, and usage errors (also no provider at all) */
  rest = calloc((size_t)argc, sizeof *rest);
  if (!rest) return 2;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--sim") == 0) {
      o.sim = 1;
    } else if ((strcmp(argv[i], "--scenario") == 0 || strcmp(argv[i], "--at") == 0) &&
               i + 1 < argc) {
      if (argv[i][2] == 's') {
        o.scenario = argv[++i];
      } else {
        char *end;
        o.at = strtod(argv[++i], &end);
        if (*end || end == argv[i] || !(o.at >= 0 && o.at <= 1e8)) {
          free(rest);
          return usage_error("--at needs seconds >= 0 (got '%s')", argv[i]);
        }
        has_at = 1;
      }
    } else {
      rest[n++] = argv[i];
    }
  }
  if ((o.scenario || has_at) && !o.sim) {
    free(rest);
    return usage_error("%s", "--scenario and --at go with --sim");
  }
  i = run_script(&o, "query", n, rest, "rec.cli.query");
  free(rest);
  return i;
}

/* `recwatch silence ...`: the embedded rec.cli.silence, which owns its usage. It talks to
 * the service directly: a proxy from the environment would be handed the admin token. */
static int cmd_silence(int argc, char **argv) {
  static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy",
                                        "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
  run_opts o;
  size_t k;
  for (k = 0; proxies[k]; k++) unsetenv(proxies[k]);
  memset(&o, 0, sizeof o);
  o.until = -1;
  return run_script(&o, "silence", argc - 1, argv + 1, "rec.cli.silence");
}

/* `recwatch sessions ...`: the embedded rec.cli.sessions (watch.fleet's set in a state store),
 * which owns its usage and opens the store itself. */
static int cmd_sessions(int argc, char **argv) {
  run_opts o;
  memset(&o, 0, sizeof o);
  o.until = -1;
  return run_script(&o, "sessions", argc - 1, argv + 1, "rec.cli.sessions");
}

static int dispatch(int argc, char **argv) {
  int i = 1, used;
  while (i < argc && (used = global_option(argc - i, argv + i)) != 0) {
    if (used < 0) return 2;
    i += used;
  }
  if (i >= argc) {
    fputs(usage, stderr);
    return 2;
  }
  if (is_help(argv[i]) || strcmp(argv[i], "help") == 0) {
    const char *u = i + 1 < argc && strcmp(argv[i], "help") == 0 ? usage_of(argv[i + 1]) : usage;
    if (i + 1 < argc && strcmp(argv[i], "help") == 0 && strcmp(argv[i + 1], "sim") == 0) {
      char *h[2] = {"sim", "--help"};
      return sim_command(2, h);
    }
    if (i + 1 < argc && strcmp(argv[i], "help") == 0 && strcmp(argv[i + 1], "test") == 0) {
      char *h[2] = {"test", "--help"};
      return rtest_command(2, h);
    }
    if (i + 1 < argc && strcmp(argv[i], "help") == 0 && strcmp(argv[i + 1], "query") == 0) {
      char *h[2] = {"query", "--help"};
      return cmd_query(2, h);
    }
    if (i + 1 < argc && strcmp(argv[i], "help") == 0 && strcmp(argv[i + 1], "silence") == 0) {
      char *h[2] = {"silence", "--help"};
      return cmd_silence(2, h);
    }
    if (i + 1 < argc && strcmp(argv[i], "help") == 0 && strcmp(argv[i + 1], "sessions") == 0) {
      char *h[2] = {"sessions", "--help"};
      return cmd_sessions(2, h);
    }
    if (!u) return unknown_error("no help for unknown command '%s'", argv[i + 1], commands);
    fputs(u, stdout);
    return 0;
  }
  usage_cmd = argv[i];
  if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "version") == 0) {
    printf("recwatch %s (%s)\n", RECWATCH_VERSION, LUA_RELEASE);
    return 0;
  }
  if (strcmp(argv[i], "run") == 0) return cmd_run(argc - i, argv + i);
  if (strcmp(argv[i], "check") == 0) return cmd_check(argc - i, argv + i);
  if (strcmp(argv[i], "query") == 0) return cmd_query(argc - i, argv + i);
  if (strcmp(argv[i], "silence") == 0) return cmd_silence(argc - i, argv + i);
  if (strcmp(argv[i], "sessions") == 0) return cmd_sessions(argc - i, argv + i);
  if (strcmp(argv[i], "sim") == 0) return sim_command(argc - i, argv + i);
  if (strcmp(argv[i], "test") == 0) return rtest_command(argc - i, argv + i);
  return unknown_error("unknown command '%s'", argv[i], commands);
}

int main(int argc, char **argv) {
  char err[256];
  int status;
  /* first: --log-level and --log-format set the process's log configuration */
  if (!(process = rec_process_new(err, sizeof err))) {
    fprintf(stderr, "recwatch: %s\n", err);
    return 2;
  }
  if (http_global_init() != 0) {
    fprintf(stderr, "recwatch: cannot initialise libcurl\n");
    rec_process_free(process);
    return 2;
  }
  status = dispatch(argc, argv);
  http_global_cleanup();
  /* the cached HMAC key goes before exit; not from atexit, which would run after OpenSSL's
   * own exit handler, when no OpenSSL call is allowed any more */
  crypto_cleanup();
  rec_process_free(process);
  return status;
}
