/* fuzz_ncs: the NCS receiver's parse-and-verify path (events_ncs.c). Input: byte 0 says
 * which headers are sent (bit 0 Agora-Signature, bit 1 Agora-Signature-V2) and whether they
 * are right (bit 2: the true HMAC of the body; else bytes 1..64 are the header's value), the
 * rest is the body. Checks, besides memory safety: a right signature is never refused as
 * bad, a wrong one is never accepted, an accepted noticeId is 1..128 bytes of the allowed
 * set, and a body that parses parses the same way twice. */
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events_ncs.h"

static void hex_hmac(const EVP_MD *md, const uint8_t *body, size_t n, char *out) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int dn = 0, i;
  HMAC(md, "secret", 6, body, n, d, &dn);
  for (i = 0; i < dn; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char s1[41] = "", s2[65] = "", given[65];
  ncs_notice a, b;
  const uint8_t *body;
  size_t n, gn = 0, i;
  int mode, right, rc;
  if (size < 1) return 0;
  mode = data[0];
  right = mode & 4;
  body = data + 1;
  n = size - 1;
  if (!right) {
    gn = n < 64 ? n : 64;
    memcpy(given, body, gn);
    body += gn;
    n -= gn;
  }
  hex_hmac(EVP_sha1(), body, n, s1);
  hex_hmac(EVP_sha256(), body, n, s2);
  rc = ncs_check((const char *)body, n, (mode & 1) ? (right ? s1 : given) : NULL,
                 right ? 40 : gn, (mode & 2) ? (right ? s2 : given) : NULL, right ? 64 : gn,
                 "secret", 6, &a);
  if (!(mode & 3) && rc != NCS_BAD_SIGNATURE) abort();       /* unsigned */
  if ((mode & 3) && right && rc == NCS_BAD_SIGNATURE) abort();
  if ((mode & 3) && !right && rc != NCS_BAD_SIGNATURE) {
    /* only when the given bytes happen to be the right hex (in either case) */
    const char *want = (mode & 2) ? s2 : s1, *g = given;
    size_t k = gn;
    while (k && (*g == ' ' || *g == '\t')) g++, k--;
    while (k && (g[k - 1] == ' ' || g[k - 1] == '\t')) k--;
    if (k != strlen(want)) abort();
    for (i = 0; i < k; i++)
      if ((g[i] | 0x20) != want[i]) abort();
  }
  if (rc == NCS_OK) {
    size_t k = strlen(a.notice_id);
    if (k < 1 || k > NCS_MAX_ID) abort();
    if (strspn(a.notice_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != k)
      abort();
  }
  if (ncs_parse((const char *)body, n, &a) != ncs_parse((const char *)body, n, &b) ||
      memcmp(&a, &b, sizeof a) != 0)
    abort();
  return 0;
}
