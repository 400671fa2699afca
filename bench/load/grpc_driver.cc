// The direct gRPC driver: demo.v1.Echo/Say through gRPC C++'s callback API, one channel (one
// HTTP/2 connection) per connection of the spec, the same closed or open loop as the WebSocket
// driver. Completions run on gRPC's threads; each channel's bookkeeping has its own mutex.
#include <sys/prctl.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/load/load.h"
#include "grpcpp/grpcpp.h"
#include "proto/demo/v1/echo.grpc.pb.h"

namespace bench::load {
namespace {

struct Channel;

struct Run {
  const LoadSpec* spec = nullptr;
  std::string text;
  std::atomic<bool> sending{false};
  int64_t window_start = 0, window_end = 0;
  std::atomic<int> outstanding{0};
};

struct Channel {
  Run* run = nullptr;
  std::unique_ptr<demo::v1::Echo::Stub> stub;
  std::mutex mu;
  int free_slots = 0;
  std::deque<int64_t> backlog;
  int64_t next_due = 0;
  LoadResult result;  // guarded by mu
};

struct Call {
  Channel* channel;
  int64_t sent;
  grpc::ClientContext context;
  demo::v1::SayRequest request;
  demo::v1::SayResponse response;
};

void Issue(Channel* ch, int64_t scheduled);

void OnDone(Call* call, const grpc::Status& status) {
  Channel* ch = call->channel;
  Run* run = ch->run;
  const int64_t now = NowNs();
  const int64_t sent = call->sent;
  delete call;
  int64_t next = -1;
  {
    std::lock_guard<std::mutex> lock(ch->mu);
    if (now >= run->window_start && now < run->window_end) {
      if (status.ok()) {
        ++ch->result.round_trips;
        ++ch->result.replies;
        ch->result.latency.Record(now - sent);
      } else {
        ++ch->result.errors;
        if (ch->result.first_error.empty()) ch->result.first_error = status.error_message();
      }
    }
    if (run->sending.load(std::memory_order_relaxed)) {
      if (run->spec->rate <= 0) {
        next = now;
      } else if (!ch->backlog.empty()) {
        next = ch->backlog.front();
        ch->backlog.pop_front();
      } else {
        ++ch->free_slots;
      }
    }
  }
  if (next >= 0) Issue(ch, next);
  run->outstanding.fetch_sub(1, std::memory_order_release);
}

void Issue(Channel* ch, int64_t scheduled) {
  ch->run->outstanding.fetch_add(1, std::memory_order_relaxed);
  auto* call = new Call{ch, scheduled, {}, {}, {}};
  call->request.set_text(ch->run->text);
  ch->stub->async()->Say(&call->context, &call->request, &call->response,
                         [call](grpc::Status status) { OnDone(call, status); });
}

void SleepUntil(int64_t t) {
  const int64_t now = NowNs();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

}  // namespace

bool RunGrpcLoad(const LoadSpec& spec, const WindowHook& on_window, LoadResult* result) {
  if (spec.kind != CallKind::kSay) {
    result->first_error = "the gRPC driver runs Say only";
    return false;
  }
  Run run;
  run.spec = &spec;
  run.text.assign(spec.payload, 'x');
  const std::string target = spec.host + ":" + std::to_string(spec.port);
  std::vector<std::unique_ptr<Channel>> channels;
  for (int i = 0; i < spec.connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("bench.load.channel", i);  // distinct arguments: a connection each
    auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
      result->first_error = "cannot connect to " + target;
      result->connect_failures = spec.connections - i;
      return false;
    }
    auto ch = std::make_unique<Channel>();
    ch->run = &run;
    ch->stub = demo::v1::Echo::NewStub(channel);
    ch->free_slots = spec.inflight;
    channels.push_back(std::move(ch));
  }
  const int64_t start = NowNs() + 5000000;
  run.window_start = start + static_cast<int64_t>(spec.warmup_s * 1e9);
  run.window_end = run.window_start + static_cast<int64_t>(spec.duration_s * 1e9);
  run.sending = true;
  SleepUntil(start);
  bool window_open = false;
  auto window = [&](int64_t now) {
    if (!window_open && now >= run.window_start) {
      window_open = true;
      if (on_window) on_window(true);
    }
  };
  timespec cpu0{}, cpu1{};
  if (spec.rate <= 0) {
    for (auto& ch : channels) {
      std::unique_lock<std::mutex> lock(ch->mu);
      const int n = ch->free_slots;
      ch->free_slots = 0;
      lock.unlock();
      for (int k = 0; k < n; ++k) Issue(ch.get(), NowNs());
    }
    SleepUntil(run.window_start);
    window(NowNs());
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
  } else {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    const int64_t interval = static_cast<int64_t>(1e9 * spec.connections / spec.rate);
    for (size_t i = 0; i < channels.size(); ++i) {
      channels[i]->next_due =
          start + interval * static_cast<int64_t>(i) / static_cast<int64_t>(channels.size());
    }
    for (;;) {
      const int64_t now = NowNs();
      if (now >= run.window_end) break;
      if (!window_open && now >= run.window_start) {
        window(now);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
      }
      int64_t next = run.window_end;
      for (auto& ch : channels) {
        while (ch->next_due <= now) {
          const int64_t due = ch->next_due;
          ch->next_due += interval;
          std::unique_lock<std::mutex> lock(ch->mu);
          if (ch->free_slots > 0) {
            --ch->free_slots;
            lock.unlock();
            Issue(ch.get(), due);
          } else {
            ch->backlog.push_back(due);
            ++ch->result.late;
          }
        }
        next = std::min(next, ch->next_due);
      }
      if (!window_open) next = std::min(next, run.window_start);
      SleepUntil(next);
    }
  }
  SleepUntil(run.window_end);
  run.sending = false;
  if (on_window) on_window(false);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
  // Let the calls in flight finish before their channels go.
  const int64_t deadline = NowNs() + 10000000000;
  while (run.outstanding.load(std::memory_order_acquire) > 0 && NowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto& ch : channels) {
    std::lock_guard<std::mutex> lock(ch->mu);
    result->round_trips += ch->result.round_trips;
    result->replies += ch->result.replies;
    result->errors += ch->result.errors;
    result->late += ch->result.late;
    result->latency.Merge(ch->result.latency);
    if (result->first_error.empty()) result->first_error = ch->result.first_error;
  }
  result->seconds = (run.window_end - run.window_start) / 1e9;
  result->client_cpu_s = (cpu1.tv_sec - cpu0.tv_sec) + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
  return true;
}

}  // namespace bench::load
