#!/bin/bash
# Installs every Debian package the build, the demo and the tests need. Idempotent: when all
# are present it changes nothing and needs no network. Runs apt-get as root (or via sudo).
set -euo pipefail

PACKAGES=(
  bazel-bootstrap
  g++
  libgrpc++-dev
  protobuf-compiler-grpc
  libprotobuf-dev
  protobuf-compiler
  libabsl-dev
  libwebsocketpp-dev
  libasio-dev
  libsimdjson-dev
  libssl-dev
  libjwt-dev
  zlib1g-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  python3-websockets
  python3-grpcio
  rapidjson-dev
  clang
  libclang-rt-14-dev
  chromium
  node-typescript
  yamllint
  openssl
  libhiredis-dev
  libjemalloc-dev
  redis-server
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install_deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
