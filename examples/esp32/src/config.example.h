// Copy to config.h (kept out of git: it holds secrets) and fill in.
#pragma once

#define WIFI_SSID "your-wifi"
#define WIFI_PASSWORD "your-wifi-password"

// The gateway: your Home Assistant host's address and the add-on's device port.
#define CAREDIAN_HOST "192.168.1.20"
#define CAREDIAN_PORT 8080

// An OAuth client of the gateway (add-on option cc_clients, or CC_CLIENTS_JSON standalone). The
// device id is the client id: a client posts for its own id unless its entry lists `devices`.
#define CAREDIAN_CLIENT_ID "band-01"
#define CAREDIAN_CLIENT_SECRET "paste-the-long-random-secret-here"
#define CAREDIAN_DEVICE_ID CAREDIAN_CLIENT_ID
#define CAREDIAN_FW "caredian-esp32-1.0.0"

// NTP: the chunks' t0 must be real time (the gateway refuses times ahead of its clock).
#define NTP_SERVER_1 "pool.ntp.org"
#define NTP_SERVER_2 "time.nist.gov"

// The battery through a 1:2 divider (most ESP32 battery boards use GPIO35).
#define BATTERY_PIN 35

// TLS: set to true when the gateway has tls_cert/tls_key, and paste the CA that signed its
// certificate (not the gateway's certificate itself, unless it is self-signed).
#define CAREDIAN_USE_TLS false
static const char CAREDIAN_CA_PEM[] = R"PEM(
-----BEGIN CERTIFICATE-----
paste your CA here
-----END CERTIFICATE-----
)PEM";
