#include "bridge/common/log.h"

#include <atomic>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bridge/common/json_string.h"
#include "bridge/common/strings.h"

namespace bridge::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
std::atomic<int> format{static_cast<int>(Format::kJson)};
std::FILE* out = nullptr;  // stderr when null
std::mutex write_mu;

constexpr const char* kNames[] = {"debug", "info", "warn", "error"};

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  for (int i = 0; i < 4; ++i) {
    if (name == kNames[i]) return static_cast<Level>(i);
  }
  if (name == "off") return Level::kOff;
  return std::nullopt;
}

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "json") return Format::kJson;
  if (name == "text") return Format::kText;
  return std::nullopt;
}

void Configure(Level level, Format f, std::FILE* file) {
  min_level.store(static_cast<int>(level));
  format.store(static_cast<int>(f));
  std::lock_guard<std::mutex> lock(write_mu);
  out = file;
}

bool Enabled(Level level) { return static_cast<int>(level) >= min_level.load(); }

Event::Event(Level level, std::string_view name) : on_(level != Level::kOff && Enabled(level)) {
  if (!on_) return;
  format_ = static_cast<Format>(format.load());
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  const char* level_name = kNames[static_cast<int>(level)];
  if (format_ == Format::kJson) {
    absl::StrAppend(&line_, "{\"ts\":\"", ts, "\",\"level\":\"", level_name, "\",\"event\":");
    AppendJsonString(name, &line_);
  } else {
    absl::StrAppend(&line_, ts, " ", level_name, " ", Sv(name));
  }
}

void Event::Key(std::string_view key) {
  if (format_ == Format::kJson) {
    line_.push_back(',');
    AppendJsonString(key, &line_);
    line_.push_back(':');
  } else {
    absl::StrAppend(&line_, " ", Sv(key), "=");
  }
}

Event& Event::Str(std::string_view key, std::string_view value) {
  if (!on_) return *this;
  Key(key);
  if (format_ == Format::kJson) {
    AppendJsonString(value, &line_);
  } else if (value.find_first_of(" \"=\n") == std::string_view::npos && !value.empty()) {
    line_.append(value);
  } else {
    AppendJsonString(value, &line_);  // quoted, escaped
  }
  return *this;
}

Event& Event::Int(std::string_view key, int64_t value) {
  if (!on_) return *this;
  Key(key);
  absl::StrAppend(&line_, value);
  return *this;
}

Event& Event::Bool(std::string_view key, bool value) {
  if (!on_) return *this;
  Key(key);
  line_ += value ? "true" : "false";
  return *this;
}

Event::~Event() {
  if (!on_) return;
  if (format_ == Format::kJson) line_.push_back('}');
  line_.push_back('\n');
  std::lock_guard<std::mutex> lock(write_mu);
  std::FILE* f = out != nullptr ? out : stderr;
  std::fwrite(line_.data(), 1, line_.size(), f);
  std::fflush(f);
}

}  // namespace bridge::log
