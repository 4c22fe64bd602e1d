#!/usr/bin/env bash
# Installs the Debian packages the hotline needs. Idempotent: when every package is
# already installed it touches nothing and returns in well under a second.
set -euo pipefail

PKGS=(
  # pjsua2 build (see setup/pjsua2.sh)
  build-essential swig patchelf dpkg-dev pkg-config libssl-dev uuid-dev
  libgsm1-dev libspeex-dev libspeexdsp-dev libopus-dev libasound2-dev
  # speech synthesis and audio tooling
  espeak-ng libespeak-ng1 sox
  # real peers for tests and benchmarks
  sip-tester mosquitto mosquitto-clients
  # profiling C and kernel time under load (bench/, README Performance)
  linux-perf
  # the cluster's SIP front (ivr cluster up): dispatcher, registrar, pike
  kamailio kamailio-postgres-modules
  # the shared store of a centre on several machines, and its tests (ivr/store/pgserver.py)
  postgresql-15 postgresql-client-15
  # python
  python3-venv python3-dev
)
if [[ "${WITH_BROWSER:-1}" == "1" ]]; then
  PKGS+=(chromium chromium-driver fonts-noto-cjk)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# The packaged mosquitto service is not needed: tests and `ivr serve` start their own broker.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
# Nor is the packaged PostgreSQL cluster: tests and a centre start their own (ivr/store/pgserver.py).
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
