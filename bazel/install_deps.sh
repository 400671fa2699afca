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
  nodejs
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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install_deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm packages the tests drive as real third-party clients, pinned, in a folder of their own
# outside the source tree (tests read them there; nothing is fetched while tests run).
NPM_PREFIX=/var/cache/bridge-npm
NPM_PACKAGES=(toxiproxy-node-client@4.1.0)
for p in "${NPM_PACKAGES[@]}"; do
  if [ ! -f "$NPM_PREFIX/node_modules/${p%@*}/package.json" ] ||
     ! grep -q "\"version\": \"${p##*@}\"" "$NPM_PREFIX/node_modules/${p%@*}/package.json"; then
    echo "install_deps: npm install $p into $NPM_PREFIX" >&2
    $SUDO mkdir -p "$NPM_PREFIX"
    $SUDO npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --save-exact "$p" >&2
  fi
done
