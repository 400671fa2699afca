#include "bridge/upstream/grpc_upstream.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bridge/common/grpc_time.h"
#include "bridge/common/lazy_deque.h"
#include "bridge/upstream/metadata.h"
#include "grpcpp/alarm.h"
#include "grpcpp/channel.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "grpcpp/support/client_callback.h"

namespace bridge::upstream {

struct GrpcUpstream::Target {
  // upstream_channels of them, each its own HTTP/2 connection. A thread keeps to one (its
  // lane): the calls an io thread starts go out on one connection, side by side with the other
  // threads' (docs/performance.md, "Channels per target").
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::unique_ptr<RetryThrottle> throttle;
  bool wait_for_ready = false;            // routes.wait_for_ready
  std::unique_ptr<RetryContext> retries;  // attempts on these channels, gRPC's alarms

  grpc::GenericStub* stub() {
    static std::atomic<size_t> next_lane{0};
    thread_local const size_t lane = next_lane.fetch_add(1, std::memory_order_relaxed);
    return stubs[lane % stubs.size()].get();
  }
};

namespace {

// Channel credentials for TLS to an upstream, from files gRPC watches and reloads.
std::shared_ptr<grpc::ChannelCredentials> TlsCredentials(const v1::RouteTls& tls,
                                                         grpc::ChannelArguments* args) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!tls.ca_file().empty() || !tls.cert_file().empty()) {
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            tls.key_file(), tls.cert_file(), tls.ca_file(), tls.reload_interval_s()));
  }
  if (!tls.ca_file().empty()) options.watch_root_certs();
  if (!tls.cert_file().empty()) options.watch_identity_key_cert_pairs();
  if (!tls.server_name().empty()) args->SetSslTargetNameOverride(tls.server_name());
  return grpc::experimental::TlsCredentials(options);
}

constexpr char kPushbackKey[] = "grpc-retry-pushback-ms";

std::string ToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

