#!/bin/bash
# Builds the libFuzzer targets with clang outside Bazel (AddressSanitizer and
# UndefinedBehaviorSanitizer, Debian's libprotobuf, libsimdjson, Abseil, libjwt and gRPC) and
# runs each one against its corpus in tests/fuzz/corpus: the transcoder's two (compared with
# protobuf's json_util as they go), the frame decoder, the config loader, the upgrade checks,
# and whole sessions over a fake upstream holding calls to gRPC's rules (session) and over the
# real gRPC client (session_grpc).
#
#   tests/fuzz/run_fuzz.sh                    # the short pass CI runs: 15 s per target
#   tests/fuzz/run_fuzz.sh --seconds 600      # longer, by hand
#   tests/fuzz/run_fuzz.sh --update-corpus    # merge what the run found into tests/fuzz/corpus
#   tests/fuzz/run_fuzz.sh --make-corpus      # regenerate the seed corpus
#   tests/fuzz/run_fuzz.sh --seconds 60 json_to_binary   # one target
#   tests/fuzz/run_fuzz.sh --seconds 60 session session_grpc
#
# Needs clang and libclang-rt-14-dev (bazel/install_deps.sh installs them). Builds in
# $FUZZ_BUILD_DIR (default /tmp/bridge-fuzz); a crash or mismatch leaves the input there
# under artifacts/ and makes the script exit non-zero.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-/tmp/bridge-fuzz}
cxx=${CXX:-clang++}
seconds=15
update_corpus=0
make_corpus=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --update-corpus) update_corpus=1; shift ;;
    --make-corpus) make_corpus=1; shift ;;
    json_to_binary|binary_to_json|frame_decoder|config|upgrade|session|session_grpc)
      targets+=("$1"); shift ;;
    *) echo "run_fuzz: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] &&
  targets=(json_to_binary binary_to_json frame_decoder config upgrade session session_grpc)

mkdir -p "$build/gen" "$build/obj" "$build/artifacts"
cd "$root"

# Generated code for the demo and test protos, from Debian's protoc.
protos=(proto/demo/v1/echo.proto tests/bridge/transcode/transcode_test.proto
        tests/bridge/transcode/transcode_test_proto2.proto proto/bridge/v1/frame.proto
        proto/bridge/v1/config.proto)
# Written aside first; only files that changed replace the old ones, so objects built from
# them stay current.
rm -rf "$build/gen.new"
mkdir -p "$build/gen.new"
/usr/bin/protoc -I. -I/usr/include --cpp_out="$build/gen.new" "${protos[@]}"
(cd "$build/gen.new" && find . -type f) | while read -r f; do
  if ! cmp -s "$build/gen.new/$f" "$build/gen/$f"; then
    mkdir -p "$(dirname "$build/gen/$f")"
    cp "$build/gen.new/$f" "$build/gen/$f"
  fi
done

flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -I. -I"$build/gen"
       -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined)
libs=(-lprotobuf -lsimdjson -labsl_status -labsl_statusor -labsl_cord -labsl_strings
      -labsl_str_format_internal -labsl_synchronization -labsl_time -labsl_time_zone
      -labsl_hash -labsl_raw_hash_set -labsl_base -labsl_raw_logging_internal
      -labsl_throw_delegate -labsl_int128 -labsl_spinlock_wait -labsl_malloc_internal
      -labsl_stacktrace -labsl_symbolize -labsl_debugging_internal -labsl_demangle_internal
      -labsl_city -labsl_low_level_hash -lpthread)
sources=(bridge/transcode/json_text.cc bridge/transcode/message_plan.cc
         bridge/transcode/json_to_wire.cc bridge/transcode/wire_to_json.cc
         bridge/transcode/json_transcoder.cc bridge/transcode/descriptor_registry.cc
         tests/bridge/transcode/transcode_testing.cc
         bridge/protocol/frame_codec.cc bridge/config/config.cc bridge/common/log.cc
         bridge/common/json_string.cc
         bridge/server/upgrade.cc
         "$build/gen/proto/bridge/v1/frame.pb.cc" "$build/gen/proto/bridge/v1/config.pb.cc"
         "$build/gen/proto/demo/v1/echo.pb.cc"
         "$build/gen/tests/bridge/transcode/transcode_test.pb.cc"
         "$build/gen/tests/bridge/transcode/transcode_test_proto2.pb.cc")

# The session targets add the session, its channels, metrics and token checks; session_grpc
# adds the gRPC upstream.
session_sources=(bridge/session/session.cc bridge/session/calls.cc bridge/session/channels.cc
                 bridge/session/rate_limiter.cc bridge/session/resume_buffer.cc
                 bridge/session/call_table.cc bridge/session/batcher.cc
                 bridge/upstream/metadata.cc bridge/upstream/trace_context.cc
                 bridge/metrics/metrics.cc
                 bridge/protocol/error_table.cc bridge/pubsub/node.cc
                 bridge/pubsub/memory_broker.cc bridge/auth/jwt_verifier.cc
                 bridge/common/random_id.cc)
