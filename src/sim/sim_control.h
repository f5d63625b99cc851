/* sim_control: the simulated control calls. Agora acquire, start, update, updateLayout and
 * stop (the sessions they start then answer query), QingCloud start (POST) and stop (PATCH)
 * of /v1/cloudRecord, who publishes when (maxIdleTime, the 6-minute auto stop), and the
 * count of started (billed) tasks. Internal to src/sim/. */
#ifndef REC_SIM_CONTROL_H
#define REC_SIM_CONTROL_H
#include <lua.h>
#include "sbuf.h"
#include "sim_srv.h"

enum {
  SIM_CTL_NONE = 0,
  SIM_CTL_ACQUIRE,
  SIM_CTL_START,
  SIM_CTL_UPDATE,
  SIM_CTL_UPDATE_LAYOUT,
  SIM_CTL_STOP,
  SIM_CTL_QC_START,
  SIM_CTL_QC_STOP
};

/* The scenario's `control` section (table at index root of L), into sc->ctl; raises a Lua
 * error with the field's path on bad input. Always creates sc->ctl (defaults). */
void sim_ctl_read(lua_State *L, int root, sim_scenario *sc);
void sim_ctl_free(struct sim_ctl *x);

/* A control path with its method (POST on Agora's, POST/PATCH on /v1/cloudRecord): sets
 * req->provider, req->ctl and the Agora path segments; 0 when matched. */
int sim_ctl_route(sim_conn *c, sim_api_req *req);
/* Replies QingCloud's error body {"code": code, "message": msg} with status. */
void sim_qc_error(sim_conn *c, int status, const char *code, const char *msg);
/* The call's name for the request log ("acquire", "start", ... "qc_start", "qc_stop"). */
const char *sim_ctl_name(int ctl);
/* Answers an authenticated, rate-checked Agora control call. */
void sim_ctl_agora(sim_api_req *req);
/* An authenticated QingCloud start or stop. */
void sim_ctl_qc(sim_api_req *req);
/* A query for a session a start began: 1 when answered (200 or the worker 404 for a sid
 * this simulator gave out), 0 when the sid is not one of them. */
int sim_ctl_agora_query(sim_api_req *req);
/* Appends the started QingCloud tasks of app/channel created in [lo, hi] to a listing:
 * counts them into *total and writes those in [offset, offset + limit) after *shown others. */
void sim_ctl_qc_list(sim_t *s, const char *app, const char *ch, double now, double lo,
                     double hi, long offset, long limit, long *total, size_t *shown, sbuf *b);
/* GET /_sim/billed: 1 when the path was it (answered). */
int sim_ctl_page(sim_conn *c);
/* Tasks started so far (Agora + QingCloud): each one is billed. */
long sim_ctl_billed(const sim_scenario *sc);

#endif
