// fanout: one publish to N subscribers. Opens N bridge sessions (WsClient: upgrade, connect,
// connect_confirm), each subscribes to one channel, then a publisher calls
// bridge.v1.BridgeControl/Publish - at a fixed rate, or in bursts - with its send time in the
// data, and every subscriber records publish-to-receive latency. Reports deliveries/s, latency
// percentiles over every delivery and over each publish's last delivery (the whole fan-out),
// missing, duplicate and out-of-order offsets, the bridges' CPU per delivery (/proc/<pid>/stat)
// and the bytes subscribers read per delivery (WebSocket frames with their headers).
//
//   fanout --targets=ws://127.0.0.1:8080/ws --control=127.0.0.1:9090 --pids=<bridge pid>
//          --subscribers=1000 --rate=100 --duration=2 [--json]
//   fanout ... --burst=20 --rounds=5     # 20 publishes at once, 5 times, each fully delivered
//   fanout --targets=ws://A/ws,ws://B/ws --control=<A's control> --pids=<A>,<B> ...
//
// Subscribers are spread over the targets in turn and over --channels (subscriber i on channel
// i % channels; the publisher takes the channels in turn). They connect from 127.0.0.2, .3, ...
// (--per_source each), so counts above the ~28k ephemeral ports work.
//
// A run: every subscriber confirmed and subscribed; then --warmup seconds of publishes (burst
// mode: one round) whose deliveries are checked but not timed; then the measured publishes.
// The window runs from the first measured publish to the moment every publish so far has
// reached every subscriber (or --drain seconds after the last publish). Deliveries/s, CPU and
// bytes are taken over that window; the latency percentiles over the measured publishes.
// Missing offsets are those a Publish answered with that a live subscriber of the channel never
// got; a subscriber that lost its connection is counted as broken instead.
#include <signal.h>
#include <sys/prctl.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/load/clock.h"
#include "bench/load/histogram.h"
#include "bench/load/proc_stats.h"
#include "bench/load/ws_client.h"
#include "grpcpp/grpcpp.h"
#include "proto/bridge/v1/control.grpc.pb.h"

ABSL_FLAG(std::string, targets, "", "ws://HOST:PORT/PATH of each bridge, comma-separated.");
ABSL_FLAG(std::string, control, "", "HOST:PORT of the BridgeControl service to publish through.");
ABSL_FLAG(std::string, pids, "", "The bridges' pids, comma-separated, for CPU figures.");
ABSL_FLAG(int, subscribers, 100, "Subscriber sessions in all.");
ABSL_FLAG(int, channels, 1, "Channels the subscribers are spread over.");
ABSL_FLAG(std::string, channel_prefix, "fanout", "Channel names: <prefix>0, <prefix>1, ...");
ABSL_FLAG(double, rate, 100, "Fixed-rate mode: publishes per second.");
ABSL_FLAG(int, burst, 0, "Burst mode (> 0): publishes sent at once per round.");
ABSL_FLAG(int, rounds, 5, "Burst mode: measured rounds, each waiting for full delivery.");
ABSL_FLAG(int, publish_inflight, 256, "Publish calls in flight at most.");
ABSL_FLAG(int, payload, 64, "Bytes of padding in each publication's data.");
ABSL_FLAG(double, warmup, 0.5, "Fixed-rate mode: seconds of unmeasured publishes first.");
ABSL_FLAG(double, duration, 2, "Fixed-rate mode: seconds of measured publishes.");
ABSL_FLAG(double, drain, 5, "Seconds to wait for the last deliveries after the last publish.");
ABSL_FLAG(int, threads, 1, "Subscriber io threads.");
ABSL_FLAG(int, setup_concurrency, 256, "Handshakes in progress at once per thread.");
ABSL_FLAG(int, per_source, 5000,
          "Subscribers per source address (127.0.0.2, .3, ...); 0: the default one.");
ABSL_FLAG(bool, deflate, false, "Offer permessage-deflate; compressed publications are inflated.");
ABSL_FLAG(bool, json, false, "Print one JSON object.");

