#include "bridge/upstream/grpc_upstream.h"

#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/client_callback.h"

namespace bridge::upstream {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr char kPushbackKey[] = "grpc-retry-pushback-ms";

const std::map<std::string, int>& StatusCodesByName() {
  static const auto* codes = new std::map<std::string, int>{
      {"CANCELLED", 1},         {"UNKNOWN", 2},        {"INVALID_ARGUMENT", 3},
      {"DEADLINE_EXCEEDED", 4}, {"NOT_FOUND", 5},      {"ALREADY_EXISTS", 6},
      {"PERMISSION_DENIED", 7}, {"RESOURCE_EXHAUSTED", 8}, {"FAILED_PRECONDITION", 9},
      {"ABORTED", 10},          {"OUT_OF_RANGE", 11},  {"UNIMPLEMENTED", 12},
      {"INTERNAL", 13},         {"UNAVAILABLE", 14},   {"DATA_LOSS", 15},
      {"UNAUTHENTICATED", 16},
  };
  return *codes;
}

std::string Seconds(uint32_t ms) { return absl::StrFormat("%.3fs", ms / 1000.0); }

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

// One generic call, of any of the four kinds, as a bidi stream of raw bytes.
//
// Lifetime: owned by itself (self_) until OnDone, and by whoever holds the Call. A hold keeps
// OnDone away until the reads are over (a read came back empty), so no operation is ever
// started after OnDone; Cancel starts a read when none is outstanding so that happens soon.
class GrpcCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                       public Call,
                       public std::enable_shared_from_this<GrpcCall> {
 public:
  GrpcCall(size_t max_pending_writes, std::shared_ptr<CallListener> listener,
           std::shared_ptr<GrpcUpstream::InFlight> in_flight)
      : max_pending_writes_(max_pending_writes),
        listener_(std::move(listener)),
        in_flight_(std::move(in_flight)) {}

  void Begin(grpc::GenericStub* stub, const CallSpec& spec) {
    self_ = shared_from_this();
    {
      absl::MutexLock lock(&in_flight_->mu);
      ++in_flight_->calls;
    }
    method_ = spec.method.path;
    if (spec.timeout > absl::ZeroDuration()) {
      context_.set_deadline(absl::ToChronoTime(absl::Now() + spec.timeout));
    }
    for (const auto& [key, value] : spec.metadata) context_.AddMetadata(key, value);
    stub->PrepareBidiStreamingCall(&context_, method_, grpc::StubOptions(), this);
    AddHold();
    StartCall();
  }

  bool Write(std::string bytes) override {
    absl::MutexLock lock(&mu_);
    if (released_ || writes_done_requested_) return true;  // the call is over: dropped
    if (writing_) {
      if (pending_.size() >= max_pending_writes_) return false;
      pending_.push_back(std::move(bytes));
      return true;
    }
    StartWriteLocked(std::move(bytes));
    return true;
  }

  void WritesDone() override {
    absl::MutexLock lock(&mu_);
    if (released_ || writes_done_requested_) return;
    writes_done_requested_ = true;
    if (!writing_) StartWritesDone();
  }

  void RequestRead() override {
    absl::MutexLock lock(&mu_);
    if (released_ || reading_) return;
    reading_ = true;
    StartRead(&read_buffer_);
  }

  void Cancel() override {
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    if (released_ || reading_) return;
    reading_ = true;  // the read fails at once and lets the call finish
    StartRead(&read_buffer_);
  }

  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) listener_->OnHeaders(ToMetadata(context_.GetServerInitialMetadata()));
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      std::string bytes = ToString(read_buffer_);
      read_buffer_.Clear();
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
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
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || released_) {
      pending_.clear();
      return;
    }
    if (!pending_.empty()) {
      std::string next = std::move(pending_.front());
      pending_.pop_front();
      StartWriteLocked(std::move(next));
    } else if (writes_done_requested_) {
      StartWritesDone();
    }
  }

  void OnDone(const grpc::Status& status) override {
    CallResult result;
    result.code = static_cast<int>(status.error_code());
    result.message = status.error_message();
    result.trailers = ToMetadata(context_.GetServerTrailingMetadata());
    for (const auto& [key, value] : result.trailers) {
      int64_t ms;
      if (key == kPushbackKey && absl::SimpleAtoi(value, &ms) && ms >= 0) {
        result.retry_pushback_ms = ms;
      }
    }
    listener_->OnFinish(std::move(result));
    listener_.reset();
    {
      absl::MutexLock lock(&in_flight_->mu);
      --in_flight_->calls;
    }
    self_.reset();  // may delete this
  }

 private:
  void StartWriteLocked(std::string bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    grpc::Slice slice(bytes);
    write_buffer_ = grpc::ByteBuffer(&slice, 1);
    StartWrite(&write_buffer_);
  }

  const size_t max_pending_writes_;
  std::shared_ptr<CallListener> listener_;
  std::shared_ptr<GrpcUpstream::InFlight> in_flight_;
  std::shared_ptr<GrpcCall> self_;
  std::string method_;  // outlives the call: gRPC keeps a pointer to it
  grpc::ClientContext context_;

  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer write_buffer_;
  grpc::ByteBuffer read_buffer_;
};

}  // namespace

