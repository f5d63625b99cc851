/* schema: the reply contract of QingCloud's GET /v1/cloudRecord and Agora's query, field by
 * field, from the two provider documents (see docs/api.md, "Reply fields"). */
#include <stdio.h>
#include <string.h>
#include "schema.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MS "ms since the Unix epoch"

/* ---- QingCloud: its API document "查询录制" (return value table and example) ---- */

static const sch_field qc_recinfo_fields[] = {
  {"id", SCH_INT, SCH_REQUIRED | SCH_COERCE, NULL, NULL, "doc", "task id"},
  {"project_id", SCH_STRING, 0, NULL, NULL, "doc", "project id"},
  {"app_id", SCH_STRING, 0, NULL, NULL, "doc", "application id"},
  {"channel", SCH_STRING, 0, NULL, NULL, "doc", "channel name"},
  {"pid", SCH_INT, SCH_COERCE | SCH_KEEP_STRING, NULL, NULL, "doc", "recorder process id (String in the document's table, a number in its example; a string that is not decimal, e.g. \"\", stays that string)"},
  {"host", SCH_STRING, 0, NULL, NULL, "doc", "recording server"},
  {"status", SCH_INT, SCH_REQUIRED | SCH_COERCE, NULL, NULL, "doc", "task status code, see rec.qingcloud.status (String in the document's table; anything but an integer or a decimal string makes the task unreadable)"},
  {"size", SCH_INT, SCH_COERCE | SCH_KEEP_STRING, NULL, "bytes", "doc", "size of the recorded files (String in the document's table; a string that is not decimal, e.g. \"1.5M\", stays that string)"},
  {"is_mix", SCH_INT, SCH_COERCE | SCH_KEEP_STRING, NULL, NULL, "doc", "1 mixed, 0 single streams (String in the document's table; a string that is not decimal stays that string)"},
  {"url_prefix", SCH_STRING, 0, NULL, NULL, "doc", "not used yet"},
  {"files", SCH_STRING, 0, NULL, NULL, "doc", "not used yet"},
  {"acc_key_id", SCH_STRING, 0, NULL, NULL, "doc", "access key id of the storage"},
  {"rec_bucket", SCH_STRING, 0, NULL, NULL, "doc", "storage bucket"},
  {"rec_zone", SCH_STRING, 0, NULL, NULL, "doc", "storage zone"},
  {"rec_path", SCH_STRING, 0, NULL, NULL, "doc", "path in the bucket"},
  {"created", SCH_STRING, 0, NULL, "local time \"YYYY-MM-DD HH:MM:SS\", zone not stated (UTC+8 assumed)", "sample", "task created"},
  {"updated", SCH_STRING, 0, NULL, "local time \"YYYY-MM-DD HH:MM:SS\", zone not stated (UTC+8 assumed)", "sample", "task last updated"},
  {"status_name", SCH_STRING, SCH_DERIVED, NULL, NULL, "recwatch", "name of a documented status (absent for an unknown code)"},
  {"created_ts", SCH_INT, SCH_DERIVED, NULL, "s since the Unix epoch", "recwatch", "created read in qingcloud.utc_offset (default +8 h); absent when created does not parse"},
  {"updated_ts", SCH_INT, SCH_DERIVED, NULL, "s since the Unix epoch", "recwatch", "updated, the same way"},
  {"unreadable", SCH_STRING, SCH_DERIVED, NULL, NULL, "recwatch", "only on a task that could not be read: the fields in the way and what they held (those fields are left out; the rest of the page is read)"},
};
static const sch_node qc_recinfo = {"recinfo", qc_recinfo_fields, N(qc_recinfo_fields)};

static const sch_field qc_reply_fields[] = {
  {"code", SCH_STRING, SCH_REQUIRED, NULL, NULL, "doc", "\"success\"; anything else is an error reply"},
  {"offset", SCH_INT, SCH_COERCE, NULL, NULL, "doc", "paging offset (echo)"},
  {"limit", SCH_INT, SCH_COERCE, NULL, NULL, "doc", "page size (echo)"},
  {"recinfos", SCH_ARRAY, SCH_REQUIRED | SCH_NULL_EMPTY | SCH_PER_ITEM, &qc_recinfo, NULL, "doc", "the tasks of this page"},
  {"total_count", SCH_INT, SCH_REQUIRED | SCH_COERCE, NULL, NULL, "doc", "tasks in the window, all pages"},
};
const sch_node sch_qingcloud_reply = {"qingcloud reply", qc_reply_fields, N(qc_reply_fields)};

