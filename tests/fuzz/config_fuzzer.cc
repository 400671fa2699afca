// The config loader (bridge/config/config.h) on any text: ParseConfigText, then ApplyDefaults
// and Validate on what parses; and the flag parsers (ParseRoutes, ParseHostPort). No crash or
// sanitizer report; ApplyDefaults is idempotent; a valid config stays valid with defaults
// applied again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bridge/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)bridge::config::ParseRoutes(input);
  (void)bridge::config::ParseHostPort(input);
  auto config = bridge::config::ParseConfigText(input, "fuzz");
  if (!config.ok()) return 0;
  bridge::config::ApplyDefaults(&*config);
  const std::string once = config->SerializeAsString();
  bridge::config::ApplyDefaults(&*config);
  if (config->SerializeAsString() != once) {
    std::fprintf(stderr, "MISMATCH ApplyDefaults is not idempotent\n");
    std::abort();
  }
  (void)bridge::config::Validate(*config);
  return 0;
}
