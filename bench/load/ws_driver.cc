// The WebSocket driver: the load loop over WsClient (ws_client.h: the RFC 6455 client, one
// io_context per thread, connections spread over the threads, sends a read causes coalesced into
// one write), so a busy connection costs a read and a write per batch, not per call. Replies
// are matched by the digits of their messageId (call number x slots + slot), found by a
// substring search: the bridge writes "type" first and "messageId" before the payload.
#include <sys/prctl.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/load/load.h"
#include "bench/load/proc_stats.h"
#include "bench/load/ws_client.h"

namespace bench::load {
namespace {

using asio::ip::tcp;

using Shared = SetupTally;

class Worker;

class Conn : public WsClient {
 public:
  Conn(Worker* worker, int index);
  void Go();  // start the load: open the chat calls; closed loop: fill the slots
  void Pace(int64_t now);
  int64_t next_due() const { return next_due_; }
  void set_next_due(int64_t t) { next_due_ = t; }

 private:
  void OnConfirmed() override;
  void OnText(std::string_view text) override { HandleReply(text); }
  void OnFailed(bool confirmed, const std::string& what) override;
  void HandleReply(std::string_view text);
  void SendCall(int slot, int64_t scheduled);
  void SlotDone(int slot, bool ok);

  Worker* const worker_;
  // Calls: slot i's send time (scheduled, in the open loop), free slots, and waiting sends.
  std::vector<int64_t> slot_sent_;
  std::vector<int> free_;
  std::deque<int64_t> backlog_;
  int64_t next_due_ = 0;
  uint64_t calls_ = 0;
};

class Worker {
 public:
  Worker(const LoadSpec& spec, const WsTarget* target, Shared* shared, bool idle)
      : spec_(spec), target_(target), shared_(shared), idle_(idle), io_(1), pace_(io_), stop_(io_) {
    // The request text: payload bytes of 'x'.
    const std::string text(spec.payload, 'x');
    switch (spec.kind) {
      case CallKind::kSay:
        prefix_ = "{\"type\":\"message\",\"messageId\":\"";
        suffix_ = "\",\"method\":\"demo.v1.Echo/Say\",\"payload\":{\"text\":\"" + text + "\"}}";
        break;
      case CallKind::kRepeat:
        prefix_ = "{\"type\":\"message\",\"messageId\":\"";
        suffix_ = "\",\"method\":\"demo.v1.Echo/Repeat\",\"payload\":{\"text\":\"" + text +
                  "\",\"count\":" + std::to_string(spec.repeat_count) + "}}";
        break;
      case CallKind::kChat:
        prefix_ = "{\"type\":\"stream_send\",\"messageId\":\"";
        suffix_ = "\",\"payload\":{\"user\":\"load\",\"text\":\"" + text + "\"}}";
        break;
    }
  }