namespace bench::load {
namespace {

using asio::ip::tcp;

using Setup = SetupTally;

// Each publish's last delivery: the time its fan-out completed.
struct LastDelivery {
  explicit LastDelivery(size_t publishes) : at(publishes) {
    for (auto& a : at) a.store(0, std::memory_order_relaxed);
  }
  void Saw(uint64_t index, int64_t now) {
    if (index >= at.size()) return;
    int64_t was = at[index].load(std::memory_order_relaxed);
    while (was < now && !at[index].compare_exchange_weak(was, now, std::memory_order_relaxed)) {
    }
  }
  std::vector<std::atomic<int64_t>> at;
};

class Worker;

class Subscriber : public WsClient {
 public:
  Subscriber(Worker* worker, const WsTarget* target, int index, int channel);

  int channel() const { return channel_; }
  bool subscribed() const { return subscribed_; }
  bool broken() const { return broken_; }
  uint64_t base_offset() const { return base_offset_; }
  // Whether offset `o` came (after the subscription's base).
  bool Seen(uint64_t o) const {
    return o > base_offset_ && o - base_offset_ - 1 < seen_.size() && seen_[o - base_offset_ - 1];
  }
  uint64_t Received() const { return received_; }
  const std::vector<uint8_t>& seen() const { return seen_; }

 private:
  void OnConfirmed() override;
  void OnText(std::string_view text) override;
  void OnFailed(bool confirmed, const std::string& what) override;
  void OnBytesRead(size_t n) override;
  void Publication(std::string_view p, int64_t now);

  Worker* const worker_;
  const int channel_;
  bool subscribed_ = false;
  bool broken_ = false;
  uint64_t base_offset_ = 0;
  std::string epoch_;
  std::vector<uint8_t> seen_;  // seen_[k]: offset base + 1 + k came
  uint64_t max_offset_ = 0;
  uint64_t received_ = 0;
};

struct Counts {
  uint64_t duplicates = 0;
  uint64_t out_of_order = 0;
  uint64_t epoch_mismatches = 0;
  uint64_t unparsed = 0;  // publications without offset or timestamp
  uint64_t errors = 0;    // error frames
  uint64_t broken = 0;    // connections lost after confirmation
  uint64_t deflated = 0;  // sessions with permessage-deflate
  std::string first_error;
};

class Worker {
 public:
  Worker(Setup* setup, LastDelivery* last, const std::string& channel_prefix)
      : setup_(setup), last_(last), channel_prefix_(channel_prefix), io_(1) {}

  asio::io_context& io() { return io_; }
  Setup* setup() { return setup_; }
  const std::string& channel_prefix() const { return channel_prefix_; }
  void Add(std::unique_ptr<Subscriber> s, int global_index) {
    subs_.push_back(std::move(s));
    indexes_.push_back(global_index);
  }
  const std::vector<std::unique_ptr<Subscriber>>& subs() const { return subs_; }

  // Starts `concurrency` handshakes; each subscription done (or failed) starts the next.
  void Start(int concurrency, int per_source) {
    per_source_ = per_source;
    for (int i = 0; i < concurrency && next_ < subs_.size(); ++i) StartNext();
  }
  void StartNext() {
    if (next_ >= subs_.size()) return;
    const size_t i = next_++;
    if (per_source_ <= 0) return subs_[i]->Connect(nullptr);
    const asio::ip::address_v4 source(0x7f000002u +
                                      static_cast<uint32_t>(indexes_[i] / per_source_));
    subs_[i]->Connect(&source);
  }
  void SetupDone(bool ok, const std::string& error) {
    setup_->Done(ok, error);
    StartNext();
  }

  void Delivered(uint64_t index, bool measured, int64_t sent, int64_t now) {
    deliveries_.fetch_add(1, std::memory_order_relaxed);
    last_->Saw(index, now);
    if (measured) latency_.Record(now - sent);
  }
  void BytesRead(size_t n) { bytes_.fetch_add(n, std::memory_order_relaxed); }
  void Error(const std::string& what) {
    ++counts_.errors;
    if (counts_.first_error.empty()) counts_.first_error = what;
  }
  Counts& counts() { return counts_; }
  const Histogram& latency() const { return latency_; }
  uint64_t deliveries() const { return deliveries_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  void Stop() {
    asio::post(io_, [this] {
      stopping_ = true;
      for (auto& s : subs_) s->Close();
      io_.stop();
    });
  }
  bool stopping() const { return stopping_; }
  void Run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    asio::error_code ec;
    io_.run(ec);
  }

