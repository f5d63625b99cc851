/* agora_ctl: Agora Cloud Recording control calls (acquire, start, query, update,
 * updateLayout, stop): their checks, URL and body, and what a reply means (a result, one of
 * the documented special outcomes, or a typed error). Plain C; no Lua, no I/O. */
#ifndef REC_AGORA_CTL_H
#define REC_AGORA_CTL_H
#include <stddef.h>
#include "provider.h"
#include "schema.h"

typedef enum {
  AGCTL_ACQUIRE,
  AGCTL_START,
  AGCTL_QUERY,
  AGCTL_UPDATE,
  AGCTL_UPDATE_LAYOUT,
  AGCTL_STOP,
  AGCTL_NCALLS
} agctl_call;

/* What a reply means when it is not an error. */
typedef enum {
  AGCTL_OK,                /* the call did what it was asked */
  AGCTL_ALREADY_STARTED,   /* start: 201 code 7, a duplicate start of this resource id */
  AGCTL_CONFLICT_RUNNING,  /* start: 400 code 53, a task with this cname+uid runs */
  AGCTL_ALREADY_STOPPED,   /* stop: 400 code 49 (exiting) or 404 (gone) */
  AGCTL_NOTHING_RECORDED   /* stop: 206 code 435, stopped with nothing recorded */
} agctl_outcome;

/* What the Lua room read from the script's clientRequest, for the checks (the table itself
 * is encoded as JSON and passed through untouched). has_* are 1 when present; *_ok 0 when
 * present with the wrong type. */
typedef struct agctl_client {
  int present;                   /* clientRequest given (a table) */
  int has_scene, scene_ok;       /* acquire */
  long scene;
  int has_expire, expire_ok;     /* acquire resourceExpiredHour */
  long expire;
  int has_storage;               /* start storageConfig (a table) */
  int has_vendor, vendor_ok, has_region, region_ok;
  long vendor, region;
  int bucket_ok, access_key_ok, secret_key_ok;  /* non-empty strings */
  int has_recording;             /* start recordingConfig (a table) */
  int has_channel_type, channel_type_ok;
  long channel_type;
  int has_avfile, avfile_ok;     /* recordingFileConfig.avFileType: a list of strings */
  int avfile_hls, avfile_mp4, avfile_other;
} agctl_client;

typedef struct agctl_req {
  agctl_call call;
  const char *appid, *cname, *uid;      /* uid: a quoted integer 1..2^32-1 */
  const char *resourceid, *sid, *mode;  /* as the call's path needs them */
  agctl_client client;
  const char *client_json;              /* clientRequest encoded; NULL: {} */
} agctl_req;

/* "acquire", "start", ...: the call's name in messages and in docs. */
const char *agctl_call_name(agctl_call c);
/* "POST" for every call but query. */
const char *agctl_method(agctl_call c);
/* "ok", "already_started", "conflict_running", "already_stopped", "nothing_recorded". */
const char *agctl_outcome_name(agctl_outcome o);

/* Every documented check on the request (fields, uid, mode, clientRequest): 0, or -1 with e
 * an invalid_argument naming the field. */
int agctl_validate(const agctl_req *r, rec_err *e);
/* base + "/v1/apps/{appid}/cloud_recording/..." for the call, segments escaped. malloc'd. */
char *agctl_build_url(const char *base_url, const agctl_req *r, rec_err *e);
/* {"cname":..,"uid":..,"clientRequest":<client_json>}; NULL for query (no body). malloc'd;
 * *len set. */
char *agctl_build_body(const agctl_req *r, size_t *len, rec_err *e);

/* The reply to call c: 0 with *out set (AGCTL_OK for a 200 that the schema then checks, or a
 * special outcome), or -1 with e typed: 206 and 5xx server (retryable), 429 rate_limited,
 * 401/403 auth, 404 not_found (query, update, updateLayout) or protocol (a route miss or a
 * body that is not the API's), other 4xx invalid_argument with the code kept (acquire's
 * code 406, the concurrency limit, is a server error that is not retried). */
int agctl_interpret(agctl_call c, long status, const char *body, size_t len,
                    const reply_facts *f, agctl_outcome *out, rec_err *e);
/* The retry table a failed attempt takes: 1 for the same-request table (206: 3 s, 6 s),
 * 0 for the control table (5xx and no reply: 3, 6, 9 s). */
int agctl_again_class(const rec_err *e);

/* The 200 body's contract for call c (schema.c). */
const sch_node *agctl_reply_schema(agctl_call c);

#endif