/* ---- Agora: its Cloud Recording "query" reference (HTTP response fields and examples) ---- */

static const sch_field ag_file_fields[] = {
  {"fileName", SCH_STRING, 0, NULL, NULL, "doc", "M3U8/MP4 file name"},
  {"trackType", SCH_STRING, 0, NULL, NULL, "doc", "\"audio\", \"video\" or \"audio_and_video\""},
  {"uid", SCH_STRING, SCH_COERCE, NULL, NULL, "doc", "user id, \"0\" in mix mode (a number is turned into its digits)"},
  {"mixedAllUser", SCH_BOOL, SCH_COERCE, NULL, NULL, "doc", "all users in one file"},
  {"isPlayable", SCH_BOOL, SCH_COERCE, NULL, NULL, "doc", "playable online"},
  {"sliceStartTime", SCH_INT, SCH_COERCE, NULL, MS, "doc", "recording start of this file"},
};
static const sch_node ag_file = {"fileList entry", ag_file_fields, N(ag_file_fields)};

static const sch_field ag_webfile_fields[] = {
  {"fileName", SCH_STRING, 0, NULL, NULL, "doc", "M3U8/MP4 file name"},
  {"sliceStartTime", SCH_INT, SCH_COERCE, NULL, MS, "doc", "recording start of this file"},
};
static const sch_node ag_webfile = {"web fileList entry", ag_webfile_fields, N(ag_webfile_fields)};

static const sch_field ag_video_fields[] = {
  {"fileName", SCH_STRING, 0, NULL, NULL, "doc", "M3U8 file name"},
  {"videoId", SCH_STRING, 0, NULL, NULL, "doc", "Aliyun VOD video id"},
};
static const sch_node ag_video = {"videoInfo entry", ag_video_fields, N(ag_video_fields)};

static const sch_field ag_output_fields[] = {
  {"rtmpUrl", SCH_STRING, 0, NULL, NULL, "doc", "CDN push URL (\"rtmpUr\" in the document's list, \"rtmpUrl\" in its example)"},
  {"status", SCH_STRING, 0, NULL, NULL, "doc", "\"connecting\", \"publishing\", \"onhold\" or \"disconnected\""},
};
static const sch_node ag_output = {"outputs entry", ag_output_fields, N(ag_output_fields)};

static const sch_field ag_payload_fields[] = {
  {"state", SCH_STRING, 0, NULL, NULL, "doc", "web: \"init\", \"inProgress\", \"exit\"; aliyun: \"inProgress\", \"idle\""},
  {"fileList", SCH_ARRAY, 0, &ag_webfile, NULL, "doc", "web_recorder_service: the files"},
  {"onhold", SCH_BOOL, SCH_COERCE, NULL, NULL, "doc", "web_recorder_service: paused"},
  {"videoInfo", SCH_ARRAY, 0, &ag_video, NULL, "doc", "aliyun_vod_service: M3U8 file to video id"},
  {"outputs", SCH_ARRAY, 0, &ag_output, NULL, "doc", "rtmp_publish_service: the CDN pushes"},
};
static const sch_node ag_payload = {"payload", ag_payload_fields, N(ag_payload_fields)};

static const sch_field ag_service_fields[] = {
  {"serviceName", SCH_STRING, 0, NULL, NULL, "doc", "\"web_recorder_service\", \"aliyun_vod_service\", \"rtmp_publish_service\""},
  {"payload", SCH_OBJECT, 0, &ag_payload, NULL, "doc", "the service's state"},
};
static const sch_node ag_service = {"extensionServiceState entry", ag_service_fields, N(ag_service_fields)};

static const sch_field ag_sub_fields[] = {
  {"recordingService", SCH_STRING, 0, NULL, NULL, "doc", "state of the subscribing module (Agora's service states)"},
};
static const sch_node ag_sub = {"subServiceStatus", ag_sub_fields, N(ag_sub_fields)};

