/* crypto: HMAC-SHA256, MD5 and base64 from OpenSSL's libcrypto; nothing hand-written. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "crypto.h"

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                       unsigned char out[32]) {
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &n) || n != 32) return -1;
  return 0;
}

void crypto_md5_hex(const void *data, size_t len, char hex[33]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0, i;
  EVP_Digest(data, len, md, &n, EVP_md5(), NULL);
  for (i = 0; i < n && i < 16; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[32] = '\0';
}

char *crypto_base64(const void *data, size_t len) {
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (!out) return NULL;
  EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  return out;
}

unsigned char *crypto_base64_decode(const char *s, size_t len, size_t *outlen) {
  unsigned char *out;
  int n;
  size_t pad = 0;
  if (len % 4 != 0) return NULL;
  out = malloc(3 * (len / 4) + 1);
  if (!out) return NULL;
  n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
  if (n < 0) {
    free(out);
    return NULL;
  }
  if (len >= 1 && s[len - 1] == '=') pad++;
  if (len >= 2 && s[len - 2] == '=') pad++;
  *outlen = (size_t)n - pad;  /* EVP_DecodeBlock counts padding as zero bytes */
  out[*outlen] = '\0';
  return out;
}

int crypto_equal(const void *a, const void *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}
