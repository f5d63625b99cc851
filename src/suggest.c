/* suggest: edit distance (optimal string alignment) between an unknown name and the names a
 * table accepts, for "unknown setting 'evry' (did you mean 'every'?)". */
#include "suggest.h"
#include <stdio.h>
#include <string.h>

#define MAXN 64

static int distance(const char *a, const char *b) {
  static const int far = 99;
  int d[MAXN + 1][MAXN + 1], i, j;
  size_t la = strlen(a), lb = strlen(b);
  if (la > MAXN || lb > MAXN) return far;
  if ((la > lb ? la - lb : lb - la) > 3) return far;
  for (i = 0; i <= (int)la; i++) d[i][0] = i;
  for (j = 0; j <= (int)lb; j++) d[0][j] = j;
  for (i = 1; i <= (int)la; i++)
    for (j = 1; j <= (int)lb; j++) {
      int cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
      if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

const char *suggest_name(const char *got, const char *const *allowed) {
  const char *best = NULL;
  int bestd = 99, i, limit;
  if (!got || !allowed) return NULL;
  for (i = 0; allowed[i]; i++) {
    int dd = distance(got, allowed[i]);
    if (dd < bestd) {
      bestd = dd;
      best = allowed[i];
    }
  }
  limit = strlen(got) <= 4 ? 1 : 2;
  return bestd <= limit ? best : NULL;
}

void suggest_hint(char *out, size_t n, const char *got, const char *const *allowed) {
  const char *s = suggest_name(got, allowed);
  if (!n) return;
  if (s) snprintf(out, n, " (did you mean '%s'?)", s);
  else out[0] = 0;
}