Metadata ToMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& md) {
  Metadata out;
  out.reserve(md.size());
  for (const auto& [k, v] : md) {
    out.emplace_back(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  }
  return out;
}

// How a finished call ended: its status, trailers, and grpc-retry-pushback-ms.
CallResult ResultOf(const grpc::Status& status, grpc::ClientContext& context) {
  CallResult result;
  result.code = static_cast<int>(status.error_code());
  result.message = status.error_message();
  result.trailers = ToMetadata(context.GetServerTrailingMetadata());
  for (const auto& [key, value] : result.trailers) {
    if (key != kPushbackKey) continue;
    int64_t ms;
    result.retry_pushback_ms =
        absl::SimpleAtoi(value, &ms) && ms >= 0 ? ms : CallResult::kPushbackNoRetry;
  }
  return result;
}

// One generic call, of any of the four kinds, as a bidi stream of raw bytes: one attempt.
//
// Lifetime: owned by itself (self_) until OnDone, and by whoever holds the Call. A hold keeps
// OnDone away until the reads are over (a read came back empty); writes started from outside
// a reaction take a hold of their own until they complete. So no operation ever starts after
// OnDone. Cancel starts a read when none is outstanding, so the call ends soon.
//
// gRPC may run a reaction inline, on the thread that starts an operation; operations are
// therefore started after our mutex is released, never under it.
class GrpcCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                       public Call,
                       public std::enable_shared_from_this<GrpcCall> {
 public:
  GrpcCall(size_t max_pending_writes, std::shared_ptr<CallListener> listener,
           std::shared_ptr<InFlightCalls> in_flight, bool one_event)
      : one_event_(one_event),
        max_pending_writes_(max_pending_writes),
        listener_(std::move(listener)),
        in_flight_(std::move(in_flight)) {}

  void Begin(grpc::GenericStub* stub, const CallSpec& spec, absl::Time deadline,
             bool wait_for_ready) {
    self_ = shared_from_this();
    in_flight_->Enter();
    method_ = spec.method.path;
    if (deadline != absl::InfiniteFuture()) context_.set_deadline(absl::ToChronoTime(deadline));
    context_.set_wait_for_ready(wait_for_ready);
    for (const auto& [key, value] : spec.metadata) context_.AddMetadata(key, value);
    stub->PrepareBidiStreamingCall(&context_, method_, grpc::StubOptions(), this);
    AddHold();  // the read side's: released when the reads are over
    StartCall();
  }

  bool Write(std::string bytes) override {
    {
      absl::MutexLock lock(&mu_);
      if (released_ || writes_done_requested_) return true;  // the call is over: dropped
      if (writing_) {
        if (pending_.size() >= max_pending_writes_) return false;
        pending_.push_back(std::move(bytes));
        return true;
      }
      PrepareWriteLocked(std::move(bytes));
    }
    StartWrite(&write_buffer_);
    return true;
  }

  void WritesDone() override {
    {
      absl::MutexLock lock(&mu_);
      if (released_ || writes_done_requested_) return;
      writes_done_requested_ = true;
      if (writing_) return;  // sent after the last write completes
      writing_ = true;
      AddHold();
    }
    StartWritesDone();
  }

  void RequestRead() override {
    {
      absl::MutexLock lock(&mu_);
      if (released_ || reading_) return;
      reading_ = true;
    }
    StartRead(&read_buffer_);
  }

  void Cancel() override {
    bool start_read;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // Once the reads are over the call is finishing by itself, and after OnDone its gRPC
      // call is gone: TryCancel would touch freed memory. Before that, a hold keeps it alive.
      if (released_) return;
      AddHold();
      start_read = !reading_;
      reading_ = true;  // a read fails at once and lets the call finish
    }
    context_.TryCancel();
    if (start_read) StartRead(&read_buffer_);
    RemoveHold();
  }

  void OnReadInitialMetadataDone(bool ok) override {
    if (!ok) return;
    if (one_event_) {
      result_.headers = ToMetadata(context_.GetServerInitialMetadata());
      return;
    }
    listener_->OnHeaders(ToMetadata(context_.GetServerInitialMetadata()));
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      std::string bytes = ToString(read_buffer_);
      read_buffer_.Clear();
      bool drain = false;
      bool cancelled = false;
      {
        absl::MutexLock lock(&mu_);
        // A reply that was already on its way when the call was cancelled: nobody will ask
        // for another, so keep reading until the stream ends and the call can finish. A call
        // that reports in one event reads on by itself.
        cancelled = cancelled_;
        drain = cancelled_ || one_event_;
        reading_ = drain;
      }
      if (one_event_ && !cancelled) result_.reply = std::move(bytes);
      if (drain) {
        StartRead(&read_buffer_);
        return;
      }
      listener_->OnMessage(std::move(bytes));
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      released_ = true;  // from here on no operation starts
      pending_.clear();
    }
    RemoveHold();
  }

  void OnWriteDone(bool ok) override {
    bool write_next = false;
    bool writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || released_) {
        pending_.clear();
      } else if (!pending_.empty()) {
        std::string next = std::move(pending_.front());
        pending_.pop_front();
        PrepareWriteLocked(std::move(next));
        write_next = true;
      } else if (writes_done_requested_) {
        writing_ = true;
        AddHold();
        writes_done = true;
      }
    }
    if (write_next) StartWrite(&write_buffer_);
    if (writes_done) StartWritesDone();
    RemoveHold();  // this write's
  }

  void OnWritesDoneDone(bool ok) override { RemoveHold(); }

  void OnDone(const grpc::Status& status) override {
    CallResult result = ResultOf(status, context_);
    if (one_event_ && status.ok()) {
      result.headers = std::move(result_.headers);
      result.reply = std::move(result_.reply);
    }
    listener_->OnFinish(std::move(result));
    listener_.reset();
    // Leaves the count after the context is gone when this is the last reference (in_flight.h).
    std::shared_ptr<InFlightCalls> in_flight = std::move(in_flight_);
    self_.reset();  // may delete this
    in_flight->Leave();
  }

 private:
  void PrepareWriteLocked(std::string bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    AddHold();
    grpc::Slice slice(bytes);
    write_buffer_ = grpc::ByteBuffer(&slice, 1);
  }

  const bool one_event_;
  const size_t max_pending_writes_;
  std::shared_ptr<CallListener> listener_;
  std::shared_ptr<InFlightCalls> in_flight_;
  std::shared_ptr<GrpcCall> self_;
  CallResult result_;   // one_event_: headers and reply, until OnDone (reactions are serial)
  std::string method_;  // outlives the call: gRPC keeps a pointer to it
  grpc::ClientContext context_;

  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_requested_ ABSL_GUARDED_BY(mu_) = false;
  LazyDeque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer write_buffer_;
  grpc::ByteBuffer read_buffer_;
};

