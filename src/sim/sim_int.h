/* sim_int: the simulator's internal model (scenario structs shared by the scenario loader,
 * the request handlers and the HTTP server). Not part of the public API (see sim.h). */
#ifndef REC_SIM_INT_H
#define REC_SIM_INT_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "sbuf.h"

/* ---- scenario ---- */
typedef struct sim_step {
  double t;   /* seconds since the sim started */
  int status;
} sim_step;

typedef struct sim_qc_task {
  char *app_id, *channel, *project_id, *host, *url_prefix, *files, *acc_key_id, *rec_bucket,
      *rec_zone, *rec_path, *created_fixed;
  long long id, pid, size;
  int is_mix;
  double created_t;             /* creation time relative to the start (for from/to_hour) */
  sim_step *steps;
  size_t nsteps;
  char **json;                  /* one precomputed recinfo object per step */
  size_t *jsonlen;
} sim_qc_task;

typedef struct sim_ag_file {
  char *file_name, *track_type, *uid;
  int mixed_all_user, is_playable;
  long long slice_start_time;   /* 0 = the recording's */
} sim_ag_file;

typedef struct sim_pair {
  char *a, *b;                  /* videoInfo: fileName, videoId; outputs: rtmpUrl, status */
} sim_pair;

typedef struct sim_ag_rec {
  char *appid, *resourceid, *sid, *mode, *channel;
  int mode_web;
  int list_json;                /* fileListMode "json" (1) or "string" (0) */
  char *file_list_string;       /* string mode */
  sim_ag_file *files;
  size_t nfiles;
  int old_style;
  int has_code;                 /* top-level "code" */
  long long code;
  char *sub_status;             /* serverResponse.subServiceStatus.recordingService, or NULL */
  int has_vod;                  /* an aliyun_vod_service entry in extensionServiceState */
  char *vod_state;
  sim_pair *videos;
  size_t nvideos;
  int has_rtmp;                 /* an rtmp_publish_service entry */
  sim_pair *outputs;
  size_t noutputs;
  long long slice_start_time;   /* ms since the epoch; 0 = computed at start */
  double gone_at;               /* < 0: never */
  double linger;                /* after reaching 8/20 */
  sim_step *steps;
  size_t nsteps;
  char **body;                  /* one precomputed 200 body per step */
  size_t *bodylen;
} sim_ag_rec;

/* SIM_P_WEBHOOK: the webhook sink; only faults that name it apply there ("any" does not). */
enum { SIM_P_ANY = 0, SIM_P_AGORA = 1, SIM_P_QC = 2, SIM_P_WEBHOOK = 3 };
/* SIM_P_NCS: the NCS events the simulator sends (sim_events.c); only drop, delay, duplicate
 * and mis_sign, and only faults that name "ncs". */
enum { SIM_P_NCS = 4 };

typedef enum {
  SIM_F_DELAY,
  SIM_F_500_HTML,
  SIM_F_AGORA_206,
  SIM_F_AGORA_504,
  SIM_F_DROP,
  SIM_F_MALFORMED,
  SIM_F_TRUNCATED,
  SIM_F_HUGE,
  SIM_F_429,
  SIM_F_AGORA_404,              /* 404 failed to find worker: a live recording in failover */
  SIM_F_AGORA_502,              /* 500 {"code":502}: no worker for a start (sim_control.c) */
  SIM_F_HOLD,                   /* answered now (state changes), the answer held `ms`, sent */
  SIM_F_HOLD_DROP,              /* the same, then the connection closed unanswered */
  SIM_F_DUPLICATE,              /* ncs: the event is sent twice */
  SIM_F_MIS_SIGN,               /* ncs: the event's signatures are wrong */
  SIM_F_COUNT
} sim_fault_kind;

extern const char *const sim_fault_names[SIM_F_COUNT];

typedef struct sim_fault {
  int provider;
  sim_fault_kind kind;
  long *nth;
  size_t nnth;
  long every;                   /* 0 = not used */
  double probability;           /* < 0 = not used */
  long delay_ms;
  size_t bytes;                 /* huge */
  long times;                   /* max firings, 0 = unlimited */
  long fired;
  double after, before;         /* active window in sim seconds; before < 0 = open */
  char *match;                  /* substring of the path, or NULL */
  char *method;                 /* only requests with this method ("POST"...), or NULL */
  uint64_t rng;
  char *huge_body;              /* precomputed for SIM_F_HUGE */
} sim_fault;

