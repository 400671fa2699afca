// What both transcoder fuzzers share: the message types they pick from (the first input byte
// chooses), the transcoder and the json_util oracle. Single-threaded, like libFuzzer.
#ifndef TESTS_FUZZ_FUZZ_TYPES_H_
#define TESTS_FUZZ_FUZZ_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bridge/transcode/json_transcoder.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/bridge/transcode/transcode_test.pb.h"
#include "tests/bridge/transcode/transcode_test_proto2.pb.h"
#include "tests/bridge/transcode/transcode_testing.h"

namespace bridge::transcode::fuzz {

// The message types, by selector '0'..'4'. Legacy (proto2, with groups) is last: json_util
// can neither read nor print groups, so the JSON comparisons leave it out.
inline const google::protobuf::Descriptor* TypeFor(char selector, bool with_groups) {
  switch (selector) {
    case '1':
      return bridge::transcode::test::Collections::descriptor();
    case '2':
      return bridge::transcode::test::Options::descriptor();
    case '3':
      return bridge::transcode::test::Order::descriptor();
    case '4':
      if (with_groups) return bridge::transcode::test2::Legacy::descriptor();
      return demo::v1::Sample::descriptor();
    default:
      return demo::v1::Sample::descriptor();
  }
}

// Splits a fuzz input into a type and the rest: "<selector><payload>"; without a selector
// digit the whole input is a demo.v1.Sample.
inline const google::protobuf::Descriptor* SplitInput(const uint8_t* data, size_t size,
                                                      bool with_groups, std::string_view* payload) {
  *payload = std::string_view(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] >= '0' && data[0] <= '4') {
    payload->remove_prefix(1);
    return TypeFor(static_cast<char>(data[0]), with_groups);
  }
  return demo::v1::Sample::descriptor();
}

inline void SilenceProtobufLogs() { google::protobuf::SetLogHandler(nullptr); }

// The transcoder and the json_util oracle, set up once per process.
struct FuzzContext {
  explicit FuzzContext(bool generated_messages)
      : transcoder(nullptr, {}), oracle(generated_messages) {
    SilenceProtobufLogs();
  }
  JsonTranscoder transcoder;
  testing::Oracle oracle;
};

// Stops the run with a report: libFuzzer then saves the input that got here.
[[noreturn]] inline void Mismatch(const std::string& what, std::string_view input,
                                  const std::string& ours, const std::string& theirs) {
  std::fprintf(stderr, "MISMATCH: %s\ninput (%zu bytes)\ntranscoder: %s\njson_util:  %s\n",
               what.c_str(), input.size(), ours.c_str(), theirs.c_str());
  std::abort();
}

}  // namespace bridge::transcode::fuzz

#endif  // TESTS_FUZZ_FUZZ_TYPES_H_
