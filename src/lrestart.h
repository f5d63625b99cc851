/* lrestart: rec.metrics._restart, ._restart_circuit and ._restart_started, the figures of
 * watch.agora's restart policy (see lrestart.c). */
#ifndef REC_LRESTART_H
#define REC_LRESTART_H
#include <lua.h>

/* Adds the three functions to the table on top of the stack (rec.metrics). */
void lrestart_open(lua_State *L);

#endif
