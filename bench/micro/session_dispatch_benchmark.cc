// One unary call through a Session, without sockets: the client's `message` frame in
// (OnMessage: decode, rate limit, method lookup, JSON -> protobuf), an in-process echo
// upstream, and the `response` frame out (protobuf -> JSON, encode, resume buffer, outcome
// memory). The session's strand is tests/mocks' FakeExecutor, run inline after each frame.
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "bench/load/echo_upstream.h"
#include "benchmark/benchmark.h"
#include "bridge/session/session.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_transcoder.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/mocks/session_mocks.h"

namespace {

using bridge::session::Session;

void BM_SessionUnaryCall(benchmark::State& state) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as bridge/main.cc
  bridge::transcode::DescriptorRegistry registry;
  if (!registry.AddGeneratedFile(demo::v1::SayRequest::descriptor()->file()).ok()) {
    state.SkipWithError("descriptors");
    return;
  }
  bridge::transcode::JsonTranscoder transcoder(&registry, {});
  bench::load::EchoUpstream echo;
  bridge::session::SessionOptions options;
  options.max_messages_per_second = 1e12;
  options.message_burst = 1e12;
  bridge::testing::FakeTransport transport;
  bridge::testing::FakeClock clock;
  bridge::Metrics metrics;
  int ids = 0;
  Session session(options, bridge::protocol::Encoding::kJson, &transport, &clock, &metrics,
                  [&] { return "s-" + std::to_string(++ids); }, {&registry, &transcoder, &echo});
  session.Start();
  session.OnMessage("{\"type\":\"connect\",\"clientId\":\"bench\",\"version\":\"1\"}", false);
  transport.fake_executor->RunAll();
  const std::string prefix = "{\"type\":\"message\",\"messageId\":\"";
  const std::string suffix = "\",\"method\":\"demo.v1.Echo/Say\",\"payload\":{\"text\":\"" +
                             std::string(state.range(0), 'x') + "\"}}";
  uint64_t n = 0;
  std::string frame;
  for (auto _ : state) {
    frame.assign(prefix);
    frame.append(std::to_string(++n));
    frame.append(suffix);
    session.OnMessage(frame, false);
    transport.fake_executor->RunAll();
    if (transport.sent.size() >= 1024) transport.sent.clear();
  }
  if (transport.sent.empty() || transport.sent.back().find("\"response\"") == std::string::npos) {
    state.SkipWithError("no response frame");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SessionUnaryCall)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
