/* embedded_lua: the modules of lua/ compiled into the binary. The table itself is generated
 * by cmake/embed.cmake (embedded_lua.c in the build directory); lsearch.c's searcher reads it. */
#ifndef REC_EMBEDDED_LUA_H
#define REC_EMBEDDED_LUA_H
#include <stddef.h>

struct embedded_lua { const char *name; const char *src; size_t len; };
/* Sorted by name, ended by {NULL, NULL, 0}. */
extern const struct embedded_lua embedded_lua[];
#endif