 private:
  Setup* const setup_;
  LastDelivery* const last_;
  const std::string channel_prefix_;
  asio::io_context io_;  // before subs_: subscribers go first
  std::vector<std::unique_ptr<Subscriber>> subs_;
  std::vector<int> indexes_;
  size_t next_ = 0;
  int per_source_ = 0;
  bool stopping_ = false;
  std::atomic<uint64_t> deliveries_{0};
  std::atomic<uint64_t> bytes_{0};
  Histogram latency_;
  Counts counts_;
};

Subscriber::Subscriber(Worker* worker, const WsTarget* target, int index, int channel)
    : WsClient(worker->io(), target, index, 16384, "fanout-"), worker_(worker), channel_(channel) {}

void Subscriber::OnConfirmed() {
  if (deflate()) ++worker_->counts().deflated;
  char buf[20];
  Send(kOpText, {"{\"type\":\"subscribe\",\"channel\":\"", worker_->channel_prefix(),
                 Digits(channel_, buf), "\"}"});
}

void Subscriber::OnFailed(bool confirmed, const std::string& what) {
  if (!subscribed_) return worker_->SetupDone(false, what);
  if (worker_->stopping()) return;
  broken_ = true;
  ++worker_->counts().broken;
  worker_->Error(what);
}

void Subscriber::OnBytesRead(size_t n) {
  if (subscribed_) worker_->BytesRead(n);
}

// The number after `key` (quoted or not); *ok false when there is none.
uint64_t NumberAfter(std::string_view text, std::string_view key, bool* ok) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) {
    *ok = false;
    return 0;
  }
  std::string_view rest = text.substr(at + key.size());
  if (!rest.empty() && rest[0] == '"') rest.remove_prefix(1);
  return ParseU64(LeadingDigits(rest), ok);
}

void Subscriber::OnText(std::string_view text) {
  const std::string_view type = FieldAfter(text.substr(0, 40), "\"type\":\"");
  if (type == "publication" || type == "batch") {
    // A batch holds whole frames, each starting with its type: split at each publication.
    constexpr std::string_view kPub = "\"type\":\"publication\"";
    const int64_t now = NowNs();
    size_t at = text.find(kPub);
    while (at != std::string_view::npos) {
      const size_t next = text.find(kPub, at + kPub.size());
      Publication(text.substr(at, next == std::string_view::npos ? next : next - at), now);
      at = next;
    }
    return;
  }
  if (type == "subscribed") {
    bool ok = false;
    base_offset_ = NumberAfter(text, "\"offset\":", &ok);
    epoch_ = std::string(FieldAfter(text, "\"epoch\":\""));
    subscribed_ = true;
    worker_->SetupDone(true, "");
    return;
  }
  if (type == "error") {
    const std::string what = "error frame: " + std::string(text.substr(0, 300));
    if (!subscribed_) return Fail(what);
    worker_->Error(what);
  }
}

void Subscriber::Publication(std::string_view p, int64_t now) {
  bool ok_offset = false, ok_index = false, ok_time = false;
  const uint64_t offset = NumberAfter(p, "\"offset\":", &ok_offset);
  const uint64_t index = NumberAfter(p, "{\"i\":", &ok_index);
  const uint64_t sent = NumberAfter(p, ",\"t\":", &ok_time);
  if (!ok_offset || !ok_index || !ok_time) {
    ++worker_->counts().unparsed;
    return;
  }
  ++received_;
  const bool measured = p.find(",\"m\":1") != std::string_view::npos;
  worker_->Delivered(index, measured, static_cast<int64_t>(sent), now);
  if (FieldAfter(p, "\"epoch\":\"") != epoch_) ++worker_->counts().epoch_mismatches;
  if (offset <= base_offset_) {
    ++worker_->counts().out_of_order;  // from before the subscription: should not come
    return;
  }
  if (offset < max_offset_) ++worker_->counts().out_of_order;
  max_offset_ = std::max(max_offset_, offset);
  const uint64_t k = offset - base_offset_ - 1;
  if (k >= seen_.size()) seen_.resize(std::max<size_t>(k + 1, seen_.size() * 2), 0);
  if (seen_[k]) ++worker_->counts().duplicates;
  seen_[k] = 1;
}

