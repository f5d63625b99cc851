/* lnorm_reply: the one-pass path for a 2xx provider reply (see lnorm_reply.c). */
#ifndef REC_LNORM_REPLY_H
#define REC_LNORM_REPLY_H
#include <stddef.h>
#include <lua.h>
#include "lnorm.h"
#include "provider.h"

/* Decodes body with jdec in schema mode and, when the reply keeps the contract, pushes
 * exactly what lnorm_decode + lnorm_facts + lnorm_agora (prov LNORM_AGORA) or
 * lnorm_qingcloud (LNORM_QINGCLOUD) leave, fills f and returns 1. Returns 0 with nothing
 * pushed otherwise: the caller takes that general path, which gives the exact error. Never
 * raises. */
int lnorm_reply(lua_State *L, const char *body, size_t len, int prov, reply_facts *f);
#endif