// A call of a method with one request and one reply, made as gRPC's unary call: the request,
// its half-close and the reply in one batch and one completion, where the bidi form above
// takes five reactions (each a hop to gRPC's callback threads) and a call of its own per
// step. The request goes out at WritesDone; the reply is handed over as the bidi form does:
// OnHeaders, then OnMessage at the first RequestRead, OnFinish at the next (a failure or a
// cancel finishes at once); or, with one_event, all of it in OnFinish at the first.
//
// Lifetime: owned by itself (self_) from WritesDone until the completion, and by whoever holds
// the Call. Listener events are emitted under mu_ so they stay in order when the completion
// (a gRPC thread) and RequestRead (the caller's) race; listeners only post, never re-enter.
class UnaryGrpcCall final : public Call, public std::enable_shared_from_this<UnaryGrpcCall> {
 public:
  UnaryGrpcCall(std::shared_ptr<CallListener> listener, std::shared_ptr<InFlightCalls> in_flight,
                bool one_event)
      : one_event_(one_event), listener_(std::move(listener)), in_flight_(std::move(in_flight)) {}

  void Begin(grpc::GenericStub* stub, const CallSpec& spec, absl::Time deadline,
             bool wait_for_ready) {
    in_flight_->Enter();
    stub_ = stub;
    method_ = spec.method.path;
    if (deadline != absl::InfiniteFuture()) context_.set_deadline(absl::ToChronoTime(deadline));
    context_.set_wait_for_ready(wait_for_ready);
    for (const auto& [key, value] : spec.metadata) context_.AddMetadata(key, value);
  }

  bool Write(std::string bytes) override {
    absl::MutexLock lock(&mu_);
    if (started_ || has_request_) return true;  // one request only; the session sends one
    has_request_ = true;
    request_ = std::move(bytes);
    return true;
  }

  void WritesDone() override {
    {
      absl::MutexLock lock(&mu_);
      if (started_) return;
      started_ = true;
      self_ = shared_from_this();
      grpc::Slice slice(request_);
      request_buffer_ = grpc::ByteBuffer(&slice, 1);
      request_.clear();
    }
    // gRPC may complete inline; the completion takes mu_.
    stub_->UnaryCall(&context_, method_, grpc::StubOptions(), &request_buffer_, &reply_buffer_,
                     [this](grpc::Status status) { OnComplete(std::move(status)); });
  }