static const sch_field ag_sr_fields[] = {
  {"fileListMode", SCH_STRING, 0, NULL, NULL, "doc", "\"string\" or \"json\": the type of fileList"},
  {"fileList", SCH_STRING_OR_ARRAY, 0, &ag_file, NULL, "doc", "M3U8 name (\"string\") or the files (\"json\")"},
  {"status", SCH_INT, SCH_COERCE, NULL, NULL, "doc", "cloud service status, see rec.agora.status"},
  {"sliceStartTime", SCH_INT, SCH_COERCE, NULL, MS, "doc", "recording start"},
  {"subServiceStatus", SCH_OBJECT, 0, &ag_sub, NULL, "doc", "sub-module states (not in web mode)"},
  {"extensionServiceState", SCH_ARRAY, 0, &ag_service, NULL, "doc", "extension services (web page recording, Aliyun VOD, RTMP push)"},
};
static const sch_node ag_sr = {"serverResponse", ag_sr_fields, N(ag_sr_fields)};

static const sch_field ag_reply_fields[] = {
  {"code", SCH_INT, SCH_COERCE, NULL, NULL, "doc", "response code"},
  {"resourceId", SCH_STRING, 0, NULL, NULL, "doc", "resource id"},
  {"sid", SCH_STRING, 0, NULL, NULL, "doc", "recording id"},
  {"serverResponse", SCH_OBJECT, SCH_REQUIRED, &ag_sr, NULL, "doc", "the recording's state"},
  {"status", SCH_INT, SCH_DERIVED, NULL, NULL, "recwatch", "serverResponse.status, lifted"},
  {"status_name", SCH_STRING, SCH_DERIVED, NULL, NULL, "recwatch", "name of a documented status"},
};
const sch_node sch_agora_reply = {"agora reply", ag_reply_fields, N(ag_reply_fields)};

/* ---- Agora control calls: the 200 bodies of acquire, start, update(Layout), stop (their
 * references' response fields) ---- */

static const sch_field ag_acquire_fields[] = {
  {"cname", SCH_STRING, 0, NULL, NULL, "doc", "channel name (echo)"},
  {"uid", SCH_STRING, SCH_COERCE, NULL, NULL, "doc", "recorder uid (echo; a number is turned into its digits)"},
  {"resourceId", SCH_STRING, SCH_REQUIRED, NULL, NULL, "doc", "resource id: valid 5 minutes, for one session"},
};
const sch_node sch_agora_acquire_reply = {"agora acquire reply", ag_acquire_fields, N(ag_acquire_fields)};

static const sch_field ag_start_fields[] = {
  {"cname", SCH_STRING, 0, NULL, NULL, "doc", "channel name (echo)"},
  {"uid", SCH_STRING, SCH_COERCE, NULL, NULL, "doc", "recorder uid (echo)"},
  {"resourceId", SCH_STRING, 0, NULL, NULL, "doc", "resource id (echo)"},
  {"sid", SCH_STRING, SCH_REQUIRED, NULL, NULL, "doc", "recording id: what query, update and stop need"},
};
const sch_node sch_agora_start_reply = {"agora start reply", ag_start_fields, N(ag_start_fields)};

static const sch_field ag_update_fields[] = {
  {"cname", SCH_STRING, 0, NULL, NULL, "doc", "channel name (echo)"},
  {"uid", SCH_STRING, SCH_COERCE, NULL, NULL, "doc", "recorder uid (echo)"},
  {"resourceId", SCH_STRING, 0, NULL, NULL, "doc", "resource id (echo)"},
  {"sid", SCH_STRING, 0, NULL, NULL, "doc", "recording id (echo)"},
};
const sch_node sch_agora_update_reply = {"agora update reply", ag_update_fields, N(ag_update_fields)};

static const sch_field ag_stop_sr_fields[] = {
  {"fileListMode", SCH_STRING, 0, NULL, NULL, "doc", "\"string\" or \"json\": the type of fileList"},
  {"fileList", SCH_STRING_OR_ARRAY, 0, &ag_file, NULL, "doc", "M3U8 name (\"string\") or the files (\"json\")"},
  {"uploadingStatus", SCH_STRING, 0, NULL, NULL, "doc", "\"uploaded\" (all in your storage), \"backuped\" (some on Agora's backup, still uploading), \"unknown\""},
  {"extensionServiceState", SCH_ARRAY, 0, &ag_service, NULL, "doc", "web mode: the services' state"},
};
static const sch_node ag_stop_sr = {"stop serverResponse", ag_stop_sr_fields, N(ag_stop_sr_fields)};

