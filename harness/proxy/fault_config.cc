#include "harness/proxy/fault_config.h"

#include <fstream>
#include <sstream>

#include "bridge/common/strings.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace harness::proxy {
namespace {

using ::bridge::Sv;

// Keeps the first error, as "LINE:COLUMN: message" (the parser's messages name the field).
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::StatusOr<v1::FaultConfig> ParseFaultConfig(std::string_view text, std::string_view origin) {
  v1::FaultConfig config;
  FirstError errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(Sv(origin), ":", errors.first()));
  }
  return config;
}

absl::StatusOr<v1::FaultConfig> LoadFaultConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseFaultConfig(text.str(), path);
}

}  // namespace harness::proxy