  void RequestRead() override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    DeliverLocked();
  }

  void Cancel() override {
    bool try_cancel = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (!started_) {
        // Never sent: finish now.
        started_ = true;
        done_ = true;
        status_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
        in_flight_->Leave();
      }
      try_cancel = !done_;
      DeliverLocked();
    }
    // Safe after the completion too: the context keeps its call until it is destroyed.
    if (try_cancel) context_.TryCancel();
  }

 private:
  void OnComplete(grpc::Status status) {
    std::shared_ptr<UnaryGrpcCall> self;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      status_ = std::move(status);
      if (status_.ok()) headers_ = ToMetadata(context_.GetServerInitialMetadata());
      DeliverLocked();
      self = std::move(self_);
    }
    // Leaves the count after the context is gone when `self` is the last reference
    // (in_flight.h).
    std::shared_ptr<InFlightCalls> in_flight = in_flight_;
    self.reset();  // may delete this
    in_flight->Leave();
  }

  void DeliverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!done_ || finished_) return;
    if (one_event_) {
      if (reads_ == 0 && !cancelled_) return;
      finished_ = true;
      const bool ok = !cancelled_ && status_.ok();
      CallResult result = ResultOf(cancelled_ && status_.ok()
                                       ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")
                                       : status_,
                                   context_);
      if (ok) {
        result.headers = std::move(headers_);
        result.reply = ToString(reply_buffer_);
        reply_buffer_.Clear();
      }
      listener_->OnFinish(std::move(result));
      listener_.reset();
      return;
    }
    if (!cancelled_ && status_.ok()) {
      if (!headers_sent_) {
        headers_sent_ = true;
        listener_->OnHeaders(std::move(headers_));
      }
      if (!message_sent_) {
        if (reads_ == 0) return;
        --reads_;
        message_sent_ = true;
        listener_->OnMessage(ToString(reply_buffer_));
        reply_buffer_.Clear();
      }
      if (reads_ == 0) return;
    }
    finished_ = true;
    listener_->OnFinish(ResultOf(cancelled_ && status_.ok()
                                     ? grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")
                                     : status_,
                                 context_));
    listener_.reset();
  }

  const bool one_event_;
  std::shared_ptr<CallListener> listener_;
  std::shared_ptr<InFlightCalls> in_flight_;
  grpc::GenericStub* stub_ = nullptr;
  std::string method_;  // outlives the call: gRPC keeps a pointer to it
  grpc::ClientContext context_;
  grpc::ByteBuffer request_buffer_;
  grpc::ByteBuffer reply_buffer_;

  absl::Mutex mu_;
  std::shared_ptr<UnaryGrpcCall> self_ ABSL_GUARDED_BY(mu_);
  std::string request_ ABSL_GUARDED_BY(mu_);
  bool has_request_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool headers_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool message_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  Metadata headers_ ABSL_GUARDED_BY(mu_);
};

// A call that never reaches gRPC: its metadata breaks gRPC's rules (bridge/upstream/metadata.h),
// and gRPC would refuse it by aborting the process. It ends with INVALID_ARGUMENT at its first
// read (or cancel), as a call gRPC refused at once would.
class RefusedCall final : public Call {
 public:
  RefusedCall(std::shared_ptr<CallListener> listener, absl::Status why)
      : listener_(std::move(listener)), why_(std::move(why)) {}

  bool Write(std::string) override { return true; }
  void WritesDone() override {}
  void RequestRead() override { Finish(); }
  void Cancel() override { Finish(); }

 private:
  void Finish() {
    std::shared_ptr<CallListener> listener;
    {
      absl::MutexLock lock(&mu_);
      listener = std::move(listener_);
    }
    if (listener == nullptr) return;
    CallResult result;
    result.code = static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT);
    result.message = std::string(why_.message());
    listener->OnFinish(std::move(result));
  }

  absl::Mutex mu_;
  std::shared_ptr<CallListener> listener_ ABSL_GUARDED_BY(mu_);
  const absl::Status why_;
};

// A GrpcCall as one attempt of a RetryingCall.
class GrpcAttempt final : public Attempt {
 public:
  GrpcAttempt(std::shared_ptr<GrpcCall> call, grpc::GenericStub* stub, const CallSpec& spec,
              absl::Time deadline, bool wait_for_ready)
      : call_(std::move(call)),
        stub_(stub),
        spec_(spec),
        deadline_(deadline),
        wait_for_ready_(wait_for_ready) {}
  void Begin() override { call_->Begin(stub_, spec_, deadline_, wait_for_ready_); }
  bool Write(std::string bytes) override { return call_->Write(std::move(bytes)); }
  void WritesDone() override { call_->WritesDone(); }
  void RequestRead() override { call_->RequestRead(); }
  void Cancel() override { call_->Cancel(); }

 private:
  const std::shared_ptr<GrpcCall> call_;
  grpc::GenericStub* const stub_;
  const CallSpec spec_;
  const absl::Time deadline_;
  const bool wait_for_ready_;
};

