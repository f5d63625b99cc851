/* store_sqlite: the SQLite backend of the store (see store_sqlite.c). */
#ifndef REC_STORE_SQLITE_H
#define REC_STORE_SQLITE_H
#include "store.h"

/* One writer per state file, in memory when the path is NULL. */
extern const store_backend store_sqlite;
#endif
