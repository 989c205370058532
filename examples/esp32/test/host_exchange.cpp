// The sketch's protocol code on a PC, for the gateway's tests (test/examples/esp32-exchange.test.ts):
//   host_exchange build           the requests the device sends in exchange.json, built by caredian_protocol.h
//   host_exchange token <now_ms>  parses a token answer from stdin: "ok <refresh_at_ms> <token>" or "fail"
//   host_exchange due <refresh_at_ms> <now_ms>
//   host_exchange retry <status> <retry_after_s>   "retry|final" and the waits for attempts 1-7
// Build: g++ -std=c++17 -Wall -Wextra -Werror -I../src host_exchange.cpp -o host_exchange
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "caredian_protocol.h"

using namespace caredian;

// The fixture's device, secret and times (exchange.json): a chunk as a device lying on a table sends it.
static const char* DEVICE = "band-01";
static const char* SECRET = "exchange-fixture-secret-01";
static const double T0 = 1767225600.0;  // 2026-01-01T00:00:00Z

static void chunk(Sample* s, int second) {
  for (int i = 0; i < CHUNK_SAMPLES; i++) {
    int k = second * CHUNK_SAMPLES + i;
    s[i] = {((k * 7) % 11 - 5) / 1000.0f, -1.0f + ((k * 3) % 7 - 3) / 1000.0f, ((k * 5) % 9 - 4) / 1000.0f};
  }
}

static void print(const char* name, const char* text, size_t len) {
  if (!len) {
    fprintf(stderr, "%s: does not fit\n", name);
    exit(1);
  }
  printf("%s\t%s\n", name, text);
}

int main(int argc, char** argv) {
  static char out[BODY_CAPACITY];
  if (argc >= 2 && !strcmp(argv[1], "build")) {
    print("basic", out, basicAuth(out, sizeof out, DEVICE, SECRET));
    print("token", out, tokenForm(out, sizeof out));
    print("heartbeat", out, heartbeatBody(out, sizeof out, DEVICE, 87, -61, "caredian-esp32-1.0.0", 12));
    Sample s[CHUNK_SAMPLES];
    chunk(s, 0);
    print("imu_1", out, imuBody(out, sizeof out, DEVICE, T0, RATE_HZ, s, CHUNK_SAMPLES));
    chunk(s, 1);
    print("imu_2", out, imuBody(out, sizeof out, DEVICE, T0 + 1, RATE_HZ, s, CHUNK_SAMPLES));
    print("help", out, helpBody(out, sizeof out, DEVICE, T0 + 1.5, "a1b2c3-7-1"));
    // The largest chunk a ±16 g sensor can produce still fits the buffer.
    for (Sample& x : s) x = {-15.999f, -15.999f, -15.999f};
    size_t worst = imuBody(out, sizeof out, "a-device-id-of-thirty-two-chars", T0, RATE_HZ, s, CHUNK_SAMPLES);
    printf("worst_case_bytes\t%zu\n", worst);
    return worst ? 0 : 1;
  }
  if (argc == 3 && !strcmp(argv[1], "token")) {
    static char json[4096];
    size_t n = fread(json, 1, sizeof json - 1, stdin);
    json[n] = 0;
    static Token t;
    if (!parseToken(json, (uint32_t)strtoul(argv[2], nullptr, 10), &t)) return puts("fail"), 0;
    printf("ok %lu %s\n", (unsigned long)t.refreshAtMs, t.value);
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "due")) {
    Token t{};
    t.valid = true;
    t.refreshAtMs = (uint32_t)strtoul(argv[2], nullptr, 10);
    puts(tokenDue(t, (uint32_t)strtoul(argv[3], nullptr, 10)) ? "due" : "not due");
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "retry")) {
    int status = atoi(argv[2]);
    printf("%s", shouldRetry(status) ? "retry" : "final");
    for (int a = 1; a <= 7; a++) printf(" %lu", (unsigned long)retryDelayMs(a, atol(argv[3])));
    puts("");
    return 0;
  }
  fputs("usage: host_exchange build | token <now_ms> | due <refresh_at_ms> <now_ms> | retry <status> <retry_after_s>\n", stderr);
  return 2;
}