// The publisher: async Publish calls from the caller's thread, completions on gRPC's.
class Publisher {
 public:
  Publisher(std::shared_ptr<grpc::Channel> channel, int channels, std::string prefix, int payload,
            int max_inflight, uint64_t publishes)
      : sent_at_(publishes, 0),
        stub_(bridge::v1::BridgeControl::NewStub(std::move(channel))),
        prefix_(std::move(prefix)),
        padding_(payload, 'x'),
        max_inflight_(max_inflight),
        offsets_(channels) {}

  // Publish number `index` (channel index % channels); waits while max_inflight are out.
  // Returns whether it had to wait.
  bool Publish(uint64_t index, bool measured) {
    bool waited = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (inflight_ >= max_inflight_) {
        waited = true;
        cv_.wait(lock, [&] { return inflight_ < max_inflight_; });
      }
      ++inflight_;
      ++issued_;
    }
    auto* call = new Call;
    const int channel = static_cast<int>(index % offsets_.size());
    call->channel = channel;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    call->request.set_channel(prefix_ + std::to_string(channel));
    call->sent = NowNs();
    if (index < sent_at_.size()) sent_at_[index] = call->sent;
    call->measured = measured;
    call->request.set_data("{\"i\":" + std::to_string(index) +
                           ",\"t\":" + std::to_string(call->sent) +
                           ",\"m\":" + (measured ? "1" : "0") + ",\"p\":\"" + padding_ + "\"}");
    stub_->async()->Publish(&call->context, &call->request, &call->response,
                            [this, call](grpc::Status status) { Done(call, status); });
    return waited;
  }

  // Waits until no call is out; false on timeout.
  bool AwaitAll(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                        [&] { return inflight_ == 0; });
  }

  // The send time of publish `index` (0: not sent). The publishing thread only.
  int64_t sent_at(uint64_t index) const { return index < sent_at_.size() ? sent_at_[index] : 0; }

  // After AwaitAll: publishes answered, per channel, and counts.
  const std::vector<std::vector<uint64_t>>& offsets() const { return offsets_; }
  uint64_t ok() const { return ok_; }
  uint64_t ok_measured() const { return ok_measured_; }
  uint64_t errors() const { return errors_; }
  const std::string& first_error() const { return first_error_; }
  const std::string& epoch() const { return epoch_; }
  bool epoch_changed() const { return epoch_changed_; }
  const Histogram& rpc_latency() const { return rpc_latency_; }
  // Deliveries the publishes answered so far should make, given subscribers per channel.
  uint64_t ExpectedDeliveries(const std::vector<uint64_t>& subs_per_channel) {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = 0;
    for (size_t c = 0; c < offsets_.size(); ++c) n += offsets_[c].size() * subs_per_channel[c];
    return n;
  }

 private:
  struct Call {
    int channel = 0;
    int64_t sent = 0;
    bool measured = false;
    grpc::ClientContext context;
    bridge::v1::PublishRequest request;
    bridge::v1::PublishResponse response;
  };

  void Done(Call* call, const grpc::Status& status) {
    const int64_t now = NowNs();
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      ++ok_;
      if (call->measured) ++ok_measured_;
      offsets_[call->channel].push_back(call->response.offset());
      if (epoch_.empty()) epoch_ = call->response.epoch();
      if (call->response.epoch() != epoch_ && offsets_.size() == 1) epoch_changed_ = true;
      rpc_latency_.Record(now - call->sent);
    } else {
      ++errors_;
      if (first_error_.empty()) {
        first_error_ =
            "Publish: " + std::to_string(status.error_code()) + " " + status.error_message();
      }
    }
    delete call;
    --inflight_;
    cv_.notify_all();
  }

  std::vector<int64_t> sent_at_;  // the publishing thread's
  std::unique_ptr<bridge::v1::BridgeControl::Stub> stub_;
  const std::string prefix_;
  const std::string padding_;
  const int max_inflight_;
  std::mutex mu_;
  std::condition_variable cv_;
  int inflight_ = 0;
  uint64_t issued_ = 0;
  uint64_t ok_ = 0, ok_measured_ = 0, errors_ = 0;
  std::string first_error_;
  std::string epoch_;
  bool epoch_changed_ = false;
  std::vector<std::vector<uint64_t>> offsets_;  // per channel, in answer order
  Histogram rpc_latency_;
};