// A backoff on a grpc::Alarm, whose callback runs on gRPC's threads.
class AlarmTimer final : public BackoffTimer {
 public:
  AlarmTimer(absl::Time when, std::function<void(bool)> done) {
    alarm_.Set(absl::ToChronoTime(when), std::move(done));
  }
  void Cancel() override { alarm_.Cancel(); }

 private:
  grpc::Alarm alarm_;
};

}  // namespace

// Retries on one target's channels.
class GrpcUpstream::TargetRetries final : public RetryContext {
 public:
  TargetRetries(GrpcUpstream* upstream, Target* target) : upstream_(upstream), target_(target) {}
  // Attempts' deadlines go to gRPC: real time (grpc_time.h).
  absl::Time Now() override { return GrpcNow(); }
  double Uniform01() override { return upstream_->NextUniform(); }
  std::shared_ptr<Attempt> NewAttempt(const CallSpec& spec, absl::Time deadline,
                                      size_t replay_writes,
                                      std::shared_ptr<CallListener> listener) override {
    auto call =
        std::make_shared<GrpcCall>(upstream_->config_.max_pending_writes_per_call() + replay_writes,
                                   std::move(listener), upstream_->in_flight_, /*one_event=*/false);
    return std::make_shared<GrpcAttempt>(std::move(call), target_->stub(), spec, deadline,
                                         target_->wait_for_ready);
  }
  std::shared_ptr<BackoffTimer> StartTimer(absl::Time when,
                                           std::function<void(bool)> done) override {
    return std::make_shared<AlarmTimer>(when, std::move(done));
  }
  void CountRetry(const std::string& method_path, bool throttled) override {
    upstream_->CountRetry(method_path, throttled);
  }

 private:
  GrpcUpstream* const upstream_;
  Target* const target_;
};

absl::StatusOr<std::unique_ptr<GrpcUpstream>> GrpcUpstream::Create(
    const v1::BridgeConfig& config, const transcode::DescriptorRegistry& registry) {
  absl::StatusOr<RetryPolicies> policies = RetryPolicies::FromConfig(config);
  if (!policies.ok()) return policies.status();
  std::unique_ptr<GrpcUpstream> upstream(new GrpcUpstream(config, *std::move(policies)));
  for (int i = 0; i < config.routes_size(); ++i) {
    const v1::Route& r = config.routes(i);
    if (r.target().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field routes[", i, "].target: empty for service ", r.service()));
    }
    if (r.has_tls()) upstream->tls_[r.target()] = r.tls();
    if (r.wait_for_ready()) upstream->wait_for_ready_.insert(r.target());
    if (r.service() == "*") {
      upstream->default_target_ = r.target();
      continue;
    }
    if (registry.FindService(r.service()) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field routes[", i, "].service: service ", r.service(),
                       " is routed but no descriptor set describes it"));
    }
    upstream->routes_[r.service()] = r.target();
  }
  return upstream;
}

GrpcUpstream::GrpcUpstream(const v1::BridgeConfig& config, RetryPolicies policies)
    : config_(config),
      policies_(std::move(policies)),
      in_flight_(std::make_shared<InFlightCalls>()),
      uniform01_([] {
        thread_local absl::BitGen gen;
        return absl::Uniform<double>(gen, 0.0, 1.0);
      }) {}

void GrpcUpstream::SetRandomForTesting(std::function<double()> uniform01) {
  uniform01_ = std::move(uniform01);
}

double GrpcUpstream::NextUniform() { return uniform01_(); }

void GrpcUpstream::CountRetry(const std::string& method, bool throttled) {
  absl::MutexLock lock(&stats_mu_);
  RetryStats& s = retry_stats_[method];
  (throttled ? s.throttled : s.retries) += 1;
}

std::map<std::string, GrpcUpstream::RetryStats> GrpcUpstream::retry_stats() const {
  absl::MutexLock lock(&stats_mu_);
  return retry_stats_;
}

