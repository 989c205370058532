#!/bin/sh
# The test suite runs against real programs from Debian: InfluxDB 1.x, Mosquitto, Chromium, openssl and g++
# (for the ESP32 example's protocol code).
# Installs whichever is missing (as root, or with sudo), or says exactly what to install.
set -e
missing=""
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing="$missing influxdb"
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing="$missing chromium"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v "${CXX:-g++}" >/dev/null 2>&1 || missing="$missing g++"
[ -x "${MOSQUITTO_BIN:-/usr/sbin/mosquitto}" ] || missing="$missing mosquitto"
command -v mosquitto_pub >/dev/null 2>&1 || missing="$missing mosquitto-clients"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "the tests need Debian packages:$missing  ->  apt-get install -y$missing" >&2; exit 1
fi
echo "installing test dependencies:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
