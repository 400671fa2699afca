#include "bridge/upstream/reflection_client.h"

#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "bridge/common/grpc_time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "proto/bridge/v1/reflection.pb.h"

namespace bridge::upstream {
namespace {

namespace refl = ::bridge::v1::reflection;
constexpr char kMethod[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

// One reflection stream, driven synchronously over a completion queue.
class ReflectionStream {
 public:
  ReflectionStream(const std::string& target, absl::Duration timeout)
      : target_(target), stub_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())) {
    context_.set_deadline(GrpcDeadlineChrono(timeout));
    call_ = stub_.PrepareCall(&context_, kMethod, &cq_);
    call_->StartCall(Tag(1));
    ok_ = Await(1);
  }

  ~ReflectionStream() {
    if (ok_) {
      call_->WritesDone(Tag(2));
      Await(2);
    }
    grpc::Status status;
    call_->Finish(&status, Tag(3));
    Await(3);
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  absl::StatusOr<refl::ServerReflectionResponse> Ask(const refl::ServerReflectionRequest& request) {
    if (!ok_) return Failure("cannot open the reflection stream");
    grpc::Slice slice(request.SerializeAsString());
    grpc::ByteBuffer out(&slice, 1);
    call_->Write(out, Tag(4));
    if (!Await(4)) return Failure("the reflection stream closed");
    grpc::ByteBuffer in;
    call_->Read(&in, Tag(5));
    if (!Await(5)) return Failure("no reflection answer (is reflection enabled there?)");
    std::vector<grpc::Slice> slices;
    std::string bytes;
    (void)in.Dump(&slices);
    for (const grpc::Slice& s : slices) {
      bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    refl::ServerReflectionResponse response;
    if (!response.ParseFromString(bytes)) return Failure("a reflection answer did not parse");
    if (response.has_error_response()) {
      return absl::NotFoundError(
          absl::StrCat("reflection at ", target_, ": ", response.error_response().error_message()));
    }
    return response;
  }

 private:
  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }

  bool Await(intptr_t want) {
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
      if (tag == Tag(want)) return ok;
    }
    return false;
  }

  absl::Status Failure(const std::string& what) {
    ok_ = false;
    return absl::UnavailableError(absl::StrCat("reflection at ", target_, ": ", what));
  }

  const std::string target_;
  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool ok_ = false;
};

}  // namespace

absl::StatusOr<google::protobuf::FileDescriptorSet> FetchDescriptorsByReflection(
    const std::string& target, const std::vector<std::string>& services, absl::Duration timeout) {
  ReflectionStream stream(target, timeout);
  std::vector<std::string> wanted = services;
  if (wanted.empty()) {
    refl::ServerReflectionRequest list;
    list.set_list_services("*");
    auto listed = stream.Ask(list);
    if (!listed.ok()) return listed.status();
    for (const auto& s : listed->list_services_response().service()) {
      if (s.name().rfind("grpc.reflection.", 0) == 0) continue;
      wanted.push_back(s.name());
    }
  }
  // Files by name; their imports are fetched until nothing is missing.
  std::map<std::string, google::protobuf::FileDescriptorProto> files;
  auto add = [&](const refl::ServerReflectionResponse& r) -> absl::Status {
    for (const std::string& bytes : r.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat("reflection at ", target, ": a file descriptor did not parse"));
      }
      files.emplace(file.name(), std::move(file));
    }
    return absl::OkStatus();
  };
  for (const std::string& service : wanted) {
    refl::ServerReflectionRequest request;
    request.set_file_containing_symbol(service);
    auto response = stream.Ask(request);
    if (!response.ok()) return response.status();
    if (absl::Status s = add(*response); !s.ok()) return s;
  }
  for (bool missing = true; missing;) {
    missing = false;
    std::vector<std::string> need;
    for (const auto& [name, file] : files) {
      for (const std::string& dep : file.dependency()) {
        if (files.count(dep) == 0) need.push_back(dep);
      }
    }
    for (const std::string& dep : need) {
      if (files.count(dep) > 0) continue;
      refl::ServerReflectionRequest request;
      request.set_file_by_filename(dep);
      auto response = stream.Ask(request);
      if (!response.ok()) return response.status();
      if (absl::Status s = add(*response); !s.ok()) return s;
      if (files.count(dep) == 0) {
        return absl::NotFoundError(
            absl::StrCat("reflection at ", target, ": the server does not have ", dep));
      }
      missing = true;
    }
  }
  // Dependencies first.
  google::protobuf::FileDescriptorSet set;
  std::set<std::string> done;
  std::function<void(const std::string&)> emit = [&](const std::string& name) {
    if (!done.insert(name).second) return;
    const auto& file = files.at(name);
    for (const std::string& dep : file.dependency()) emit(dep);
    *set.add_file() = file;
  };
  for (const auto& [name, file] : files) emit(name);
  return set;
}

}  // namespace bridge::upstream