  const LoadSpec& spec() const { return spec_; }
  const WsTarget* target() const { return target_; }
  asio::io_context& io() { return io_; }
  bool idle() const { return idle_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& suffix() const { return suffix_; }
  bool sending() const { return sending_; }
  bool open_loop() const { return spec_.rate > 0; }
  int64_t pace_interval() const { return pace_interval_; }

  void Add(std::unique_ptr<Conn> c) { conns_.push_back(std::move(c)); }
  size_t size() const { return conns_.size(); }

  // Idle mode: starts the first `concurrency` handshakes; each confirmed one starts the next.
  void StartIdle(int concurrency, int per_source, int first_index) {
    per_source_ = per_source;
    first_index_ = first_index;
    for (int i = 0; i < concurrency && next_ < conns_.size(); ++i) StartNext();
  }
  void StartNext() {
    if (next_ >= conns_.size()) return;
    const int global = first_index_ + static_cast<int>(next_);
    if (per_source_ <= 0) return conns_[next_++]->Connect(nullptr);
    const asio::ip::address_v4 source(0x7f000002u + static_cast<uint32_t>(global / per_source_));
    conns_[next_++]->Connect(&source);
  }

  void SetupDone(bool ok, const std::string& error) {
    shared_->Done(ok, error);
    if (idle_) StartNext();
  }

  // Load mode: sends from `start`, measures completions in [window_start, window_end), stops
  // at window_end.
  void Go(int64_t start, int64_t window_start, int64_t window_end) {
    window_start_ = window_start;
    window_end_ = window_end;
    sending_ = true;
    // Opens the chat calls, one per slot; in the closed loop, fills the slots too.
    for (auto& c : conns_) c->Go();
    if (open_loop()) {
      pace_interval_ = static_cast<int64_t>(1e9 * spec_.connections / spec_.rate);
      for (size_t i = 0; i < conns_.size(); ++i) {
        conns_[i]->set_next_due(start + pace_interval_ * static_cast<int64_t>(i) /
                                            static_cast<int64_t>(conns_.size()));
      }
      OnPace();
    }
    stop_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(window_end)));
    stop_.async_wait([this](const asio::error_code&) {
      sending_ = false;
      for (auto& c : conns_) c->Close();
      io_.stop();
    });
  }
  void StopIdle() {
    asio::post(io_, [this] {
      for (auto& c : conns_) c->Close();
      io_.stop();
    });
  }

  void OnPace() {
    if (!sending_) return;
    const int64_t now = NowNs();
    int64_t next = INT64_MAX;
    for (auto& c : conns_) {
      c->Pace(now);
      next = std::min(next, c->next_due());
    }
    pace_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)));
    pace_.async_wait([this](const asio::error_code& ec) {
      if (!ec) OnPace();
    });
  }

  void Completed(int64_t sent, bool ok) {
    const int64_t now = NowNs();
    if (now < window_start_ || now >= window_end_) return;
    if (ok) {
      ++result_.round_trips;
      result_.latency.Record(now - sent);
    } else {
      ++result_.errors;
    }
  }
  void Reply() {
    const int64_t now = NowNs();
    if (now >= window_start_ && now < window_end_) ++result_.replies;
  }
  void Late() { ++result_.late; }
  void Error(const std::string& what) {
    const int64_t now = NowNs();
    // From the first send on, warm-up included: an error there (a refused call) can stall the
    // window without an error of its own.
    if (window_end_ != 0 && now < window_end_) ++result_.errors;
    if (result_.first_error.empty()) result_.first_error = what;
  }

  LoadResult& result() { return result_; }

  void Run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    asio::error_code ec;
    io_.run(ec);
  }

 private:
  const LoadSpec& spec_;
  const WsTarget* const target_;
  Shared* const shared_;
  const bool idle_;
  asio::io_context io_;  // before conns_: connections go first
  asio::steady_timer pace_, stop_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string prefix_, suffix_;
  bool sending_ = false;
  int64_t window_start_ = 0, window_end_ = 0;
  int64_t pace_interval_ = 0;
  LoadResult result_;
  int per_source_ = 0;
  int first_index_ = 0;
  size_t next_ = 0;
};

Conn::Conn(Worker* worker, int index)
    : WsClient(worker->io(), worker->target(), index, worker->idle() ? 1024 : 65536, "load-"),
      worker_(worker) {
  const int k = worker->spec().inflight;
  slot_sent_.assign(k, 0);
  for (int i = k - 1; i >= 0; --i) free_.push_back(i);
}

void Conn::OnConfirmed() {
  if (worker_->idle()) ShrinkReadBuffer(256);
  worker_->SetupDone(true, "");
}

void Conn::OnFailed(bool confirmed, const std::string& what) {
  if (!confirmed) {
    worker_->SetupDone(false, what);
  } else if (worker_->sending()) {
    worker_->Error(what);
  }
}

