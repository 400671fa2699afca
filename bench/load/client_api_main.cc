// Which of gRPC C++'s client APIs should carry the bridge's upstream calls? This tool makes
// unary demo.v1.Echo/Say calls the way the bridge does — generic calls of raw bytes started
// from asio io threads, each completion handed back to the io thread that started the call in
// one task — through either API, and reports calls per second, latency and this process's CPU
// per call:
//
//   callback  gRPC's callback API (GenericStub::UnaryCall), as bridge/upstream does today: the
//             completion runs on gRPC's own threads, which post it to the io thread.
//   cq        the completion-queue API (GenericStub::PrepareUnaryCall), the pattern of Envoy's
//             Google gRPC client: each io thread has its own completion queue and one thread
//             that waits on it and posts each completion to that io thread.
//
// Channels as the bridge opens them (bridge/upstream/grpc_upstream.cc): gRPC's retries off,
// each channel its own connection, one channel per io thread. bench/load/run_client_api.py
// runs both side by side against //harness/backend:demo_backend.
#include <sys/prctl.h>

#include <asio.hpp>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "bench/load/clock.h"
#include "bench/load/histogram.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "proto/demo/v1/echo.pb.h"

ABSL_FLAG(std::string, target, "", "host:port of a demo.v1.Echo server");
ABSL_FLAG(std::string, api, "callback", "callback or cq");
ABSL_FLAG(int, io_threads, 2, "io threads, each with its own channel");
ABSL_FLAG(int, inflight, 1, "calls in flight in all, spread over the io threads");
ABSL_FLAG(int, payload, 64, "bytes of request text");
ABSL_FLAG(double, warmup, 0.5, "seconds before the measured window");
ABSL_FLAG(double, duration, 2, "seconds measured");

