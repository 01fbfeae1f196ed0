// A tiny static UDP echo server for containers (busybox's nc here has no -u): it binds
// 0.0.0.0:PORT and sends every datagram back prefixed with "echo:". Built with gcc on demand,
// as syscall-probe.ts is (.ci/run installs gcc and libc6-dev).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SOURCE = String.raw`
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argc > 1 ? argv[1] : "9999")) };
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
  char buf[2048];
  for (;;) {
    struct sockaddr_in from; socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf + 5, sizeof buf - 5, 0, (struct sockaddr *)&from, &fl);
    if (n < 0) continue;
    memcpy(buf, "echo:", 5);
    sendto(s, buf, n + 5, 0, (struct sockaddr *)&from, fl);
  }
}
`;

/** Compile the server into dir (once) and return its path. */
export function buildUdpEcho(dir: string): string {
  const bin = join(dir, "udp-echo");
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "udp-echo.c"), SOURCE);
  const r = Bun.spawnSync(["gcc", "-static", "-O", "-o", bin, join(dir, "udp-echo.c")], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`gcc failed: ${r.stderr.toString()}`);
  return bin;
}