void Conn::Go() {
  if (!ready()) return;
  if (worker_->spec().kind == CallKind::kChat) {
    // One bidi call per slot, its messageId the slot number.
    char buf[20];
    for (size_t slot = 0; slot < slot_sent_.size(); ++slot) {
      Send(kOpText, {"{\"type\":\"message\",\"messageId\":\"", Digits(slot, buf),
                     "\",\"method\":\"demo.v1.Echo/Chat\"}"});
    }
  }
  if (worker_->open_loop()) return;
  Cork();
  while (!free_.empty()) {
    const int slot = free_.back();
    free_.pop_back();
    SendCall(slot, NowNs());
  }
  Uncork();
}

void Conn::Pace(int64_t now) {
  if (!ready()) {
    next_due_ = INT64_MAX;
    return;
  }
  Cork();
  while (next_due_ <= now) {
    if (!free_.empty()) {
      const int slot = free_.back();
      free_.pop_back();
      SendCall(slot, next_due_);
    } else {
      backlog_.push_back(next_due_);
      worker_->Late();
    }
    next_due_ += worker_->pace_interval();
  }
  Uncork();
}

void Conn::SendCall(int slot, int64_t scheduled) {
  slot_sent_[slot] = scheduled;
  char buf[20];
  const uint64_t id = worker_->spec().kind == CallKind::kChat
                          ? static_cast<uint64_t>(slot)
                          : calls_++ * slot_sent_.size() + static_cast<uint64_t>(slot);
  Send(kOpText, {worker_->prefix(), Digits(id, buf), worker_->suffix()});
}

void Conn::SlotDone(int slot, bool ok) {
  worker_->Completed(slot_sent_[slot], ok);
  if (!worker_->sending()) return;
  if (!worker_->open_loop()) return SendCall(slot, NowNs());
  if (!backlog_.empty()) {
    const int64_t scheduled = backlog_.front();
    backlog_.pop_front();
    return SendCall(slot, scheduled);
  }
  free_.push_back(slot);
}

void Conn::HandleReply(std::string_view text) {
  const std::string_view type = FieldAfter(text.substr(0, 40), "\"type\":\"");
  bool ok = false;
  const uint64_t id = ParseU64(FieldAfter(text, "\"messageId\":\""), &ok);
  if (!ok) {
    if (type == "error") worker_->Error("session error: " + std::string(text.substr(0, 300)));
    return;  // pong and the like
  }
  const int slot = static_cast<int>(id % slot_sent_.size());
  const CallKind kind = worker_->spec().kind;
  if (type == "response") {
    worker_->Reply();
    SlotDone(slot, true);
  } else if (type == "stream_message") {
    worker_->Reply();
    if (kind == CallKind::kChat) SlotDone(slot, true);
  } else if (type == "stream_end") {
    const size_t code = text.find("\"code\":");
    const bool clean = code == std::string_view::npos || text.substr(code + 7, 1) == "0";
    if (!clean) worker_->Error("stream_end: " + std::string(text.substr(0, 300)));
    if (kind == CallKind::kRepeat) SlotDone(slot, clean);
  } else if (type == "error") {
    worker_->Error("call error: " + std::string(text.substr(0, 300)));
    if (kind != CallKind::kChat) SlotDone(slot, false);
  }
}

struct Workers {
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  WsTarget target;