absl::StatusOr<std::vector<v1::Route>> ParseRoutes(std::string_view text) {
  std::vector<v1::Route> routes;
  for (absl::string_view item : absl::StrSplit(Sv(text), ',', absl::SkipWhitespace())) {
    const size_t eq = item.find('=');
    if (eq == absl::string_view::npos || eq == 0 || eq + 1 == item.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("route \"", item, "\" is not SERVICE=TARGET (demo.v1.Echo=host:port)"));
    }
    v1::Route r;
    r.set_service(std::string(item.substr(0, eq)));
    r.set_target(std::string(item.substr(eq + 1)));
    routes.push_back(std::move(r));
  }
  return routes;
}

absl::StatusOr<std::string> RetryServiceConfig(const v1::BridgeConfig& config) {
  std::vector<std::string> method_configs;
  for (int i = 0; i < config.retry_policies_size(); ++i) {
    const v1::RetryPolicy& p = config.retry_policies(i);
    const std::string field = absl::StrCat("retry_policies[", i, "]");
    if (p.service().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("config field ", field, ".service: empty"));
    }
    if (p.max_attempts() < 2 || p.max_attempts() > 5) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config field ", field, ".max_attempts: must be from 2 to 5, got ", p.max_attempts()));
    }
    const uint32_t initial = p.initial_backoff_ms() == 0 ? 100 : p.initial_backoff_ms();
    const uint32_t max = p.max_backoff_ms() == 0 ? 10000 : p.max_backoff_ms();
    const double multiplier = p.backoff_multiplier() == 0 ? 2.0 : p.backoff_multiplier();
    if (max < initial) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config field ", field, ".max_backoff_ms: must be at least initial_backoff_ms"));
    }
    if (multiplier < 1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field ", field, ".backoff_multiplier: must be at least 1"));
    }
    std::vector<std::string> codes;
    for (const std::string& name : p.retryable_status_codes()) {
      if (StatusCodesByName().count(name) == 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "config field ", field, ".retryable_status_codes: unknown gRPC status ", name));
      }
      const bool unsafe = name == "DEADLINE_EXCEEDED" || name == "INTERNAL" ||
                          name == "UNKNOWN" || name == "DATA_LOSS";
      if (unsafe && !p.idempotent()) {
        return absl::InvalidArgumentError(
            absl::StrCat("config field ", field, ".retryable_status_codes: ", name,
                         " may be retried only for idempotent methods (set idempotent: true)"));
      }
      codes.push_back(absl::StrCat("\"", name, "\""));
    }
    if (codes.empty()) codes.push_back("\"UNAVAILABLE\"");
    std::string name = absl::StrCat("{\"service\":\"", p.service(), "\"");
    if (!p.method().empty()) absl::StrAppend(&name, ",\"method\":\"", p.method(), "\"");
    name += "}";
    method_configs.push_back(absl::StrCat(
        "{\"name\":[", name, "],\"retryPolicy\":{\"maxAttempts\":", p.max_attempts(),
        ",\"initialBackoff\":\"", Seconds(initial), "\",\"maxBackoff\":\"", Seconds(max),
        "\",\"backoffMultiplier\":", absl::StrFormat("%g", multiplier),
        ",\"retryableStatusCodes\":[", absl::StrJoin(codes, ","), "]}}"));
  }
  const uint32_t max_tokens =
      config.retry_throttling().max_tokens() == 0 ? 10 : config.retry_throttling().max_tokens();
  const double ratio = config.retry_throttling().token_ratio() == 0
                           ? 0.1
                           : config.retry_throttling().token_ratio();
  if (max_tokens > 1000) {
    return absl::InvalidArgumentError(
        "config field retry_throttling.max_tokens: must be from 1 to 1000");
  }
  if (ratio <= 0 || ratio > 1) {
    return absl::InvalidArgumentError(
        "config field retry_throttling.token_ratio: must be in (0, 1]");
  }
  return absl::StrCat("{\"methodConfig\":[", absl::StrJoin(method_configs, ","),
                      "],\"retryThrottling\":{\"maxTokens\":", max_tokens,
                      ",\"tokenRatio\":", absl::StrFormat("%g", ratio), "}}");
}