std::string GrpcUpstream::RenderMetrics() const {
  std::string out =
      "# HELP bridge_upstream_retries_total Upstream attempts after the first, by method.\n"
      "# TYPE bridge_upstream_retries_total counter\n";
  const auto stats = retry_stats();
  for (const auto& [method, s] : stats) {
    absl::StrAppend(&out, "bridge_upstream_retries_total{method=\"", method, "\"} ", s.retries,
                    "\n");
  }
  absl::StrAppend(&out,
                  "# HELP bridge_upstream_retries_throttled_total Retries the retry budget "
                  "refused, by method.\n# TYPE bridge_upstream_retries_throttled_total counter\n");
  for (const auto& [method, s] : stats) {
    absl::StrAppend(&out, "bridge_upstream_retries_throttled_total{method=\"", method, "\"} ",
                    s.throttled, "\n");
  }
  return out;
}

GrpcUpstream::~GrpcUpstream() { AwaitIdle(absl::Seconds(5)); }

int64_t GrpcUpstream::calls_in_flight() const { return in_flight_->count(); }

bool GrpcUpstream::AwaitIdle(absl::Duration timeout) { return in_flight_->AwaitIdle(timeout); }

bool GrpcUpstream::HasRoute(std::string_view service) const {
  return !default_target_.empty() || routes_.find(service) != routes_.end();
}

GrpcUpstream::Target* GrpcUpstream::TargetFor(std::string_view service) {
  auto it = routes_.find(service);
  const std::string& target = it != routes_.end() ? it->second : default_target_;
  absl::MutexLock lock(&mu_);
  auto [slot, inserted] = targets_.try_emplace(target);
  if (inserted) {
    slot->second = std::make_unique<Target>();
    slot->second->wait_for_ready = wait_for_ready_.count(target) > 0;
    auto tls = tls_.find(target);
    const uint32_t channels = std::max<uint32_t>(1, config_.upstream_channels());
    for (uint32_t i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // Retries are the bridge's own (RetryingCall), so they can be counted per method.
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
      // Each channel its own subchannels, hence its own connection: channels with the same
      // arguments would share one from gRPC's global pool.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto channel =
          grpc::CreateCustomChannel(target,
                                    tls == tls_.end() ? grpc::InsecureChannelCredentials()
                                                      : TlsCredentials(tls->second, &args),
                                    args);
      slot->second->stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
      slot->second->channels.push_back(std::move(channel));
    }
    const auto& t = config_.retry_throttling();
    slot->second->throttle = std::make_unique<RetryThrottle>(t.max_tokens(), t.token_ratio());
    slot->second->retries = std::make_unique<TargetRetries>(this, slot->second.get());
  }
  return slot->second.get();
}

std::shared_ptr<Call> GrpcUpstream::StartCall(const CallSpec& spec,
                                              std::shared_ptr<CallListener> listener) {
  if (absl::Status legal = CheckMetadata(spec.metadata); !legal.ok()) {
    return std::make_shared<RefusedCall>(std::move(listener), std::move(legal));
  }
  Target* target = TargetFor(spec.method.service);
  if (const RetryRule* rule = policies_.Find(spec.method.service, spec.method.descriptor->name())) {
    auto call = std::make_shared<RetryingCall>(target->retries.get(), rule, target->throttle.get(),
                                               in_flight_, spec, std::move(listener));
    call->Begin();
    return call;
  }
  const absl::Time deadline = GrpcDeadline(spec.timeout);
  if (!spec.method.client_streaming && !spec.method.server_streaming) {
    auto call = std::make_shared<UnaryGrpcCall>(std::move(listener), in_flight_, spec.one_event);
    call->Begin(target->stub(), spec, deadline, target->wait_for_ready);
    return call;
  }
  auto call =
      std::make_shared<GrpcCall>(config_.max_pending_writes_per_call(), std::move(listener),
                                 in_flight_, spec.one_event && !spec.method.server_streaming);
  call->Begin(target->stub(), spec, deadline, target->wait_for_ready);
  return call;
}

}  // namespace bridge::upstream
