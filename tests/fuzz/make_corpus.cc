// Writes the seed corpus of the transcoder fuzzers: random messages of every test type from
// the seeded generator, as wire bytes and as the JSON json_util prints for them (with JSON or
// proto field names, defaults, enum numbers). run_fuzz.sh --make-corpus runs it; the result
// is kept in tests/fuzz/corpus.
//
// Usage: make_corpus <json_dir> <binary_dir> <messages per type>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "tests/bridge/transcode/transcode_testing.h"
#include "tests/fuzz/fuzz_types.h"

int main(int argc, char** argv) {
  using namespace bridge::transcode;
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <json_dir> <binary_dir> <messages per type>\n", argv[0]);
    return 2;
  }
  fuzz::SilenceProtobufLogs();
  const std::string json_dir = argv[1];
  const std::string binary_dir = argv[2];
  const int count = std::atoi(argv[3]);
  testing::Oracle oracle;
  auto write = [](const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
  };
  for (char selector = '0'; selector <= '4'; ++selector) {
    const auto* type = fuzz::TypeFor(selector, /*with_groups=*/true);
    for (int seed = 1; seed <= count; ++seed) {
      testing::MessageGenerator generator(seed * 31 + selector);
      std::unique_ptr<google::protobuf::Message> message = oracle.New(type);
      generator.Fill(message.get(), /*max_depth=*/2);
      const std::string name = std::string(1, selector) + "_" + std::to_string(seed);
      write(binary_dir + "/" + name, selector + message->SerializeAsString());
      if (selector == '4') continue;  // json_util cannot print groups
      auto json = oracle.PrintJson(*message, seed % 3 == 0, seed % 2 == 0, seed % 5 == 0);
      if (json.ok() && oracle.ParseJson(type, *json).ok()) {
        write(json_dir + "/" + name, selector + *json);
      }
    }
  }
  return 0;
}