static inline uint64_t sim_rng_next(uint64_t *x) {  /* xorshift64* */
  *x ^= *x >> 12;
  *x ^= *x << 25;
  *x ^= *x >> 27;
  return *x * 0x2545F4914F6CDD1DULL;
}

/* Whether fault f (its time window, times and match already passed) takes the n-th request
 * or event of its scope: nth, every, probability, else always; counted as fired when it does.
 * The one rule of the simulator's requests (sim.c) and of its NCS events (sim_events.c). */
static inline int sim_fault_fires(sim_fault *f, long n) {
  int hit;
  size_t j;
  if (f->nnth) {
    hit = 0;
    for (j = 0; j < f->nnth; j++)
      if (f->nth[j] == n) hit = 1;
  } else if (f->every > 0) {
    hit = n % f->every == 0;
  } else if (f->probability >= 0) {
    hit = (double)(sim_rng_next(&f->rng) >> 11) / 9007199254740992.0 < f->probability;
  } else {
    hit = 1;
  }
  if (hit) f->fired++;
  return hit;
}

typedef struct sim_ag_cred {
  char *id, *secret, *b64;      /* b64 = base64("id:secret") */
  int rate_limit;               /* requests per second; 0 = unlimited */
  double *ring;                 /* arrival times of the last rate_limit accepted (s) */
  size_t head, count;
} sim_ag_cred;

typedef struct sim_qc_key {
  char *id, *secret;
} sim_qc_key;

typedef struct sim_ctl sim_ctl;  /* the control calls' state (sim_control.c) */

typedef struct sim_scenario {
  sim_ag_cred *ag;
  size_t nag;
  sim_qc_key *qc;
  size_t nqc;
  int rate_limit;               /* default per customer per second; 0 = unlimited */
  double linger;                /* default linger of ended Agora recordings */
  double qc_window;             /* time_stamp tolerance, seconds (900) */
  int qc_same_day;              /* hour window also stops at today's midnight (UTC+8) */
  time_t wall0;                 /* wall-clock time of sim second 0 */
  sim_qc_task *tasks;
  size_t ntasks;
  sim_ag_rec *recs;
  size_t nrecs;
  sim_fault *faults;
  size_t nfaults;
  uint64_t seed;
  size_t *rec_slots;            /* hash index of recs by (appid, resourceid, sid, mode): */
  size_t rec_nslots;            /* open addressing, slot = index + 1, 0 = empty */
  unsigned long long rec_probes; /* slots looked at by sim_rec_find, for tests */
  size_t *ch_slots;             /* hash index of a channel's first task by (app_id, channel) */
  size_t ch_nslots;             /* (slot = index + 1, 0 = empty) ... */
  size_t *task_next;            /* ... and each task's next one on its channel (+1, 0 = last) */
  sim_ctl *ctl;                 /* control calls: config and what they started */
  struct sim_ncs_config *ncs;   /* agora_ncs: the NCS events sender's settings (sim_events.c) */
} sim_scenario;

/* Loads a scenario from a Lua file (path) or the built-in default (path NULL); wall0 is the
 * wall-clock start used for created/sliceStartTime values. NULL + message in err on error. */
sim_scenario *sim_scenario_load(const char *path, time_t wall0, char *err, size_t errlen);
/* The same from a buffer holding the Lua text (the scenario fuzzer). */
sim_scenario *sim_scenario_load_buffer(const char *buf, size_t len, time_t wall0, char *err,
                                       size_t errlen);
void sim_scenario_free(sim_scenario *sc);
extern const char sim_default_scenario_lua[];

/* n bytes at a are exactly the string b. */
static inline int sim_field_eq(const char *a, size_t n, const char *b) {
  return strlen(b) == n && memcmp(a, b, n) == 0;
}

/* sim_index.c. The recording an Agora query names: one hash lookup whatever the number of recordings
 * (the first of duplicates, as a scan would find). sim_rec_index builds this index and the
 * channel index below, once the tasks and recordings are read; -1 when out of memory. */
int sim_rec_index(sim_scenario *sc);
sim_ag_rec *sim_rec_find(sim_scenario *sc, const char *appid, size_t appid_len,
                         const char *rid, size_t rid_len, const char *sid, size_t sid_len,
                         const char *mode, size_t mode_len);

/* The first QingCloud task of a channel (then sc->task_next), in scenario order: one hash
 * lookup, so a listing costs the channel's tasks, not every task. -1 when there is none. */
long sim_channel_first(sim_scenario *sc, const char *app_id, const char *channel);

/* Current step index of a timeline at time t, or -1 when t is before the first step. */
int sim_step_at(const sim_step *steps, size_t n, double t);

#endif
