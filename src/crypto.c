/* crypto: HMAC-SHA256, HMAC-SHA1, MD5 and base64 from OpenSSL's libcrypto; nothing hand-written. */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include "crypto.h"

/* OpenSSL 3's one-shot HMAC() fetches the algorithm and derives the key pads on every call.
 * The MAC is fetched once, and a context keyed with the last key used is kept and copied:
 * requests signed with one secret, over and over, skip the key set-up. */
static EVP_MAC *hmac_alg(void) {
  static EVP_MAC *mac = NULL;
  if (!mac) mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  return mac;
}

static struct {
  EVP_MAC_CTX *ctx;
  unsigned char key[128];
  size_t keylen;
} keyed;

static EVP_MAC_CTX *keyed_ctx(const void *key, size_t keylen) {
  static char digest[] = "SHA256";
  OSSL_PARAM params[2];
  EVP_MAC_CTX *ctx;
  if (keyed.ctx && keyed.keylen == keylen && CRYPTO_memcmp(keyed.key, key, keylen) == 0)
    return EVP_MAC_CTX_dup(keyed.ctx);
  if (!hmac_alg() || !(ctx = EVP_MAC_CTX_new(hmac_alg()))) return NULL;
  params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
  params[1] = OSSL_PARAM_construct_end();
  if (!EVP_MAC_init(ctx, key, keylen, params)) {
    EVP_MAC_CTX_free(ctx);
    return NULL;
  }
  if (keylen <= sizeof keyed.key) {  /* remember it for the next call */
    EVP_MAC_CTX_free(keyed.ctx);
    OPENSSL_cleanse(keyed.key, sizeof keyed.key);
    keyed.ctx = EVP_MAC_CTX_dup(ctx);
    memcpy(keyed.key, key, keylen);
    keyed.keylen = keylen;
  }
  return ctx;
}

int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                       unsigned char out[32]) {
  EVP_MAC_CTX *ctx = keyed_ctx(key, keylen);
  size_t n = 0;
  int ok;
  if (!ctx) return -1;
  ok = EVP_MAC_update(ctx, msg, msglen) && EVP_MAC_final(ctx, out, &n, 32) && n == 32;
  EVP_MAC_CTX_free(ctx);
  return ok ? 0 : -1;
}

int crypto_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[20]) {
  size_t n = 0;
  if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, keylen, msg, msglen, out, 20, &n))
    return -1;
  return n == 20 ? 0 : -1;
}

void crypto_cleanup(void) {
  EVP_MAC_CTX_free(keyed.ctx);
  keyed.ctx = NULL;
  OPENSSL_cleanse(keyed.key, sizeof keyed.key);
  keyed.keylen = 0;
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

int crypto_equal(const void *a, const void *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}