  bool Build(const LoadSpec& spec, bool idle, std::string* error) {
    RaiseFdLimit(static_cast<uint64_t>(spec.connections) + 1024);
    asio::error_code ec;
    const auto address = asio::ip::make_address(spec.host, ec);
    if (ec) {
      *error = "bad host " + spec.host;
      return false;
    }
    target.host = spec.host;
    target.port = spec.port;
    target.path = spec.path;
    target.to = tcp::endpoint(address, spec.port);
    const int threads = std::max(1, std::min(spec.threads, spec.connections));
    for (int t = 0; t < threads; ++t) {
      workers.push_back(std::make_unique<Worker>(spec, &target, &shared, idle));
    }
    for (int i = 0; i < spec.connections; ++i) {
      Worker* w = workers[i % threads].get();
      w->Add(std::make_unique<Conn>(w, i));
    }
    shared.pending = spec.connections;
    return true;
  }
  void StartThreads() {
    for (auto& w : workers) threads.emplace_back([wp = w.get()] { wp->Run(); });
  }
  // Waits until every connection is confirmed or failed.
  bool AwaitSetup(double timeout_s) { return shared.Await(timeout_s); }
  void Join() {
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

void SleepUntil(int64_t t) {
  const int64_t now = NowNs();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

}  // namespace

bool RunWebSocketLoad(const LoadSpec& spec, const WindowHook& on_window, LoadResult* result) {
  Workers ws;
  if (!ws.Build(spec, /*idle=*/false, &result->first_error)) return false;
  // Connect all, through each worker's loop.
  for (size_t t = 0; t < ws.workers.size(); ++t) {
    Worker* wp = ws.workers[t].get();
    asio::post(wp->io(), [wp] { wp->StartIdle(1 << 30, 0, 0); });
  }
  ws.StartThreads();
  const bool setup = ws.AwaitSetup(30);
  result->connect_failures = ws.shared.failures;
  if (!setup || ws.shared.failures > 0) {
    result->first_error = setup ? ws.shared.first_error : "connection setup timed out";
    for (auto& w : ws.workers) w->StopIdle();
    ws.Join();
    return false;
  }
  const int64_t start = NowNs() + 5000000;  // 5 ms from now, for every worker alike
  const int64_t window_start = start + static_cast<int64_t>(spec.warmup_s * 1e9);
  const int64_t window_end = window_start + static_cast<int64_t>(spec.duration_s * 1e9);
  for (auto& w : ws.workers) {
    Worker* wp = w.get();
    asio::post(wp->io(), [wp, start, window_start, window_end] {
      SleepUntil(start);
      wp->Go(start, window_start, window_end);
    });
  }
  SleepUntil(window_start);
  const double cpu0 = OwnCpuSeconds();
  if (on_window) on_window(true);
  SleepUntil(window_end);
  if (on_window) on_window(false);
  const double cpu1 = OwnCpuSeconds();
  ws.Join();
  for (auto& w : ws.workers) {
    const LoadResult& r = w->result();
    result->round_trips += r.round_trips;
    result->replies += r.replies;
    result->errors += r.errors;
    result->late += r.late;
    result->latency.Merge(r.latency);
    if (result->first_error.empty()) result->first_error = r.first_error;
  }
  result->seconds = (window_end - window_start) / 1e9;
  result->client_cpu_s = cpu1 - cpu0;
  return true;
}

bool RunIdleConnections(const LoadSpec& spec, int setup_concurrency, int per_source, double hold_s,
                        int bridge_pid, IdleResult* result) {
  Workers ws;
  if (!ws.Build(spec, /*idle=*/true, &result->first_error)) return false;
  result->rss_before = ProcessRssBytes(bridge_pid);
  ws.shared.first_start = NowNs();
  // Worker t owns connections t, t + threads, ...: give each its own source-address block by
  // numbering its connections contiguously.
  const int threads = static_cast<int>(ws.workers.size());
  int first = 0;
  for (int t = 0; t < threads; ++t) {
    Worker* wp = ws.workers[t].get();
    const int concurrency = std::max(1, setup_concurrency);
    asio::post(wp->io(), [wp, concurrency, per_source, first] {
      wp->StartIdle(concurrency, per_source, first);
    });
    first += static_cast<int>(wp->size());
  }
  ws.StartThreads();
  ws.AwaitSetup(600);
  result->failures = ws.shared.failures;
  result->established = spec.connections - ws.shared.failures;
  result->setup_seconds = (ws.shared.last_ready - ws.shared.first_start) / 1e9;
  result->first_error = ws.shared.first_error;
  // Let the bridge settle (allocator caches, the last frames), then sample its memory.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  result->rss_after = ProcessRssBytes(bridge_pid);
  if (hold_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold_s));
  for (auto& w : ws.workers) w->StopIdle();
  ws.Join();
  return true;
}

}  // namespace bench::load