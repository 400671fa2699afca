#include "harness/scenario/scenario_file.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "proto/bridge/v1/frame.pb.h"

namespace harness::scenario {

absl::Status ValidateScenario(const v1::Scenario& s) {
  if (s.name().empty()) return absl::InvalidArgumentError("field name: must be set");
  for (char ch : s.name()) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("field name: letters, digits, '_' and '-' only, got \"", s.name(), "\""));
    }
  }
  const std::string& jitter = s.client().jitter();
  if (!jitter.empty() && jitter != "full" && jitter != "equal" && jitter != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("field client.jitter: full, equal or none, got \"", jitter, "\""));
  }
  for (int i = 0; i < s.steps_size(); ++i) {
    const v1::Step& step = s.steps(i);
    const std::string at = absl::StrCat("field steps[", i, "]");
    if (step.kind_case() == v1::Step::KIND_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": a step needs a kind"));
    }
    if (step.has_call() && step.call().method().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".call.method: must be set"));
    }
    if (step.has_call() && !step.call().expect().category().empty() &&
        !bridge::protocol::CategoryFromName(step.call().expect().category())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".call.expect.category: unknown \"",
                                                     step.call().expect().category(), "\""));
    }
    if (step.has_inject()) {
      const v1::Inject& in = step.inject();
      const int kinds = in.has_toxic() + in.has_enabled() + in.has_backend_fault();
      if (kinds != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".inject: exactly one of toxic, enabled, backend_fault"));
      }
      if (!in.has_backend_fault() && in.proxy() != "client" && in.proxy() != "backend") {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".inject.proxy: \"client\" or \"backend\", got \"", in.proxy(), "\""));
      }
    }
    if ((step.has_subscribe() && step.subscribe().channel().empty()) ||
        (step.has_publish() && step.publish().channel().empty()) ||
        (step.has_expect_publications() && step.expect_publications().channel().empty())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ": the channel must be set"));
    }
    if (step.has_subscribe() && !step.subscribe().expect_refusal().empty() &&
        !bridge::protocol::CategoryFromName(step.subscribe().expect_refusal())) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".subscribe.expect_refusal: unknown \"",
                                                     step.subscribe().expect_refusal(), "\""));
    }
    const google::protobuf::FieldDescriptor* frame_kind =
        step.has_expect_frame()
            ? bridge::v1::Frame::descriptor()->FindFieldByName(step.expect_frame().type())
            : nullptr;
    if (step.has_expect_frame() &&
        (frame_kind == nullptr || frame_kind->containing_oneof() == nullptr)) {
      return absl::InvalidArgumentError(absl::StrCat(at, ".expect_frame.type: unknown frame \"",
                                                     step.expect_frame().type(), "\""));
    }
    const v1::ExpectClose* close = step.has_expect_close() ? &step.expect_close()
                                   : step.connect().has_expect_close()
                                       ? &step.connect().expect_close()
                                       : nullptr;
    if (close != nullptr && !close->category().empty() &&
        !bridge::protocol::CategoryFromName(close->category())) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, " expect_close.category: unknown \"", close->category(), "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Scenario>> LoadScenarios(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path));
  }
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    while (dirent* entry = ::readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.size() > 10 && name.substr(name.size() - 10) == ".textproto") {
        files.push_back(absl::StrCat(path, "/", name));
      }
    }
    ::closedir(dir);
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::vector<v1::Scenario> out;
  for (const std::string& file : files) {
    v1::Scenario scenario;
    if (absl::Status s = bridge::config::LoadTextMessageFile(file, &scenario); !s.ok()) return s;
    if (absl::Status s = ValidateScenario(scenario); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", s.message()));
    }
    out.push_back(std::move(scenario));
  }
  return out;
}

}  // namespace harness::scenario
