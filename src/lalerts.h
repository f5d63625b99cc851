/* lalerts: rec.metrics._alert and rec.metrics._silences, the alert figures of rec.notify's
 * grouping and silences (see lalerts.c). */
#ifndef REC_LALERTS_H
#define REC_LALERTS_H
#include <lua.h>

/* Adds the two functions to the table on top of the stack (rec.metrics). */
void lalerts_open(lua_State *L);

#endif
