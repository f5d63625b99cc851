/* suggest: "did you mean" for unknown names (rec.configure, scenario files, the command line). */
#ifndef REC_SUGGEST_H
#define REC_SUGGEST_H
#include <stddef.h>

/* The allowed name (NULL-terminated list) closest to got: at most 1 edit for names of up to 4
 * characters, 2 otherwise (a swap of neighbours is one edit); NULL when none is that close. */
const char *suggest_name(const char *got, const char *const *allowed);
/* Writes " (did you mean 'x'?)" into out, or "" when there is no suggestion. */
void suggest_hint(char *out, size_t n, const char *got, const char *const *allowed);

#endif