absl::StatusOr<std::unique_ptr<GrpcUpstream>> GrpcUpstream::Create(
    const v1::BridgeConfig& config, const transcode::DescriptorRegistry& registry) {
  absl::StatusOr<std::string> service_config = RetryServiceConfig(config);
  if (!service_config.ok()) return service_config.status();
  std::unique_ptr<GrpcUpstream> upstream(new GrpcUpstream(config, *std::move(service_config)));
  for (int i = 0; i < config.routes_size(); ++i) {
    const v1::Route& r = config.routes(i);
    if (r.target().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field routes[", i, "].target: empty for service ", r.service()));
    }
    if (r.service() == "*") {
      upstream->default_target_ = r.target();
      continue;
    }
    if (registry.FindService(r.service()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config field routes[", i, "].service: service ", r.service(),
          " is routed but no descriptor set describes it"));
    }
    upstream->routes_[r.service()] = r.target();
  }
  return upstream;
}

GrpcUpstream::GrpcUpstream(const v1::BridgeConfig& config, std::string service_config)
    : config_(config),
      service_config_(std::move(service_config)),
      in_flight_(std::make_shared<InFlight>()) {}

GrpcUpstream::~GrpcUpstream() { AwaitIdle(absl::Seconds(5)); }

int64_t GrpcUpstream::calls_in_flight() const {
  absl::MutexLock lock(&in_flight_->mu);
  return in_flight_->calls;
}

bool GrpcUpstream::AwaitIdle(absl::Duration timeout) {
  InFlight* f = in_flight_.get();
  absl::MutexLock lock(&f->mu);
  auto idle = [f]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu) { return f->calls == 0; };
  return f->mu.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

bool GrpcUpstream::HasRoute(std::string_view service) const {
  return !default_target_.empty() || routes_.find(service) != routes_.end();
}

GrpcUpstream::Target* GrpcUpstream::TargetFor(std::string_view service) {
  auto it = routes_.find(service);
  const std::string& target = it != routes_.end() ? it->second : default_target_;
  absl::MutexLock lock(&mu_);
  auto [slot, inserted] = targets_.try_emplace(target);
  if (inserted) {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(service_config_);
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    slot->second.channel =
        grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    slot->second.stub = std::make_unique<grpc::GenericStub>(slot->second.channel);
  }
  return &slot->second;
}

std::shared_ptr<Call> GrpcUpstream::StartCall(const CallSpec& spec,
                                              std::shared_ptr<CallListener> listener) {
  Target* target = TargetFor(spec.method.service);
  auto call = std::make_shared<GrpcCall>(config_.max_pending_writes_per_call(),
                                         std::move(listener), in_flight_);
  call->Begin(target->stub.get(), spec);
  return call;
}

}  // namespace bridge::upstream
