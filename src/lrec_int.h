/* lrec_int: what the rooms of the Lua module `rec` share among themselves (lrec.c ties them
 * together): each room's open function. Not for files outside the module. */
#ifndef REC_LREC_INT_H
#define REC_LREC_INT_H
#include <lua.h>

/* lsearch.c: puts the searcher of the modules of lua/ built into the binary second in
 * package.searchers: after preload, before the file system. */
void lsearch_open(lua_State *L);
/* llog.c: rec.log (and string.format kept in the registry as "rec.format" for it). */
void llog_open(lua_State *L);
/* lutil.c: rec.secret, rec.excerpt, rec.safe_id, rec.json (and its encoder in the registry
 * as "rec.json.encode", which rec.http's json= uses), rec.crypto, rec.qingcloud, rec.agora. */
void lutil_open(lua_State *L);
#endif
