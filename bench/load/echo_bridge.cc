// echo_bridge: the bridge's WebSocket layer alone, for the load runs' middle baseline. The real
// server, sessions, frame codec and JSON transcoder, with an in-process upstream that answers
// each call at once with its request bytes: no gRPC. demo.v1.Echo/Say (a SayRequest's bytes
// read as a SayResponse) and Chat (ChatMessage in, the same out) echo; other methods too, but
// their replies only transcode when the request and reply types share a wire shape.
//
//   echo_bridge [--listen=127.0.0.1:0] [--io_threads=N] [--config=FILE]
//
// Prints "bridge: listening on ws://HOST:PORT/ws" and runs until SIGTERM or SIGINT.
#include <sys/resource.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "bridge/app/signals.h"
#include "bridge/config/config.h"
#include "bridge/server/server.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/upstream.h"
#include "proto/demo/v1/echo.pb.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "WebSocket listen address HOST:PORT.");
ABSL_FLAG(int, io_threads, 0, "Asio io threads (0: the number of cores).");
ABSL_FLAG(std::string, config, "", "BridgeConfig (text format) merged over the defaults.");

namespace {

namespace upstream = bridge::upstream;

// Replies with each request message as it is read; finishes OK once the client half-closed
// and every request was answered.
class EchoCall final : public upstream::Call {
 public:
  explicit EchoCall(std::shared_ptr<upstream::CallListener> listener)
      : listener_(std::move(listener)) {}

  bool Write(std::string bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return false;
    if (read_pending_) {
      read_pending_ = false;
      listener_->OnMessage(std::move(bytes));
    } else {
      queue_.push_back(std::move(bytes));
    }
    return true;
  }
  void WritesDone() override {
    std::lock_guard<std::mutex> lock(mu_);
    writes_done_ = true;
    if (read_pending_ && queue_.empty()) FinishLocked(0, "");
  }
  void RequestRead() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    if (!headers_sent_) {
      headers_sent_ = true;
      listener_->OnHeaders({});
    }
    if (!queue_.empty()) {
      listener_->OnMessage(std::move(queue_.front()));
      queue_.pop_front();
    } else if (writes_done_) {
      FinishLocked(0, "");
    } else {
      read_pending_ = true;
    }
  }
  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(1, "cancelled");  // CANCELLED
  }

 private:
  void FinishLocked(int code, std::string message) {
    if (finished_) return;
    finished_ = true;
    upstream::CallResult result;
    result.code = code;
    result.message = std::move(message);
    listener_->OnFinish(std::move(result));
  }

  // The listener only posts to the session's strand, so calling it under the lock keeps the
  // events in order without re-entering.
  std::mutex mu_;
  std::shared_ptr<upstream::CallListener> listener_;
  std::deque<std::string> queue_;
  bool headers_sent_ = false;
  bool read_pending_ = false;
  bool writes_done_ = false;
  bool finished_ = false;
};

class EchoUpstream final : public upstream::Upstream {
 public:
  bool HasRoute(std::string_view) const override { return true; }
  std::shared_ptr<upstream::Call> StartCall(
      const upstream::CallSpec&, std::shared_ptr<upstream::CallListener> listener) override {
    return std::make_shared<EchoCall>(std::move(listener));
  }
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "echo_bridge: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as bridge/main.cc
  bridge::app::BlockTerminationSignals();
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  bridge::v1::BridgeConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = bridge::config::LoadConfigFile(path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = *std::move(loaded);
  }
  config.set_listen(absl::GetFlag(FLAGS_listen));
  if (const int n = absl::GetFlag(FLAGS_io_threads); n > 0) config.set_io_threads(n);
  bridge::config::ApplyDefaults(&config);
  if (absl::Status valid = bridge::config::Validate(config); !valid.ok()) {
    return Fail(std::string(valid.message()));
  }

  bridge::transcode::DescriptorRegistry registry;
  if (absl::Status added = registry.AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
      !added.ok()) {
    return Fail(std::string(added.message()));
  }
  bridge::transcode::TranscodeOptions transcode_options;
  transcode_options.ignore_unknown_fields = config.ignore_unknown_payload_fields();
  bridge::transcode::JsonTranscoder transcoder(&registry, transcode_options);
  EchoUpstream echo;

  bridge::server::ServerOptions options;
  options.services.registry = &registry;
  options.services.transcoder = &transcoder;
  options.services.upstream = &echo;
  bridge::server::Server server(config, options);
  if (absl::Status started = server.Start(); !started.ok()) {
    return Fail(std::string(started.message()));
  }
  auto host_port = bridge::config::ParseHostPort(config.listen());
  std::printf("bridge: listening on ws://%s:%u%s (%u io threads, echo upstream)\n",
              host_port.ok() ? host_port->host.c_str() : "127.0.0.1",
              static_cast<unsigned>(server.port()), config.path().c_str(), config.io_threads());
  std::fflush(stdout);
  bridge::app::WaitForTerminationSignal();
  server.Shutdown();
  server.Wait();
  return 0;
}