bool ParseWsUrl(const std::string& url, WsTarget* t, std::string* error) {
  if (url.rfind("ws://", 0) != 0) {
    *error = "a target must be ws://HOST:PORT/PATH: " + url;
    return false;
  }
  std::string rest = url.substr(5);
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    t->path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(rest.substr(colon + 1), &port)) {
    *error = "no port in " + url;
    return false;
  }
  t->host = rest.substr(0, colon);
  t->port = static_cast<uint16_t>(port);
  asio::error_code ec;
  const auto address = asio::ip::make_address(t->host, ec);
  if (ec) {
    *error = "bad host " + t->host;
    return false;
  }
  t->to = tcp::endpoint(address, t->port);
  return true;
}

void SleepUntil(int64_t t) {
  const int64_t now = NowNs();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

double SumCpu(const std::vector<int>& pids, std::vector<double>* each) {
  double sum = 0;
  each->clear();
  for (int pid : pids) {
    const double c = ProcessCpuSeconds(pid);
    each->push_back(c);
    if (c < 0) return -1;
    sum += c;
  }
  return pids.empty() ? -1 : sum;
}

double Us(uint64_t ns) { return ns / 1000.0; }

int Main() {
  std::vector<WsTarget> targets;
  std::string error;
  for (absl::string_view url :
       absl::StrSplit(absl::GetFlag(FLAGS_targets), ',', absl::SkipEmpty())) {
    WsTarget t;
    t.offer_deflate = absl::GetFlag(FLAGS_deflate);
    if (!ParseWsUrl(std::string(url), &t, &error)) {
      std::fprintf(stderr, "fanout: %s\n", error.c_str());
      return 2;
    }
    targets.push_back(t);
  }
  std::vector<int> pids;
  for (absl::string_view p : absl::StrSplit(absl::GetFlag(FLAGS_pids), ',', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(p, &pid)) {
      std::fprintf(stderr, "fanout: bad pid %s\n", std::string(p).c_str());
      return 2;
    }
    pids.push_back(pid);
  }
  const std::string control = absl::GetFlag(FLAGS_control);
  if (targets.empty() || control.empty()) {
    std::fprintf(stderr, "fanout: --targets and --control are required\n");
    return 2;
  }
  const int n = absl::GetFlag(FLAGS_subscribers);
  const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
  const double rate = absl::GetFlag(FLAGS_rate);
  const int burst = absl::GetFlag(FLAGS_burst);
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  const double warmup = absl::GetFlag(FLAGS_warmup);
  const double duration = absl::GetFlag(FLAGS_duration);
  const std::string prefix = absl::GetFlag(FLAGS_channel_prefix);
  if (burst <= 0 && rate <= 0) {
    std::fprintf(stderr, "fanout: --rate or --burst must be > 0\n");
    return 2;
  }
  // Publish numbers: warm-up first, then measured.
  const uint64_t warm_publishes =
      burst > 0 ? static_cast<uint64_t>(burst) : static_cast<uint64_t>(warmup * rate + 0.5);
  const uint64_t measured_publishes =
      burst > 0 ? static_cast<uint64_t>(burst) * rounds
                : std::max<uint64_t>(1, static_cast<uint64_t>(duration * rate + 0.5));
  const uint64_t total_publishes = warm_publishes + measured_publishes;

  RaiseFdLimit(static_cast<uint64_t>(n) + 1024);
  Setup setup;
  setup.pending = n;
  LastDelivery last(total_publishes);
  std::vector<std::unique_ptr<Worker>> workers;
  const int threads = std::max(1, std::min(absl::GetFlag(FLAGS_threads), n));
  for (int t = 0; t < threads; ++t) {
    workers.push_back(std::make_unique<Worker>(&setup, &last, prefix));
  }
  std::vector<uint64_t> subs_per_channel(channels, 0);
  for (int i = 0; i < n; ++i) {
    Worker* w = workers[i % threads].get();
    const int channel = i % channels;
    ++subs_per_channel[channel];
    w->Add(std::make_unique<Subscriber>(w, &targets[i % targets.size()], i, channel), i);
  }

  auto grpc_channel = grpc::CreateChannel(control, grpc::InsecureChannelCredentials());
  if (!grpc_channel->WaitForConnected(std::chrono::system_clock::now() +
                                      std::chrono::seconds(10))) {
    std::fprintf(stderr, "fanout: BridgeControl at %s does not answer\n", control.c_str());
    return 1;
  }
  Publisher publisher(grpc_channel, channels, prefix, absl::GetFlag(FLAGS_payload),
                      std::max(1, absl::GetFlag(FLAGS_publish_inflight)), total_publishes);

  // Subscribe everyone.
  const int64_t setup_start = NowNs();
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_setup_concurrency));
  const int per_source = absl::GetFlag(FLAGS_per_source);
  for (auto& w : workers) {
    Worker* wp = w.get();
    asio::post(wp->io(), [wp, concurrency, per_source] { wp->Start(concurrency, per_source); });
  }
  std::vector<std::thread> io_threads;
  for (auto& w : workers) io_threads.emplace_back([wp = w.get()] { wp->Run(); });
  bool setup_ok;
  {
    std::unique_lock<std::mutex> lock(setup.mu);
    setup_ok =
        setup.cv.wait_for(lock, std::chrono::seconds(300), [&] { return setup.pending == 0; });
    setup_ok = setup_ok && setup.failures == 0;
  }
  const double setup_s = (setup.last_ready - setup_start) / 1e9;

  auto deliveries = [&] {
    uint64_t d = 0;
    for (auto& w : workers) d += w->deliveries();
    return d;
  };
  auto bytes = [&] {
    uint64_t b = 0;
    for (auto& w : workers) b += w->bytes();
    return b;
  };
  // Waits until every publish answered so far has reached every subscriber, or `until`.
  auto await_delivery = [&](int64_t until) {
    const uint64_t expected = publisher.ExpectedDeliveries(subs_per_channel);
    while (deliveries() < expected && NowNs() < until) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return deliveries() >= expected;
  };

  int64_t w0 = 0, w1 = 0;
  double cpu0 = -1, cpu1 = -1, own0 = 0, own1 = 0;
  uint64_t d0 = 0, d1 = 0, b0 = 0, b1 = 0;
  std::vector<double> cpu_each0, cpu_each1;
  uint64_t late = 0;
  bool all_delivered = false;
  const double drain = absl::GetFlag(FLAGS_drain);
  auto window_start = [&] {
    cpu0 = SumCpu(pids, &cpu_each0);
    own0 = OwnCpuSeconds();
    d0 = deliveries();
    b0 = bytes();
    w0 = NowNs();
  };
  if (setup_ok) {
    if (burst > 0) {
      uint64_t index = 0;
      for (int round = 0; round <= rounds; ++round) {  // round 0: the warm-up
        if (round == 1) window_start();
        for (int k = 0; k < burst; ++k) late += publisher.Publish(index++, round > 0);
        publisher.AwaitAll(30);
        all_delivered = await_delivery(NowNs() + static_cast<int64_t>(drain * 1e9));
        if (!all_delivered) break;
      }
    } else {
      const int64_t start = NowNs() + 1000000;
      const double interval = 1e9 / rate;
      for (uint64_t i = 0; i < total_publishes; ++i) {
        SleepUntil(start + static_cast<int64_t>(i * interval));
        if (i == warm_publishes) window_start();
        late += publisher.Publish(i, i >= warm_publishes);
      }
      publisher.AwaitAll(30);
      all_delivered = await_delivery(NowNs() + static_cast<int64_t>(drain * 1e9));
    }
    w1 = NowNs();
    cpu1 = SumCpu(pids, &cpu_each1);
    own1 = OwnCpuSeconds();
    d1 = deliveries();
    b1 = bytes();
    // A little longer, for duplicates and stragglers to show.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& w : workers) w->Stop();
  for (auto& t : io_threads) t.join();

  // Missing: offsets a Publish answered with that a live subscriber of the channel lacks.
  Counts counts;
  Histogram latency;
  uint64_t missing = 0, unexpected = 0, received = 0;
  for (auto& w : workers) {
    const Counts& c = w->counts();
    counts.duplicates += c.duplicates;
    counts.out_of_order += c.out_of_order;
    counts.epoch_mismatches += c.epoch_mismatches;
    counts.unparsed += c.unparsed;
    counts.errors += c.errors;
    counts.broken += c.broken;
    counts.deflated += c.deflated;
    if (counts.first_error.empty()) counts.first_error = c.first_error;
    latency.Merge(w->latency());
    for (const auto& s : w->subs()) {
      if (!s->subscribed() || s->broken()) continue;
      received += s->Received();
      const std::vector<uint64_t>& want = publisher.offsets()[s->channel()];
      uint64_t found = 0;
      for (uint64_t o : want) {
        if (s->Seen(o)) {
          ++found;
        } else {
          ++missing;
        }
      }
      uint64_t seen = 0;
      for (uint8_t b : s->seen()) seen += b;
      unexpected += seen - found;
    }
  }
  // The whole fan-out of each measured publish: its last delivery minus its send time.
  Histogram complete;
  for (uint64_t i = warm_publishes; i < total_publishes; ++i) {
    const int64_t at = last.at[i].load(std::memory_order_relaxed);
    const int64_t sent = publisher.sent_at(i);
    if (at > 0 && sent > 0) complete.Record(at - sent);
  }

  const double window_s = w1 > w0 ? (w1 - w0) / 1e9 : 0;
  const uint64_t window_deliveries = d1 - d0;
  const double per_s = window_s > 0 ? window_deliveries / window_s : 0;
  const double bridge_cpu = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
  const double cpu_per_delivery =
      bridge_cpu >= 0 && window_deliveries > 0 ? bridge_cpu * 1e6 / window_deliveries : -1;
  const double bytes_per_delivery =
      window_deliveries > 0 ? static_cast<double>(b1 - b0) / window_deliveries : -1;
  const bool ok = setup_ok && all_delivered && missing == 0 && counts.duplicates == 0 &&
                  counts.broken == 0 && publisher.errors() == 0 && counts.errors == 0 &&
                  counts.unparsed == 0 && counts.epoch_mismatches == 0 && unexpected == 0;
  std::string first_error = setup_ok ? counts.first_error : setup.first_error;
  if (first_error.empty()) first_error = publisher.first_error();
  if (first_error.empty() && setup_ok && !all_delivered) first_error = "deliveries incomplete";
  std::string cpu_each;
  for (size_t i = 0; i < cpu_each0.size() && i < cpu_each1.size(); ++i) {
    if (i > 0) cpu_each += ",";
    cpu_each += std::to_string(cpu_each1[i] - cpu_each0[i]);
  }
  const Histogram& rpc = publisher.rpc_latency();
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"mode\":\"%s\",\"subscribers\":%d,\"targets\":%zu,\"channels\":%d,\"rate\":%.1f,"
        "\"burst\":%d,\"rounds\":%d,\"payload\":%d,\"threads\":%d,\"setup_s\":%.3f,"
        "\"publishes\":%llu,\"publishes_ok\":%llu,\"publishes_measured\":%llu,"
        "\"publish_errors\":%llu,\"late_publishes\":%llu,\"window_s\":%.4f,"
        "\"deliveries\":%llu,\"received\":%llu,\"deliveries_per_s\":%.1f,\"all_delivered\":%s,"
        "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
        "\"mean_us\":%.1f,\"latency_count\":%llu,\"complete_p50_us\":%.1f,"
        "\"complete_p99_us\":%.1f,\"complete_max_us\":%.1f,\"publish_rpc_p50_us\":%.1f,"
        "\"publish_rpc_p99_us\":%.1f,\"missing\":%llu,\"duplicates\":%llu,"
        "\"out_of_order\":%llu,\"unexpected\":%llu,\"epoch_mismatches\":%llu,\"unparsed\":%llu,"
        "\"errors\":%llu,\"broken\":%llu,\"deflated\":%llu,\"bridge_cpu_s\":%.3f,\"bridge_cpu_each_"
        "s\":[%s],"
        "\"bridge_cpu_us_per_delivery\":%.3f,\"bytes_per_delivery\":%.1f,\"client_cpu_s\":%.3f,"
        "\"ok\":%s,\"first_error\":\"%s\"}\n",
        burst > 0 ? "burst" : "rate", n, targets.size(), channels, burst > 0 ? 0.0 : rate, burst,
        burst > 0 ? rounds : 0, absl::GetFlag(FLAGS_payload), threads, setup_s,
        static_cast<unsigned long long>(total_publishes),
        static_cast<unsigned long long>(publisher.ok()),
        static_cast<unsigned long long>(publisher.ok_measured()),
        static_cast<unsigned long long>(publisher.errors()), static_cast<unsigned long long>(late),
        window_s, static_cast<unsigned long long>(window_deliveries),
        static_cast<unsigned long long>(received), per_s, all_delivered ? "true" : "false",
        Us(latency.Percentile(0.5)), Us(latency.Percentile(0.9)), Us(latency.Percentile(0.99)),
        Us(latency.Percentile(0.999)), Us(latency.max()), latency.mean() / 1000,
        static_cast<unsigned long long>(latency.count()), Us(complete.Percentile(0.5)),
        Us(complete.Percentile(0.99)), Us(complete.max()), Us(rpc.Percentile(0.5)),
        Us(rpc.Percentile(0.99)), static_cast<unsigned long long>(missing),
        static_cast<unsigned long long>(counts.duplicates),
        static_cast<unsigned long long>(counts.out_of_order),
        static_cast<unsigned long long>(unexpected),
        static_cast<unsigned long long>(counts.epoch_mismatches),
        static_cast<unsigned long long>(counts.unparsed),
        static_cast<unsigned long long>(counts.errors),
        static_cast<unsigned long long>(counts.broken),
        static_cast<unsigned long long>(counts.deflated), bridge_cpu, cpu_each.c_str(),
        cpu_per_delivery, bytes_per_delivery, own1 - own0, ok ? "true" : "false",
        absl::CEscape(first_error).c_str());
  } else {
    std::printf("fanout: %d subscribers on %d channel(s) over %zu bridge(s), set up in %.2f s\n", n,
                channels, targets.size(), setup_s);
    if (burst > 0) {
      std::printf("burst mode: %d publishes at once, %d rounds (+1 warm-up)\n", burst, rounds);
    } else {
      std::printf("fixed rate: %.0f publishes/s, %.2f s measured (+%.2f s warm-up)\n", rate,
                  duration, warmup);
    }
    std::printf("publishes: %llu ok of %llu, %llu errors, %llu waited for a slot\n",
                static_cast<unsigned long long>(publisher.ok()),
                static_cast<unsigned long long>(total_publishes),
                static_cast<unsigned long long>(publisher.errors()),
                static_cast<unsigned long long>(late));
    std::printf("deliveries: %llu in %.3f s: %.0f/s%s\n",
                static_cast<unsigned long long>(window_deliveries), window_s, per_s,
                all_delivered ? "" : " (INCOMPLETE)");
    std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%llu)\n",
                Us(latency.Percentile(0.5)), Us(latency.Percentile(0.9)),
                Us(latency.Percentile(0.99)), Us(latency.Percentile(0.999)), Us(latency.max()),
                static_cast<unsigned long long>(latency.count()));
    std::printf("whole fan-out (last delivery of a publish) us: p50 %.1f  p99 %.1f  max %.1f\n",
                Us(complete.Percentile(0.5)), Us(complete.Percentile(0.99)), Us(complete.max()));
    std::printf("Publish RPC us: p50 %.1f  p99 %.1f\n", Us(rpc.Percentile(0.5)),
                Us(rpc.Percentile(0.99)));
    std::printf(
        "missing %llu, duplicates %llu, out of order %llu, unexpected %llu, epoch "
        "mismatches %llu, unparsed %llu, errors %llu, broken %llu\n",
        static_cast<unsigned long long>(missing),
        static_cast<unsigned long long>(counts.duplicates),
        static_cast<unsigned long long>(counts.out_of_order),
        static_cast<unsigned long long>(unexpected),
        static_cast<unsigned long long>(counts.epoch_mismatches),
        static_cast<unsigned long long>(counts.unparsed),
        static_cast<unsigned long long>(counts.errors),
        static_cast<unsigned long long>(counts.broken));
    if (bridge_cpu >= 0) {
      std::printf("bridge CPU: %.3f s, %.2f us per delivery\n", bridge_cpu, cpu_per_delivery);
    }
    std::printf("bytes read per delivery: %.1f (%llu sessions with permessage-deflate)\n",
                bytes_per_delivery, static_cast<unsigned long long>(counts.deflated));
    std::printf("fanout's own CPU: %.3f s\n", own1 - own0);
    if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace bench::load

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Channel fan-out benchmark; see fanout_main.cc.");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return bench::load::Main();
}
