/* provider: what the Lua glue extracts from a decoded reply for a provider to interpret,
 * so providers stay plain C with no Lua. */
#ifndef REC_PROVIDER_H
#define REC_PROVIDER_H
#include <stddef.h>
#include "rerr.h"

typedef struct reply_facts {
  int is_json;              /* the body decoded as JSON */
  int is_object;            /* ...and is an object */
  const char *code_str;     /* top-level "code" when it is a string, else NULL */
  int has_code_num;         /* top-level "code" is a number (or a numeric string) */
  long code_num;
  const char *message;      /* top-level "message" when a string, else NULL */
  const char *reason;       /* top-level "reason" when a string, else NULL */
  int has_server_response;  /* Agora: "serverResponse" is an object */
  int has_recinfos;         /* QingCloud: "recinfos" is an array (or empty object) */
} reply_facts;

#endif
