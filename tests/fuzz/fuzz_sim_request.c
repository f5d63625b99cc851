/* fuzz_sim_request: the simulator's request parsing and routing (http_parser callbacks,
 * size caps, provider paths, auth, QingCloud query decoding, the webhook sink). The input
 * is what a client sends on one connection; it reaches the server through a socketpair
 * the simulator adopts, then the client end half-closes and the reply is drained. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sim.h"

static uv_loop_t loop;
static sim_t *sim;

static void drain(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int sv[2], spins;
  size_t off = 0;
  if (!sim) {
    sim_options o;
    char err[256];
    memset(&o, 0, sizeof o);
    uv_loop_init(&loop);
    sim = sim_start(&loop, &o, err, sizeof err);  /* the default story: no faults */
    if (!sim) abort();
  }
  if (size > 512 * 1024) return 0;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
  fcntl(sv[1], F_SETFL, O_NONBLOCK);
  if (sim_adopt_fd(sim, sv[0]) != 0) {
    close(sv[0]);
    close(sv[1]);
    return 0;
  }
  /* feed it, letting the server read and answer between writes */
  for (spins = 0; off < size && spins < 100000; spins++) {
    ssize_t n = write(sv[1], data + off, size - off);
    if (n > 0) off += (size_t)n;
    drain(sv[1]);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  shutdown(sv[1], SHUT_WR);
  for (spins = 0; sim_nconns(sim) > 0 && spins < 100000; spins++) {
    drain(sv[1]);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  if (sim_nconns(sim) > 0) abort();  /* a connection the server never finished */
  close(sv[1]);
  return 0;
}
