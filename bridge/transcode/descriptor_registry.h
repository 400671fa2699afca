// The descriptor pool the bridge serves from: every service and message type it can call
// without generated code. Built once at start-up from descriptor sets (files written by
// `protoc --include_imports --descriptor_set_out`) or FileDescriptorProtos, then read-only and
// safe to use from any thread.
#ifndef BRIDGE_TRANSCODE_DESCRIPTOR_REGISTRY_H_
#define BRIDGE_TRANSCODE_DESCRIPTOR_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"

namespace bridge::transcode {

// One callable method.
struct MethodInfo {
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
  std::string path;     // "/demo.v1.Echo/Say", as gRPC puts it on the wire
  std::string service;  // "demo.v1.Echo"
  bool client_streaming = false;
  bool server_streaming = false;
};

class DescriptorRegistry {
 public:
  DescriptorRegistry();

  // Adds every file of a FileDescriptorSet. Files already present are skipped when identical.
  absl::Status AddFileDescriptorSet(const google::protobuf::FileDescriptorSet& set);
  // Reads and adds a descriptor set file.
  absl::Status AddDescriptorSetFile(const std::string& path);
  // Adds `file` and, first, everything it imports, from a generated descriptor.
  absl::Status AddGeneratedFile(const google::protobuf::FileDescriptor* file);

  // "demo.v1.Echo/Say" or "/demo.v1.Echo/Say".
  absl::StatusOr<MethodInfo> FindMethod(std::string_view name) const;
  const google::protobuf::ServiceDescriptor* FindService(std::string_view name) const;

  const google::protobuf::DescriptorPool* pool() const { return &pool_; }

 private:
  absl::Status AddFile(const google::protobuf::FileDescriptorProto& file);

  google::protobuf::DescriptorPool pool_;
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_DESCRIPTOR_REGISTRY_H_
