/* fuzz_scenario: the simulator's scenario loader (a Lua text run in its sandbox, converted
 * to C structs, bodies precomputed). Bad files must fail with a message, never crash, hang
 * (instruction cap) or eat memory (allocation cap). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "sim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  sim_scenario *sc;
  err[0] = '\0';
  sc = sim_scenario_load_buffer((const char *)data, size, 1700000000, err, sizeof err);
  if (sc) sim_scenario_free(sc);
  else if (!err[0]) __builtin_trap();  /* a refusal always says why */
  return 0;
}
