// Fetches service descriptors from a running gRPC server by server reflection
// (grpc.reflection.v1alpha), so the bridge can serve a backend with no descriptor set. Blocking;
// for start-up only.
#ifndef BRIDGE_UPSTREAM_REFLECTION_CLIENT_H_
#define BRIDGE_UPSTREAM_REFLECTION_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.pb.h"

namespace bridge::upstream {

// The files that define `services` (all the target lists, when empty) and everything they
// import, dependencies first. Errors name the target and what failed.
absl::StatusOr<google::protobuf::FileDescriptorSet> FetchDescriptorsByReflection(
    const std::string& target, const std::vector<std::string>& services,
    absl::Duration timeout = absl::Seconds(10));

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_REFLECTION_CLIENT_H_
