// What resume costs: the time from a dropped connection to a resumed session on loopback, and
// the memory a session's resume buffer holds at its default limits.
//
//   bazel run --config=bench //bench/resume:resume_benchmark
//
// Figures and conditions: bench/resume/README.md.
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "bridge/app/bridge_app.h"
#include "bridge/config/config.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "harness/backend/backend_server.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/mocks/session_mocks.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::WsTestClient;

// Drop the TCP connection, connect again, ask to resume, wait for connect_confirm.
void BM_ReconnectToResumed(benchmark::State& state) {
  auto backend = harness::backend::StartBackend("127.0.0.1:0");
  auto config = config::ParseConfigText(
      absl::StrCat("listen: \"127.0.0.1:0\" io_threads: 2 routes { service: \"demo.v1.Echo\" "
                   "target: \"",
                   backend->target(), "\" }"),
      "bench");
  config::ApplyDefaults(&*config);
  auto registry = std::make_unique<transcode::DescriptorRegistry>();
  (void)registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
  auto app = app::BridgeApp::Create(*config, std::move(registry));
  (void)(*app)->Start();
  const uint16_t port = (*app)->server().port();

  auto client = WsTestClient::Connect(port);
  (void)(*client)->SendText(R"({"type":"connect","clientId":"b"})");
  v1::Frame frame;
  (void)protocol::DecodeJsonFrame(*(*client)->ReceiveText(), &frame);
  const std::string conversation = frame.connect_confirm().conversation_id();
  uint64_t last_seq = frame.seq();

  std::vector<double> micros;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    client->reset();
    client = WsTestClient::Connect(port);
    (void)(*client)->SendText(absl::StrCat(R"({"type":"connect","clientId":"b","resume":{)",
                                           R"("conversationId":")", conversation, R"(","lastSeq":)",
                                           last_seq, "}}"));
    (void)protocol::DecodeJsonFrame(*(*client)->ReceiveText(), &frame);
    if (!frame.connect_confirm().resumed()) {
      state.SkipWithError("not resumed");
      break;
    }
    last_seq = frame.seq();
    const double us = absl::ToDoubleMicroseconds(absl::Now() - start);
    micros.push_back(us);
    state.SetIterationTime(us / 1e6);
  }
  std::sort(micros.begin(), micros.end());
  if (!micros.empty()) {
    state.counters["p50_us"] = micros[micros.size() / 2];
    state.counters["p99_us"] = micros[micros.size() * 99 / 100];
  }
  client->reset();
  (*app)->Shutdown();
  (*app)->Wait();
  app->reset();
  backend->server->Shutdown();
}
BENCHMARK(BM_ReconnectToResumed)->UseManualTime()->Iterations(2000)->Unit(benchmark::kMicrosecond);

// A connection that sends nowhere, so the heap counted is the session's own.
class NullTransport final : public session::Transport {
 public:
  void Send(std::string, protocol::Encoding) override {}
  void Close(int, std::string_view) override {}
  void ArmTimer(session::SessionTimer, absl::Duration) override {}
  void CancelTimer(session::SessionTimer) override {}
  std::shared_ptr<session::Executor> executor() override { return nullptr; }
  size_t buffered_bytes() override { return 0; }
  void MeasureBuffered(std::function<void(size_t, size_t)> done) override { done(0, 0); }
  void WhenBelow(size_t, std::function<void()> room) override { room(); }
  void Release() override {}
};

// Heap held by one session's resume buffer once full, at the default limits (1024 frames,
// 1 MiB, 60 s), for frames of state.range(0) bytes of payload text.
void BM_ResumeBufferMemory(benchmark::State& state) {
  const size_t payload = static_cast<size_t>(state.range(0));
  session::SessionOptions options;  // the defaults of BridgeConfig
  testing::FakeClock clock;
  Metrics metrics;
  for (auto _ : state) {
    state.PauseTiming();
    NullTransport transport;
    auto s = std::make_unique<session::Session>(options, protocol::Encoding::kJson, &transport,
                                                &clock, &metrics, [] { return "s-1"; });
    s->Start();
    s->OnMessage(R"({"type":"connect","clientId":"m"})", false);
    // Each answers with an error frame that quotes the method: `payload` bytes more per frame.
    const std::string call = absl::StrCat(R"({"type":"message","messageId":"m","method":"x.Y/)",
                                          std::string(payload, 'x'), R"("})");
    const size_t before = mallinfo2().uordblks;
    state.ResumeTiming();
    for (int i = 0; i < 4096; ++i) s->OnMessage(call, false);  // error frames, held
    state.PauseTiming();
    const size_t after = mallinfo2().uordblks;
    state.counters["held_frames"] = static_cast<double>(s->resume_buffer_frames());
    state.counters["held_payload_bytes"] = static_cast<double>(s->resume_buffer_bytes());
    state.counters["heap_bytes"] = static_cast<double>(after > before ? after - before : 0);
    state.counters["heap_per_frame"] =
        static_cast<double>(after > before ? after - before : 0) /
        std::max<double>(1, static_cast<double>(s->resume_buffer_frames()));
    s.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ResumeBufferMemory)->Arg(0)->Arg(100)->Arg(1000)->Arg(4000)->Iterations(3);

}  // namespace
}  // namespace bridge

BENCHMARK_MAIN();
