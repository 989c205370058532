// A CareDian wearable: an ESP32 with an MPU-6050 streams its acceleration to the gateway, which
// decides falls with its own model. What it does, in order:
//   Wi-Fi, then NTP time (every chunk carries the time of its first sample, t0);
//   a client-credentials token, kept and refreshed after 80 % of its lifetime (or after a 401);
//   50 Hz sampling on its own task into 1 s chunks (a queue holds QUEUE_CHUNKS of them, so the
//   network may stall that long without losing motion data);
//   each chunk POSTed to /events/imu, retried with the same bytes (same t0) while the gateway
//   answers 503/429 or the network fails; the gateway never feeds a retried sample twice;
//   a heartbeat with the battery level every minute; the BOOT button as a help button
//   (/events/fall, event "help", with an event_id so a retry is stored once);
//   optional TLS, trusting only the gateway's CA.
// The exact requests are in ../exchange.json; the gateway's tests replay them.
#include <Arduino.h>
#include <HTTPClient.h>
#include <Preferences.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <Wire.h>
#include <Adafruit_MPU6050.h>
#include <sys/time.h>
#include <time.h>

#include "caredian_protocol.h"
#include "config.h"  // copy config.example.h to config.h and fill it in

using namespace caredian;

constexpr int QUEUE_CHUNKS = 10;         // 10 s of motion data: 10 x 608 bytes
constexpr uint32_t HEARTBEAT_MS = 60000;
constexpr int HELP_BUTTON_PIN = 0;       // the BOOT button on most boards

struct Chunk {
  double t0;
  Sample s[CHUNK_SAMPLES];
};

static Adafruit_MPU6050 imu;
static QueueHandle_t queue;
static Token token;
static char body[BODY_CAPACITY];
static char auth[TOKEN_CAPACITY + 8];
static char basic[240];  // "Basic " + base64 of up to 159 characters
static uint32_t bootCount;
static uint32_t helpCount;
static uint32_t lastHeartbeatMs;

static double nowEpoch() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  return tv.tv_sec + tv.tv_usec / 1e6;
}

// --- sampling: 50 Hz on its own task, whatever the network does --------------------------------
static void samplingTask(void*) {
  Chunk c;
  int n = 0;
  TickType_t last = xTaskGetTickCount();
  for (;;) {
    vTaskDelayUntil(&last, pdMS_TO_TICKS(1000 / RATE_HZ));
    sensors_event_t a, g, t;
    imu.getEvent(&a, &g, &t);
    if (n == 0) c.t0 = nowEpoch();
    c.s[n++] = {a.acceleration.x / 9.80665f, a.acceleration.y / 9.80665f, a.acceleration.z / 9.80665f};
    if (n < CHUNK_SAMPLES) continue;
    n = 0;
    if (xQueueSend(queue, &c, 0) != pdTRUE) {
      // Full (the gateway unreachable for QUEUE_CHUNKS s): the oldest second goes, the newest is kept.
      Chunk old;
      xQueueReceive(queue, &old, 0);
      xQueueSend(queue, &c, 0);
    }
  }
}

// --- HTTP ----------------------------------------------------------------------------------------
/** One POST; the status, or < 0 for a network error. */
static int post(const char* path, const char* payload, const char* authorization, const char* type, String* answer, long* retryAfter) {
  static WiFiClient plain;
  static WiFiClientSecure secure;
  WiFiClient* client = &plain;
  if (CAREDIAN_USE_TLS) {
    secure.setCACert(CAREDIAN_CA_PEM);  // only the gateway's own CA is trusted
    client = &secure;
  }
  HTTPClient http;
  http.setTimeout(10000);
  http.setReuse(true);
  if (!http.begin(*client, CAREDIAN_HOST, CAREDIAN_PORT, path, CAREDIAN_USE_TLS)) return -1;
  const char* keep[] = {"Retry-After"};
  http.collectHeaders(keep, 1);
  http.addHeader("Authorization", authorization);
  http.addHeader("Content-Type", type);
  int status = http.POST((uint8_t*)payload, strlen(payload));
  if (answer) *answer = status > 0 ? http.getString() : String();
  *retryAfter = http.header("Retry-After").toInt();
  http.end();
  return status;
}

static bool fetchToken() {
  tokenForm(body, sizeof body);
  String answer;
  long retryAfter = 0;
  for (int attempt = 1;; attempt++) {
    int status = post("/auth/cc/token", body, basic, "application/x-www-form-urlencoded", &answer, &retryAfter);
    if (status == 200 && parseToken(answer.c_str(), millis(), &token)) return true;
    Serial.printf("token: HTTP %d %s\n", status, answer.c_str());
    if (!shouldRetry(status) || attempt >= 6) return false;  // 401: wrong id or secret; fix config.h
    delay(retryDelayMs(attempt, retryAfter));
  }
}