namespace bench::load {
namespace {

constexpr char kMethod[] = "/demo.v1.Echo/Say";

struct Window {
  std::atomic<int64_t> start{0};
  std::atomic<int64_t> end{0};
  std::atomic<bool> running{true};
};

// One io thread: its io_context, its channel, and the figures of the calls it completes (only
// it touches them).
struct IoThread {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  std::unique_ptr<grpc::CompletionQueue> cq;  // api=cq
  Histogram latency;
  uint64_t calls = 0;
  uint64_t errors = 0;
  std::string first_error;
};

struct Shared {
  Window window;
  grpc::Slice request;  // the serialized SayRequest, shared by every call
  std::atomic<int> outstanding{0};
};

// A call in flight. Made, completed and deleted on its io thread; gRPC fills it in between.
struct UnaryCall {
  IoThread* thread;
  Shared* shared;
  int64_t sent;
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer reply;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;  // api=cq
};

void Start(IoThread* t, Shared* s, bool cq);

// On the call's io thread: count it, start the next.
void Complete(UnaryCall* call, bool cq) {
  IoThread* t = call->thread;
  Shared* s = call->shared;
  const int64_t now = NowNs();
  if (now >= s->window.start.load(std::memory_order_relaxed) &&
      now < s->window.end.load(std::memory_order_relaxed)) {
    if (call->status.ok()) {
      ++t->calls;
      t->latency.Record(now - call->sent);
    } else {
      ++t->errors;
      if (t->first_error.empty()) t->first_error = call->status.error_message();
    }
  }
  delete call;
  if (s->window.running.load(std::memory_order_relaxed)) {
    Start(t, s, cq);
  } else {
    s->outstanding.fetch_sub(1);
  }
}

void Start(IoThread* t, Shared* s, bool cq) {
  auto* call = new UnaryCall{t, s, NowNs()};
  call->request = grpc::ByteBuffer(&s->request, 1);
  if (cq) {
    call->reader = t->stub->PrepareUnaryCall(&call->context, kMethod, call->request, t->cq.get());
    call->reader->StartCall();
    call->reader->Finish(&call->reply, &call->status, call);
    return;
  }
  t->stub->UnaryCall(&call->context, kMethod, grpc::StubOptions(), &call->request, &call->reply,
                     [call](grpc::Status status) {
                       call->status = std::move(status);
                       asio::post(call->thread->io, [call] { Complete(call, false); });
                     });
}

// api=cq: waits on `t`'s queue and hands each completion to its io thread.
void Poll(IoThread* t) {
  prctl(PR_SET_NAME, "cq_poller");
  void* tag;
  bool ok;
  while (t->cq->Next(&tag, &ok)) {
    auto* call = static_cast<UnaryCall*>(tag);
    asio::post(t->io, [call] { Complete(call, true); });
  }
}

int Main() {
  const std::string target = absl::GetFlag(FLAGS_target);
  const std::string api = absl::GetFlag(FLAGS_api);
  const int io_threads = absl::GetFlag(FLAGS_io_threads);
  const int inflight = absl::GetFlag(FLAGS_inflight);
  if (target.empty() || (api != "callback" && api != "cq") || io_threads < 1 || inflight < 1 ||
      absl::GetFlag(FLAGS_payload) < 0) {
    std::fprintf(stderr,
                 "usage: client_api --target=HOST:PORT --api=callback|cq [--io_threads=N] "
                 "[--inflight=K] [--payload=BYTES] [--warmup=S] [--duration=S]\n");
    return 2;
  }
  const bool cq = api == "cq";

  Shared shared;
  demo::v1::SayRequest request;
  request.set_text(std::string(absl::GetFlag(FLAGS_payload), 'x'));
  shared.request = grpc::Slice(request.SerializeAsString());

  std::vector<std::unique_ptr<IoThread>> threads;
  for (int i = 0; i < io_threads; ++i) {
    auto t = std::make_unique<IoThread>();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    t->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    if (!t->channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::fprintf(stderr, "client_api: cannot connect to %s\n", target.c_str());
      return 1;
    }
    t->stub = std::make_unique<grpc::GenericStub>(t->channel);
    if (cq) t->cq = std::make_unique<grpc::CompletionQueue>();
    threads.push_back(std::move(t));
  }

  std::vector<std::thread> workers;
  for (auto& t : threads) {
    workers.emplace_back([io = &t->io] {
      prctl(PR_SET_NAME, "io");
      io->run();
    });
    if (cq) workers.emplace_back(Poll, t.get());
  }

  const int64_t now = NowNs();
  const int64_t warmup = static_cast<int64_t>(absl::GetFlag(FLAGS_warmup) * 1e9);
  const int64_t duration = static_cast<int64_t>(absl::GetFlag(FLAGS_duration) * 1e9);
  shared.window.start = now + warmup;
  shared.window.end = now + warmup + duration;
  shared.outstanding = inflight;
  for (int i = 0; i < inflight; ++i) {
    IoThread* t = threads[i % io_threads].get();
    asio::post(t->io, [t, s = &shared, cq] { Start(t, s, cq); });
  }

  std::this_thread::sleep_until(
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(shared.window.start.load())));
  const double cpu_start = OwnCpuSeconds();
  std::this_thread::sleep_until(
      std::chrono::steady_clock::time_point(std::chrono::nanoseconds(shared.window.end.load())));
  const double cpu = OwnCpuSeconds() - cpu_start;
  shared.window.running = false;

  // Every call ends before the queues and channels go.
  while (shared.outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& t : threads) {
    t->work.reset();
    if (cq) t->cq->Shutdown();
  }
  for (std::thread& w : workers) w.join();

  Histogram latency;
  uint64_t calls = 0, errors = 0;
  std::string first_error;
  for (auto& t : threads) {
    latency.Merge(t->latency);
    calls += t->calls;
    errors += t->errors;
    if (first_error.empty()) first_error = t->first_error;
  }
  const double seconds = static_cast<double>(duration) / 1e9;
  std::printf(
      "{\"api\": \"%s\", \"inflight\": %d, \"payload\": %d, \"io_threads\": %d, \"calls\": %llu, "
      "\"errors\": %llu, \"calls_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
      "\"cpu_us_per_call\": %.2f, \"first_error\": \"%s\"}\n",
      api.c_str(), inflight, absl::GetFlag(FLAGS_payload), io_threads,
      static_cast<unsigned long long>(calls), static_cast<unsigned long long>(errors),
      calls / seconds, latency.Percentile(0.5) / 1e3, latency.Percentile(0.99) / 1e3,
      calls == 0 ? 0.0 : cpu * 1e6 / calls, absl::CHexEscape(first_error).c_str());
  return errors == 0 && calls > 0 ? 0 : 1;
}

}  // namespace
}  // namespace bench::load

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return bench::load::Main();
}
