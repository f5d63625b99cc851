/* events_ncs: one Agora NCS delivery, checked: the signature over the exact raw body
 * (Agora-Signature-V2, HMAC-SHA256, when sent; else Agora-Signature, HMAC-SHA1), compared in
 * constant time; then the body as strict JSON, and the few fields the receiver needs before
 * Lua sees the event. Plain C and OpenSSL: no Lua, no loop (the receiver's thread and the
 * fuzzer call it). */
#ifndef REC_EVENTS_NCS_H
#define REC_EVENTS_NCS_H
#include <stddef.h>
#include <stdint.h>

/* The receiver's caps (docs/operations.md, "Exposing the NCS receiver"). */
#define NCS_MAX_ID 128      /* noticeId: 1..128 bytes of [A-Za-z0-9._:-] */
#define NCS_MAX_FIELD 128   /* cname, uid, sid as kept for /status (longer: cut) */
#define NCS_MAX_DEPTH 32    /* JSON nesting */

enum { NCS_OK = 0, NCS_BAD_SIGNATURE, NCS_MALFORMED };

typedef struct ncs_notice {
  char notice_id[NCS_MAX_ID + 1];
  int64_t event_type, product_id, notify_ms;   /* -1 when absent */
  char sid[NCS_MAX_FIELD + 1], cname[NCS_MAX_FIELD + 1];   /* "" when absent */
  char why[96];          /* NCS_MALFORMED: what was wrong (no byte of the body in it) */
} ncs_notice;

/* Checks one delivery. sig1/sig2: the header values (NULL when not sent; n = their length).
 * NCS_BAD_SIGNATURE when no header was sent, neither matches, or the secret is empty;
 * NCS_MALFORMED when the body is not a JSON object with a usable noticeId; NCS_OK with n
 * filled. The signature is checked first: an unsigned body is never parsed. */
int ncs_check(const char *body, size_t len, const char *sig1, size_t sig1n, const char *sig2,
              size_t sig2n, const char *secret, size_t secretn, ncs_notice *n);

/* Only the signature: 1 when it holds. */
int ncs_verify(const char *body, size_t len, const char *sig1, size_t sig1n, const char *sig2,
               size_t sig2n, const char *secret, size_t secretn);

/* Only the body: NCS_OK or NCS_MALFORMED. */
int ncs_parse(const char *body, size_t len, ncs_notice *n);
#endif