/**
 * POSTs `payload` until the gateway has stored it (200), refused it for good (4xx) or `giveUp()`
 * says newer data matters more. The body is never rebuilt: a retry sends the same bytes.
 */
template <typename GiveUp>
static int send(const char* path, const char* payload, GiveUp giveUp, String* answer = nullptr) {
  bool renewed = false;
  for (int attempt = 1;; attempt++) {
    if (tokenDue(token, millis()) && !fetchToken()) return -1;
    snprintf(auth, sizeof auth, "Bearer %s", token.value);
    long retryAfter = 0;
    int status = post(path, payload, auth, "application/json", answer, &retryAfter);
    if (status == 401 && !renewed) {
      // Expired, or the gateway's keys changed: a new token, then the same request again.
      token.valid = false;
      renewed = true;
      continue;
    }
    if (!shouldRetry(status) || giveUp()) return status;
    delay(retryDelayMs(attempt, retryAfter));
  }
}

// --- the device ----------------------------------------------------------------------------------
static int batteryPercent() {
  // A 1:2 divider from the cell to BATTERY_PIN: 3.3 V empty, 4.2 V full.
  float v = analogReadMilliVolts(BATTERY_PIN) * 2 / 1000.0f;
  int p = (int)((v - 3.3f) / 0.9f * 100);
  return p < 0 ? 0 : p > 100 ? 100 : p;
}

static void heartbeat() {
  heartbeatBody(body, sizeof body, CAREDIAN_DEVICE_ID, batteryPercent(), WiFi.RSSI(), CAREDIAN_FW, millis() / 1000);
  send("/devices/heartbeat", body, [] { return true; });  // the next one comes in a minute anyway
  lastHeartbeatMs = millis();
}

static void help() {
  char id[40];
  helpCount++;
  snprintf(id, sizeof id, "%06llx-%lu-%lu", (unsigned long long)(ESP.getEfuseMac() & 0xffffff), (unsigned long)bootCount, (unsigned long)helpCount);
  helpBody(body, sizeof body, CAREDIAN_DEVICE_ID, nowEpoch(), id);
  uint32_t start = millis();
  // A call for help keeps trying for two minutes (the same event_id: stored once).
  int status = send("/events/fall", body, [start] { return millis() - start > 120000; });
  Serial.printf("help: HTTP %d\n", status);
}

void setup() {
  Serial.begin(115200);
  pinMode(HELP_BUTTON_PIN, INPUT_PULLUP);
  Preferences prefs;
  prefs.begin("caredian");
  bootCount = prefs.getUInt("boot", 0) + 1;
  prefs.putUInt("boot", bootCount);
  prefs.end();

  WiFi.mode(WIFI_STA);
  WiFi.begin(WIFI_SSID, WIFI_PASSWORD);
  while (WiFi.status() != WL_CONNECTED) delay(250);
  // The gateway refuses times ahead of its clock, and decides on the samples' own times: NTP first.
  configTime(0, 0, NTP_SERVER_1, NTP_SERVER_2);
  while (time(nullptr) < 1700000000) delay(250);

  if (!imu.begin()) {
    Serial.println("no MPU-6050 found on I2C");
    for (;;) delay(1000);
  }
  imu.setAccelerometerRange(MPU6050_RANGE_16_G);  // an impact can exceed 8 g
  imu.setFilterBandwidth(MPU6050_BAND_21_HZ);

  basicAuth(basic, sizeof basic, CAREDIAN_CLIENT_ID, CAREDIAN_CLIENT_SECRET);
  fetchToken();
  queue = xQueueCreate(QUEUE_CHUNKS, sizeof(Chunk));
  xTaskCreatePinnedToCore(samplingTask, "imu", 4096, nullptr, 5, nullptr, 1);
  heartbeat();
}

void loop() {
  if (digitalRead(HELP_BUTTON_PIN) == LOW) {
    help();
    while (digitalRead(HELP_BUTTON_PIN) == LOW) delay(10);
  }
  if (millis() - lastHeartbeatMs >= HEARTBEAT_MS) heartbeat();
  static Chunk c;
  if (xQueueReceive(queue, &c, pdMS_TO_TICKS(100)) != pdTRUE) return;
  if (!imuBody(body, sizeof body, CAREDIAN_DEVICE_ID, c.t0, RATE_HZ, c.s, CHUNK_SAMPLES)) return;
  String answer;
  // Retried until stored, unless the queue filled up meanwhile (newer seconds matter more).
  int status = send("/events/imu", body, [] { return uxQueueSpacesAvailable(queue) == 0; }, &answer);
  if (status == 200 && answer.indexOf("\"falls\":[]") < 0) Serial.printf("FALL decided by the gateway: %s\n", answer.c_str());
  else if (status != 200) Serial.printf("imu: HTTP %d %s\n", status, answer.c_str());
}
