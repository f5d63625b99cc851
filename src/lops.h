/* lops: rec.metrics and rec.health (see lops.c). */
#ifndef REC_LOPS_H
#define REC_LOPS_H
#include <lua.h>

/* Pushes the rec.metrics and rec.health tables into the table at the top (rec). */
void lops_open(lua_State *L);
#endif