grpc_sources=(bridge/upstream/grpc_upstream.cc bridge/upstream/retry.cc
             bridge/upstream/retrying_call.cc)
session_libs=(-ljwt -lssl -lcrypto -labsl_random_internal_seed_material
              -labsl_random_internal_pool_urbg -labsl_random_seed_sequences
              -labsl_random_internal_randen -labsl_random_internal_randen_hwaes
              -labsl_random_internal_randen_hwaes_impl -labsl_random_internal_randen_slow
              -lgrpc -lgpr)

# Compiles the sources given after the first argument (each one again when it, or any header,
# is newer than its object) and appends their objects to the array the first argument names.
compile() {
  local -n into=$1
  shift
  local src obj
  for src in "$@"; do
    obj="$build/obj/$(echo "$src" | tr '/' '_').o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find bridge tests/bridge/transcode \
        "$build/gen" -name '*.h' -newer "$obj" -print -quit)" ]; then
      echo "run_fuzz: compiling $src" >&2
      "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    into+=("$obj")
  done
}

# Objects shared by the targets.
objects=()
compile objects "${sources[@]}"

if [ "$make_corpus" -eq 1 ]; then
  "$cxx" "${flags[@]}" tests/fuzz/make_corpus.cc "${objects[@]}" "${libs[@]}" \
    -o "$build/make_corpus"
  rm -rf tests/fuzz/corpus/json_to_binary tests/fuzz/corpus/binary_to_json
  mkdir -p tests/fuzz/corpus/json_to_binary tests/fuzz/corpus/binary_to_json
  ASAN_OPTIONS=detect_leaks=0 "$build/make_corpus" tests/fuzz/corpus/json_to_binary \
    tests/fuzz/corpus/binary_to_json 24
  echo "run_fuzz: wrote $(ls tests/fuzz/corpus/json_to_binary | wc -l) JSON and" \
    "$(ls tests/fuzz/corpus/binary_to_json | wc -l) binary seeds" >&2
  # The session targets' seeds are hand-written programs (their seed-* files are rewritten).
  python3 tests/fuzz/make_session_corpus.py tests/fuzz/corpus/session \
    tests/fuzz/corpus/session_grpc
fi

status=0
for target in "${targets[@]}"; do
  binary="$build/${target}_fuzzer"
  extra_objects=()
  extra_libs=()
  case "$target" in
    session)
      compile extra_objects "${session_sources[@]}"
      extra_libs=("${session_libs[@]}") ;;
    session_grpc)
      compile extra_objects "${session_sources[@]}" "${grpc_sources[@]}"
      extra_libs=(-lgrpc++ "${session_libs[@]}") ;;
  esac
  echo "run_fuzz: building $target" >&2
  # RapidJSON 1.1 (json_to_binary's independent JSON check) offsets a null pointer in its
  # stack; that check is off for the target's own file.
  "$cxx" "${flags[@]}" -fno-sanitize=pointer-overflow -fsanitize=fuzzer \
    "tests/fuzz/${target}_fuzzer.cc" "${objects[@]}" "${extra_objects[@]}" "${libs[@]}" \
    "${extra_libs[@]}" -o "$binary"
  corpus="tests/fuzz/corpus/$target"
  # New inputs go to a scratch corpus; --update-corpus merges what adds coverage back.
  work="$build/corpus/$target"
  rm -rf "$work"
  mkdir -p "$work"
  dirs=("$work" "$corpus")
  dict=()
  [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
  echo "run_fuzz: $target for ${seconds}s" >&2
  if ! ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" \
      -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 "${dict[@]}" \
      "${dirs[@]}" 2> "$build/$target.log"; then
    status=1
    echo "run_fuzz: $target FAILED; log: $build/$target.log" >&2
    grep -E "MISMATCH|ERROR: |SUMMARY|^input|^transcoder|^json_util|Test unit written|\
validate_metadata|API misuse|assertion failed" \
      "$build/$target.log" >&2 || true
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$build/$target.log" |
      sed "s/^/run_fuzz: $target /" >&2
    if [ "$update_corpus" -eq 1 ]; then
      # Keep the smallest set of inputs that covers the same edges.
      merged="$build/corpus/$target-merged"
      rm -rf "$merged"
      mkdir -p "$merged"
      ASAN_OPTIONS=detect_leaks=0 "$binary" -merge=1 -use_counters=0 "$merged" "$corpus" \
        "$work" 2> "$build/$target-merge.log"
      rm -rf "$corpus"
      mv "$merged" "$corpus"
      echo "run_fuzz: $target corpus now $(ls "$corpus" | wc -l) inputs" >&2
    fi
  fi
done
exit "$status"
