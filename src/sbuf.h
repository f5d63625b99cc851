/* sbuf: a tiny growable byte buffer (replies, JSON documents, the metrics page). */
#ifndef REC_SBUF_H
#define REC_SBUF_H
#include <stddef.h>

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

int sbuf_reserve(sbuf *b, size_t extra);             /* 0 ok, -1 out of memory */
void sbuf_add(sbuf *b, const void *data, size_t n);  /* silently drops on OOM */
void sbuf_adds(sbuf *b, const char *s);
void sbuf_addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_add_json_str(sbuf *b, const char *s, size_t n); /* quoted, escaped */
void sbuf_free(sbuf *b);

#endif
