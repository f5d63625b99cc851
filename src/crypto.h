/* crypto: thin wrappers over OpenSSL libcrypto (HMAC-SHA256, MD5, base64) used for signing. */
#ifndef REC_CRYPTO_H
#define REC_CRYPTO_H
#include <stddef.h>

/* out must hold 32 bytes. Returns 0 on success. */
int crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                       unsigned char out[32]);
/* HMAC-SHA1 (Agora NCS's `Agora-Signature`); out must hold 20 bytes. Returns 0 on success. */
int crypto_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t msglen,
                     unsigned char out[20]);
/* Lowercase hex MD5 of data into hex (33 bytes with NUL). */
void crypto_md5_hex(const void *data, size_t len, char hex[33]);
/* Standard base64 with padding; returns a malloc'd NUL-terminated string. */
char *crypto_base64(const void *data, size_t len);
/* Forgets the cached HMAC key (call before exit). */
void crypto_cleanup(void);
/* Constant-time comparison of two byte strings of equal length n. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
