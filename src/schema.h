/* schema: the reply contract of both providers as one table of fields (name, JSON type,
 * required or not, documented coercions, unit, where the fact comes from). Plain data, no Lua:
 * the normaliser (lnorm.c) checks and coerces decoded replies with it, the simulator's reply
 * builders and the field tables of docs/api.md are checked against it (tests/unit/
 * test_schema.c), and fuzzers can walk it to build replies that keep or break the contract. */
#ifndef REC_SCHEMA_H
#define REC_SCHEMA_H
#include <stddef.h>

typedef enum {
  SCH_STRING,          /* JSON string */
  SCH_INT,             /* JSON number with an integer value (|x| < 2^53) */
  SCH_BOOL,            /* JSON true/false */
  SCH_OBJECT,          /* JSON object; child lists its fields */
  SCH_ARRAY,           /* JSON array of objects described by child */
  SCH_STRING_OR_ARRAY  /* a string, or an array of objects described by child (fileList) */
} sch_type;

enum {
  SCH_REQUIRED = 1u,   /* absent or null: the reply breaks the contract */
  SCH_COERCE = 2u,     /* SCH_INT: a decimal string is accepted ("52" -> 52); SCH_BOOL:
                        * "true"/"false"; SCH_STRING: an integer number becomes its digits */
  SCH_NULL_EMPTY = 4u, /* SCH_ARRAY: null reads as an empty array */
  SCH_DERIVED = 8u,    /* added by recwatch while normalising, never read from the reply */
  SCH_KEEP_STRING = 16u, /* SCH_INT (with SCH_COERCE): a string that is not decimal passes
                        * through as that string (a field the document types as String) */
  SCH_PER_ITEM = 32u   /* SCH_ARRAY: an element that breaks the contract is unreadable on
                        * its own (the field in the way is dropped, the element gets the
                        * derived "unreadable" field), and the rest of the reply is read */
};

typedef struct sch_node sch_node;

typedef struct sch_field {
  const char *name;
  sch_type type;
  unsigned flags;            /* SCH_* bits */
  const sch_node *child;     /* SCH_OBJECT: its fields; arrays: the fields of each element */
  const char *unit;          /* e.g. "ms since the Unix epoch"; NULL when not a quantity */
  const char *origin;        /* "doc" (the provider's document), "sample" (only in the
                              * document's example reply), "recwatch" (derived) */
  const char *doc;           /* one line for the docs table */
} sch_field;

struct sch_node {
  const char *name;          /* for messages: "qingcloud reply", "recinfo", ... */
  const sch_field *fields;
  size_t nfields;
};

/* The two replies: GET /v1/cloudRecord (QingCloud) and the Agora query. */
extern const sch_node sch_qingcloud_reply;
extern const sch_node sch_agora_reply;
/* The 200 bodies of Agora's control calls (agora_ctl.c): acquire, start, update and
 * updateLayout, stop. */
extern const sch_node sch_agora_acquire_reply;
extern const sch_node sch_agora_start_reply;
extern const sch_node sch_agora_update_reply;
extern const sch_node sch_agora_stop_reply;

/* The 200 bodies of QingCloud's start and stop (qingcloud_ctl.c). */
extern const sch_node sch_qingcloud_start_reply;
extern const sch_node sch_qingcloud_stop_reply;

/* The nodes and fields the normaliser reads derived values from or adds (lnorm.c), named
 * here so that a reply needs no lookup by name (test_schema checks the names). */
typedef struct sch_derived {
  const sch_node *ag_sr;                          /* Agora serverResponse */
  const sch_field *ag_sr_status;                  /* serverResponse.status */
  const sch_field *ag_status, *ag_status_name;    /* lifted to the top level */
  const sch_node *qc_recinfo;                     /* QingCloud recinfos[] */
  const sch_field *qc_status, *qc_created, *qc_updated;
  const sch_field *qc_status_name, *qc_created_ts, *qc_updated_ts;
  const sch_field *qc_unreadable;                 /* why a task could not be read */
} sch_derived;
extern const sch_derived sch_derive;

/* "string", "integer", "boolean", "object", "array", "string or array". */
const char *sch_type_name(sch_type t);
/* The field called name in node, or NULL. */
const sch_field *sch_find(const sch_node *node, const char *name);

/* Visits every field depth-first with its dotted path ("recinfos[].status"); stops when fn
 * returns non-zero and returns that value. For docs generators and fuzzers. */
typedef int (*sch_visit_fn)(const char *path, const sch_field *f, void *ud);
int sch_walk(const sch_node *node, sch_visit_fn fn, void *ud);

#endif
