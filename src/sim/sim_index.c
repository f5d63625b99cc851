/* sim_index: the scenario's lookup tables, built once at load (sim_scenario.c) and read per
 * request (sim_api.c): Agora recordings by (appid, resourceid, sid, mode), QingCloud tasks
 * by channel. Below both, so neither calls the other back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sim_int.h"

/* FNV-1a over the four fields, each followed by a 0 byte, then mixed (FNV's low bits alone
 * cluster keys that differ near their end, as res-1/sid-1 ... res-N/sid-N do). */
static uint64_t rec_hash_add(uint64_t h, const char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
  return (h ^ 0) * 1099511628211ULL;
}

static size_t rec_hash(const char *a, size_t an, const char *r, size_t rn, const char *s,
                       size_t sn, const char *m, size_t mn) {
  uint64_t h = 14695981039346656037ULL;
  h = rec_hash_add(h, a, an);
  h = rec_hash_add(h, r, rn);
  h = rec_hash_add(h, s, sn);
  h = rec_hash_add(h, m, mn);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return (size_t)h;
}

static int rec_is(const sim_ag_rec *rec, const char *a, size_t an, const char *r, size_t rn,
                  const char *s, size_t sn, const char *m, size_t mn) {
  return sim_field_eq(s, sn, rec->sid) && sim_field_eq(a, an, rec->appid) &&
         sim_field_eq(r, rn, rec->resourceid) && sim_field_eq(m, mn, rec->mode);
}

sim_ag_rec *sim_rec_find(sim_scenario *sc, const char *appid, size_t appid_len,
                         const char *rid, size_t rid_len, const char *sid, size_t sid_len,
                         const char *mode, size_t mode_len) {
  size_t mask, i;
  if (!sc->rec_nslots) return NULL;
  mask = sc->rec_nslots - 1;
  i = rec_hash(appid, appid_len, rid, rid_len, sid, sid_len, mode, mode_len) & mask;
  for (;; i = (i + 1) & mask) {
    size_t slot = sc->rec_slots[i];
    sc->rec_probes++;
    if (!slot) return NULL;
    if (rec_is(&sc->recs[slot - 1], appid, appid_len, rid, rid_len, sid, sid_len, mode, mode_len))
      return &sc->recs[slot - 1];
  }
}

static size_t ch_hash(const char *app, const char *ch) {
  return rec_hash(app, strlen(app), ch, strlen(ch), "", 0, "", 0);
}

long sim_channel_first(sim_scenario *sc, const char *app_id, const char *channel) {
  size_t mask, i;
  if (!sc->ch_nslots) return -1;
  mask = sc->ch_nslots - 1;
  for (i = ch_hash(app_id, channel) & mask; sc->ch_slots[i]; i = (i + 1) & mask) {
    sim_qc_task *k = &sc->tasks[sc->ch_slots[i] - 1];
    if (strcmp(k->app_id, app_id) == 0 && strcmp(k->channel, channel) == 0)
      return (long)sc->ch_slots[i] - 1;
  }
  return -1;
}

/* Chains each channel's tasks in scenario order: first in ch_slots, then task_next. */
static int channel_index(sim_scenario *sc) {
  size_t n = 16, i, *last;
  free(sc->ch_slots);
  free(sc->task_next);
  sc->ch_slots = sc->task_next = NULL;
  sc->ch_nslots = 0;
  if (!sc->ntasks) return 0;
  while (n < 2 * sc->ntasks) n *= 2;
  sc->ch_slots = calloc(n, sizeof *sc->ch_slots);
  sc->task_next = calloc(sc->ntasks, sizeof *sc->task_next);
  last = calloc(sc->ntasks, sizeof *last);  /* per channel head: its last task so far (+1) */
  if (!sc->ch_slots || !sc->task_next || !last) {
    free(last);
    return -1;
  }
  sc->ch_nslots = n;
  for (i = 0; i < sc->ntasks; i++) {
    sim_qc_task *k = &sc->tasks[i];
    long first = sim_channel_first(sc, k->app_id, k->channel);
    if (first < 0) {
      size_t j = ch_hash(k->app_id, k->channel) & (n - 1);
      while (sc->ch_slots[j]) j = (j + 1) & (n - 1);
      sc->ch_slots[j] = i + 1;
      last[i] = i + 1;
    } else {
      sc->task_next[last[first] - 1] = i + 1;
      last[first] = i + 1;
    }
  }
  free(last);
  return 0;
}

int sim_rec_index(sim_scenario *sc) {
  size_t n = 16, i;
  if (channel_index(sc) != 0) return -1;
  free(sc->rec_slots);
  sc->rec_slots = NULL;
  sc->rec_nslots = 0;
  if (!sc->nrecs) return 0;
  while (n < 2 * sc->nrecs) n *= 2;  /* load at most 1/2: short probe runs */
  if (!(sc->rec_slots = calloc(n, sizeof *sc->rec_slots))) return -1;
  sc->rec_nslots = n;
  for (i = 0; i < sc->nrecs; i++) {
    sim_ag_rec *r = &sc->recs[i];
    size_t al = strlen(r->appid), rl = strlen(r->resourceid), sl = strlen(r->sid),
           ml = strlen(r->mode), j;
    if (sim_rec_find(sc, r->appid, al, r->resourceid, rl, r->sid, sl, r->mode, ml))
      continue;  /* a duplicate: the first one answers, as before */
    j = rec_hash(r->appid, al, r->resourceid, rl, r->sid, sl, r->mode, ml) & (n - 1);
    while (sc->rec_slots[j]) j = (j + 1) & (n - 1);
    sc->rec_slots[j] = i + 1;
  }
  sc->rec_probes = 0;
  return 0;
}
