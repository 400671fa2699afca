#include "bridge/transcode/descriptor_registry.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "bridge/common/strings.h"
#include "absl/strings/str_cat.h"

namespace bridge::transcode {
namespace {


// Keeps the first error the pool reports.
class PoolErrors : public google::protobuf::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const google::protobuf::Message*, ErrorLocation,
                const std::string& message) override {
    if (first.empty()) first = absl::StrCat(filename, ": ", element_name, ": ", message);
  }
  std::string first;
};

}  // namespace

DescriptorRegistry::DescriptorRegistry() = default;

absl::Status DescriptorRegistry::AddFile(const google::protobuf::FileDescriptorProto& file) {
  if (const auto* existing = pool_.FindFileByName(file.name())) {
    google::protobuf::FileDescriptorProto have;
    existing->CopyTo(&have);
    // Source info is not part of the comparison.
    google::protobuf::FileDescriptorProto want = file;
    want.clear_source_code_info();
    if (have.SerializeAsString() == want.SerializeAsString()) return absl::OkStatus();
    return absl::AlreadyExistsError(
        absl::StrCat("descriptor file ", file.name(), " is given twice with different contents"));
  }
  PoolErrors errors;
  if (pool_.BuildFileCollectingErrors(file, &errors) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("bad descriptor: ", errors.first));
  }
  return absl::OkStatus();
}

absl::Status DescriptorRegistry::AddFileDescriptorSet(
    const google::protobuf::FileDescriptorSet& set) {
  // protoc writes dependencies first with --include_imports; retry the rest until no progress
  // so hand-assembled sets in any order work too.
  std::vector<const google::protobuf::FileDescriptorProto*> pending;
  for (const auto& f : set.file()) pending.push_back(&f);
  while (!pending.empty()) {
    std::vector<const google::protobuf::FileDescriptorProto*> next;
    absl::Status last;
    for (const auto* f : pending) {
      bool deps_ready = true;
      for (const std::string& dep : f->dependency()) {
        if (pool_.FindFileByName(dep) == nullptr) deps_ready = false;
      }
      if (!deps_ready) {
        next.push_back(f);
        continue;
      }
      if (absl::Status s = AddFile(*f); !s.ok()) return s;
    }
    if (next.size() == pending.size()) {
      std::string missing;
      for (const std::string& dep : next.front()->dependency()) {
        if (pool_.FindFileByName(dep) == nullptr) missing = dep;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "descriptor file ", next.front()->name(), " imports ", missing,
          ", which no descriptor set holds (use protoc --include_imports)"));
    }
    pending.swap(next);
  }
  return absl::OkStatus();
}

absl::Status DescriptorRegistry::AddDescriptorSetFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read descriptor set ", path));
  std::ostringstream data;
  data << in.rdbuf();
  google::protobuf::FileDescriptorSet set;
  if (!set.ParseFromString(data.str())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a FileDescriptorSet (protoc --descriptor_set_out)"));
  }
  if (absl::Status s = AddFileDescriptorSet(set); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status DescriptorRegistry::AddGeneratedFile(const google::protobuf::FileDescriptor* file) {
  for (int i = 0; i < file->dependency_count(); ++i) {
    if (absl::Status s = AddGeneratedFile(file->dependency(i)); !s.ok()) return s;
  }
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  return AddFile(proto);
}

absl::StatusOr<MethodInfo> DescriptorRegistry::FindMethod(std::string_view name) const {
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "method \"", Sv(name), "\" is not a full method name like demo.v1.Echo/Say"));
  }
  const std::string_view service_name = name.substr(0, slash);
  const google::protobuf::ServiceDescriptor* service = FindService(service_name);
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown service ", Sv(service_name)));
  }
  const auto* method = service->FindMethodByName(std::string(name.substr(slash + 1)));
  if (method == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown method ", Sv(name)));
  }
  MethodInfo info;
  info.descriptor = method;
  info.service = service->full_name();
  info.path = absl::StrCat("/", service->full_name(), "/", method->name());
  info.client_streaming = method->client_streaming();
  info.server_streaming = method->server_streaming();
  return info;
}

const google::protobuf::ServiceDescriptor* DescriptorRegistry::FindService(
    std::string_view name) const {
  return pool_.FindServiceByName(std::string(name));
}

}  // namespace bridge::transcode