static const sch_field ag_stop_fields[] = {
  {"cname", SCH_STRING, 0, NULL, NULL, "doc", "channel name (echo)"},
  {"uid", SCH_STRING, SCH_COERCE, NULL, NULL, "doc", "recorder uid (echo)"},
  {"resourceId", SCH_STRING, 0, NULL, NULL, "doc", "resource id (echo)"},
  {"sid", SCH_STRING, 0, NULL, NULL, "doc", "recording id (echo)"},
  {"serverResponse", SCH_OBJECT, 0, &ag_stop_sr, NULL, "doc", "files and upload state"},
};
const sch_node sch_agora_stop_reply = {"agora stop reply", ag_stop_fields, N(ag_stop_fields)};

/* ---- QingCloud control calls: the replies of start (POST /v1/cloudRecord) and stop (PATCH)
 * on their pages ("返回值" examples: {"code": "success", "task_id": 40} and
 * {"code": "success", "data": "success"}) ---- */

static const sch_field qc_start_fields[] = {
  {"code", SCH_STRING, SCH_REQUIRED, NULL, NULL, "doc", "\"success\"; anything else is an error reply"},
  {"task_id", SCH_INT, SCH_REQUIRED | SCH_COERCE, NULL, NULL, "sample", "the new task: its id in the query's recinfos[].id (a decimal string is read as the number)"},
};
const sch_node sch_qingcloud_start_reply = {"qingcloud start reply", qc_start_fields, N(qc_start_fields)};

static const sch_field qc_stop_fields[] = {
  {"code", SCH_STRING, SCH_REQUIRED, NULL, NULL, "doc", "\"success\"; anything else is an error reply"},
  {"data", SCH_STRING, 0, NULL, NULL, "sample", "\"success\" in the page's example"},
};
const sch_node sch_qingcloud_stop_reply = {"qingcloud stop reply", qc_stop_fields, N(qc_stop_fields)};

const sch_derived sch_derive = {
  &ag_sr, &ag_sr_fields[2], &ag_reply_fields[4], &ag_reply_fields[5],
  &qc_recinfo, &qc_recinfo_fields[6], &qc_recinfo_fields[15], &qc_recinfo_fields[16],
  &qc_recinfo_fields[17], &qc_recinfo_fields[18], &qc_recinfo_fields[19],
  &qc_recinfo_fields[20],
};

/* ---- helpers ---- */

const char *sch_type_name(sch_type t) {
  switch (t) {
  case SCH_STRING: return "string";
  case SCH_INT: return "integer";
  case SCH_BOOL: return "boolean";
  case SCH_OBJECT: return "object";
  case SCH_ARRAY: return "array";
  case SCH_STRING_OR_ARRAY: return "string or array";
  }
  return "?";
}

const sch_field *sch_find(const sch_node *node, const char *name) {
  size_t i;
  for (i = 0; node && name && i < node->nfields; i++)
    if (strcmp(node->fields[i].name, name) == 0) return &node->fields[i];
  return NULL;
}

static int walk(const sch_node *node, char *path, size_t len, size_t cap, sch_visit_fn fn,
                void *ud) {
  size_t i;
  int rc;
  for (i = 0; i < node->nfields; i++) {
    const sch_field *f = &node->fields[i];
    int n = snprintf(path + len, cap - len, "%s%s", len ? "." : "", f->name);
    size_t l2;
    if (n < 0 || (size_t)n >= cap - len) return -1;
    l2 = len + (size_t)n;
    if ((rc = fn(path, f, ud)) != 0) return rc;
    if (f->child) {
      if (f->type != SCH_OBJECT) {
        if (l2 + 3 > cap) return -1;
        memcpy(path + l2, "[]", 3);
        l2 += 2;
      }
      if ((rc = walk(f->child, path, l2, cap, fn, ud)) != 0) return rc;
    }
    path[len] = '\0';
  }
  return 0;
}

int sch_walk(const sch_node *node, sch_visit_fn fn, void *ud) {
  char path[256];
  path[0] = '\0';
  return walk(node, path, 0, sizeof path, fn, ud);
}
