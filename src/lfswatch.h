/* lfswatch: the room of `rec` for files watched for changes (rec.fs) and the figures of the
 * watch sets that rec.watch.set reads through it. */
#ifndef REC_LFSWATCH_H
#define REC_LFSWATCH_H
#include <lua.h>

/* Adds rec.fs to the `rec` table on top of the stack and leaves the table there. */
void lfswatch_open(lua_State *L);
#endif
