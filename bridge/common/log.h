// Structured logs: one event per line, as a JSON object ({"ts":"2026-12-01T08:00:00.123Z",
// "level":"warn","event":"origin_refused","origin":"https://x"}) or as text, filtered by level.
//
//   log::Warn("origin_refused").Str("origin", origin).Int("status", 403);
//
// The event is written when the expression ends; below the configured level nothing is
// formatted. Thread-safe: lines from different threads never interleave. Configure once, in
// main, before other threads start.
#ifndef BRIDGE_COMMON_LOG_H_
#define BRIDGE_COMMON_LOG_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace bridge::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class Format { kJson, kText };

// "debug", "info", "warn", "error", "off".
std::optional<Level> ParseLevel(std::string_view name);
// "json", "text".
std::optional<Format> ParseFormat(std::string_view name);

// Defaults: info, JSON, stderr. `out` must outlive every later event.
void Configure(Level min_level, Format format, std::FILE* out = stderr);
bool Enabled(Level level);

class Event {
 public:
  Event(Level level, std::string_view name);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  Event& Str(std::string_view key, std::string_view value);
  Event& Int(std::string_view key, int64_t value);
  Event& Bool(std::string_view key, bool value);

 private:
  void Key(std::string_view key);
  bool on_;
  Format format_ = Format::kJson;
  std::string line_;
};

inline Event Debug(std::string_view name) { return Event(Level::kDebug, name); }
inline Event Info(std::string_view name) { return Event(Level::kInfo, name); }
inline Event Warn(std::string_view name) { return Event(Level::kWarn, name); }
inline Event Error(std::string_view name) { return Event(Level::kError, name); }

}  // namespace bridge::log

#endif  // BRIDGE_COMMON_LOG_H_
