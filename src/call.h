/* call: one provider request made by a task (a query, or a control call): rate-limit
 * slot, signed request, interpretation, retries with backoff and host failover; resumes the
 * task with (result) or (nil, err). */
#ifndef REC_CALL_H
#define REC_CALL_H
#include "agora.h"
#include "agora_ctl.h"
#include "engine.h"
#include "qingcloud.h"
#include "qingcloud_ctl.h"
#include "retry.h"

/* CALL_AGORA_CTL: an Agora control call (agora_ctl.h), paced by the same bucket as the
 * Agora queries (one account, one limit). CALL_QC_CTL: a QingCloud control call
 * (qingcloud_ctl.h), paced by the QingCloud bucket. */
typedef enum { CALL_AGORA, CALL_QINGCLOUD, CALL_AGORA_CTL, CALL_QC_CTL } call_provider;

typedef struct call_args {
  call_provider provider;
  agora_query_params agora;   /* strings are copied by call_start */
  qc_query_params qc;
  agctl_req ctl;              /* CALL_AGORA_CTL: strings are copied, the body built once */
  qcctl_req qctl;             /* CALL_QC_CTL: the same */
  int urgent;                 /* the pacer's priority lane (always for a control call) */
  int retries;                /* -1: the provider's setting */
  double delays[RETRY_MAX_DELAYS];  /* per-call backoff delays when ndelays > 0 */
  int ndelays;
  double timeout;             /* 0: the provider's setting */
  const char *account;        /* an account of rec.configure (its credential and its pacer);
                               * NULL: the provider's default credential */
} call_args;

/* Validates and starts the call for the task running on L. Returns the number of values to
 * return from the binding: either (nil, err) at once, or the result of yielding. */
/* what names the call in errors ("rec.query_agora"); a cancelled task gets the cancelled
 * error at once and nothing is sent. */
int call_start(lua_State *L, task_t *t, const call_args *a, const char *what);
/* Synchronous checks only (validation, the account, credentials): 0 or fills e. */
int call_check(engine_t *e, const call_args *a, rec_err *err);
/* Reads the optional `account` parameter of the table at idx into a->account (the string
 * stays pushed until the binding returns): 0, or -1 with an invalid_argument in err. */
int call_account_param(lua_State *L, int idx, call_args *a, const char *what, rec_err *err);

#endif
