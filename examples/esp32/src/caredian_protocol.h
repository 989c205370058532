// The CareDian Gateway device protocol, without Arduino: request bodies, the token answer, when to
// refresh the token, when and how long to wait before a retry. Plain C++ (snprintf, no heap), so
// the same code runs on the ESP32 and, in the gateway's tests, on a PC against a real gateway
// (test/host_exchange.cpp, exchange.json).
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace caredian {

// 1 s chunks at 50 Hz: about 1.3 KB of JSON (26 characters a sample at most with a ±16 g range),
// small enough to build in one static buffer next to the TLS buffers, and a fall is decided
// about a second after it happened.
constexpr int RATE_HZ = 50;
constexpr int CHUNK_SAMPLES = RATE_HZ;
constexpr size_t BODY_CAPACITY = 2048;
constexpr size_t TOKEN_CAPACITY = 1200;  // an RS256 JWT from the gateway is about 720 characters

struct Sample {
  float ax, ay, az;  // g, gravity included, the sensor's own axes
};

/** Appends printf-style to out[*len..cap); false (and nothing usable) if it does not fit. */
inline bool append(char* out, size_t cap, size_t* len, const char* fmt, ...) __attribute__((format(printf, 4, 5)));
inline bool append(char* out, size_t cap, size_t* len, const char* fmt, ...) {
  if (*len >= cap) return false;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *len) return false;
  *len += (size_t)n;
  return true;
}

/** POST /events/imu: {"device_id","rate_hz","t0","acc":[[x,y,z],...]}. Returns the length, 0 if it does not fit. */
inline size_t imuBody(char* out, size_t cap, const char* deviceId, double t0, int rateHz, const Sample* s, int n) {
  size_t len = 0;
  if (!append(out, cap, &len, "{\"device_id\":\"%s\",\"rate_hz\":%d,\"t0\":%.3f,\"acc\":[", deviceId, rateHz, t0)) return 0;
  for (int i = 0; i < n; i++)
    if (!append(out, cap, &len, "%s[%.3f,%.3f,%.3f]", i ? "," : "", s[i].ax, s[i].ay, s[i].az)) return 0;
  return append(out, cap, &len, "]}") ? len : 0;
}

/** POST /devices/heartbeat. */
inline size_t heartbeatBody(char* out, size_t cap, const char* deviceId, int battery, int rssi, const char* fw, unsigned long uptimeS) {
  size_t len = 0;
  return append(out, cap, &len, "{\"device_id\":\"%s\",\"battery\":%d,\"rssi\":%d,\"fw\":\"%s\",\"uptime_s\":%lu}", deviceId, battery, rssi, fw, uptimeS) ? len : 0;
}

/** POST /events/fall for the help button: a call for help, with an event_id so a retry is stored once. */
inline size_t helpBody(char* out, size_t cap, const char* deviceId, double ts, const char* eventId) {
  size_t len = 0;
  return append(out, cap, &len, "{\"device_id\":\"%s\",\"event\":\"help\",\"prob\":1,\"ts\":%.3f,\"event_id\":\"%s\"}", deviceId, ts, eventId) ? len : 0;
}

/** The token request's form body (RFC 6749 client credentials; the client itself goes in Basic auth). */
inline size_t tokenForm(char* out, size_t cap) {
  size_t len = 0;
  return append(out, cap, &len, "grant_type=client_credentials&scope=events%%3Aimu%%3Aingest+events%%3Afall%%3Aingest+devices%%3Awrite") ? len : 0;
}

/** "Basic base64(id:secret)" (ids and secrets of the gateway's safe characters need no escaping). */
inline size_t basicAuth(char* out, size_t cap, const char* id, const char* secret) {
  static const char* B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char plain[160];
  int n = snprintf(plain, sizeof plain, "%s:%s", id, secret);
  if (n < 0 || (size_t)n >= sizeof plain) return 0;
  size_t len = 0;
  if (!append(out, cap, &len, "Basic ")) return 0;
  for (int i = 0; i < n; i += 3) {
    uint32_t v = (uint8_t)plain[i] << 16 | (i + 1 < n ? (uint8_t)plain[i + 1] << 8 : 0) | (i + 2 < n ? (uint8_t)plain[i + 2] : 0);
    char q[5] = {B64[v >> 18 & 63], B64[v >> 12 & 63], i + 1 < n ? B64[v >> 6 & 63] : '=', i + 2 < n ? B64[v & 63] : '=', 0};
    if (!append(out, cap, &len, "%s", q)) return 0;
  }
  return len;
}

/** The string value of "key" in a flat JSON object (enough for the gateway's answers). */
inline bool jsonString(const char* json, const char* key, char* out, size_t cap) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char* p = strstr(json, pat);
  if (!p) return false;
  p += strlen(pat);
  const char* end = strchr(p, '"');
  if (!end || (size_t)(end - p) >= cap) return false;
  memcpy(out, p, end - p);
  out[end - p] = 0;
  return true;
}

inline bool jsonNumber(const char* json, const char* key, double* out) {
  char pat[48];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char* p = strstr(json, pat);
  if (!p) return false;
  char* end;
  *out = strtod(p + strlen(pat), &end);
  return end != p + strlen(pat);
}

struct Token {
  char value[TOKEN_CAPACITY];
  uint32_t refreshAtMs;  // millis() at which to fetch a new one
  bool valid;
};

/** The token endpoint's answer: keep the token, and refresh it after 80 % of expires_in, well before it runs out. */
inline bool parseToken(const char* json, uint32_t nowMs, Token* t) {
  double ttl = 0;
  if (!jsonString(json, "access_token", t->value, sizeof t->value) || !jsonNumber(json, "expires_in", &ttl) || ttl <= 0 || ttl > 7 * 86400) return false;
  t->refreshAtMs = nowMs + (uint32_t)(ttl * 800);
  t->valid = true;
  return true;
}

/** Whether it is time to fetch a new token (millis() wraps after 49 days: compare by difference). */
inline bool tokenDue(const Token& t, uint32_t nowMs) {
  return !t.valid || (int32_t)(nowMs - t.refreshAtMs) >= 0;
}

/** Worth retrying with the same body: the gateway could not store it yet (or the network failed: status < 0). */
inline bool shouldRetry(int status) {
  return status < 0 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/** How long to wait before retry `attempt` (1, 2, ...): Retry-After when the gateway says, else 0.5 s doubling to 10 s. */
inline uint32_t retryDelayMs(int attempt, long retryAfterSec) {
  if (retryAfterSec > 0) return (uint32_t)(retryAfterSec > 60 ? 60 : retryAfterSec) * 1000;
  uint32_t d = 500u << (attempt > 5 ? 5 : attempt - 1);
  return d > 10000 ? 10000 : d;
}

}  // namespace caredian
