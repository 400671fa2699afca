// Whole sessions (tests/fuzz/session_driver.h) over the real gRPC client,
// bridge::upstream::GrpcUpstream, routed to a local port where nothing listens: every call is
// made by grpc++ as the bridge makes it, so gRPC checks the call's metadata when the call
// starts (and grpc++ aborts on what it refuses) whatever becomes of the connection. Calls end
// UNAVAILABLE (or CANCELLED, or at their deadline); their events arrive on gRPC's threads and
// are run on the fuzzer's thread, as the strand runs them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bridge/upstream/grpc_upstream.h"
#include "tests/fuzz/session_driver.h"

namespace bridge::fuzz {
namespace {

// A local port that refuses connections: bound, never listening, held for the process's life.
int RefusingPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Fail("cannot reserve a local port");
  }
  return ntohs(addr.sin_port);
}

class GrpcControl final : public UpstreamControl {
 public:
  explicit GrpcControl(const Services& services) {
    config_.add_routes()->set_service("demo.v1.Echo");
    config_.mutable_routes(0)->set_target(absl::StrCat("127.0.0.1:", RefusingPort()));
    config::ApplyDefaults(&config_);
    auto created = upstream::GrpcUpstream::Create(config_, services.registry);
    if (!created.ok()) Fail(absl::StrCat("GrpcUpstream: ", created.status().message()));
    upstream_ = *std::move(created);
  }

  upstream::Upstream* upstream() override { return upstream_.get(); }
  // Lets gRPC's events arrive: while calls are in flight, waits (briefly, bounded per input)
  // for one, and runs what came.
  void Act(Input& in, QueueExecutor& strand) override {
    const absl::Duration wait = std::min(absl::Milliseconds(in.Pick(4) * 2), budget_);
    if (wait > absl::ZeroDuration() && upstream_->calls_in_flight() > 0) {
      const absl::Time start = absl::Now();
      strand.Await(wait);
      budget_ -= std::min(absl::Now() - start, budget_);
    }
    strand.Run(64);
  }
  void Reset() override { budget_ = kWaitPerInput; }

 private:
  static constexpr absl::Duration kWaitPerInput = absl::Milliseconds(10);
  v1::BridgeConfig config_;
  std::unique_ptr<upstream::GrpcUpstream> upstream_;
  absl::Duration budget_ = kWaitPerInput;
};

}  // namespace
}  // namespace bridge::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* services = bridge::fuzz::SharedServices();
  static auto* control = new bridge::fuzz::GrpcControl(*services);
  bridge::fuzz::Input in(data, size);
  bridge::fuzz::SessionRun run(services, control, &in);
  run.Run();
  return 0;
}
