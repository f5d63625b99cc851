/* main: the recwatch command line (run, check, query, sim). */
#include <stdio.h>
int main(void) { puts("recwatch " RECWATCH_VERSION); return 0; }
