#include "bridge/upstream/auth_client.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/grpc_time.h"
#include "bridge/transcode/json_text.h"
#include "bridge/upstream/in_flight.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "proto/bridge/v1/auth.grpc.pb.h"

namespace bridge::upstream {
namespace {

class AuthServiceChecker final : public auth::Checker {
 public:
  explicit AuthServiceChecker(const v1::AuthServiceConfig& config)
      : stub_(v1::Auth::NewStub(
            grpc::CreateChannel(config.target(), grpc::InsecureChannelCredentials()))),
        timeout_ms_(config.timeout_ms()),
        forward_(config.forward_headers().begin(), config.forward_headers().end()) {}

  // Cancels the checks in flight and waits for their completions, so that the channel goes
  // here and not on a gRPC thread (in_flight.h). Their outcome is "did not answer".
  ~AuthServiceChecker() override {
    {
      absl::MutexLock lock(&mu_);
      for (grpc::ClientContext* context : pending_) context->TryCancel();
    }
    in_flight_.AwaitIdle(absl::InfiniteDuration());
  }

  void Check(auth::CheckInput input, std::function<void(auth::CheckOutcome)> done) override {
    struct Pending {
      grpc::ClientContext context;
      v1::CheckRequest request;
      v1::CheckResponse response;
      std::function<void(auth::CheckOutcome)> done;
    };
    auto* p = new Pending;
    p->done = std::move(done);
    p->context.set_deadline(GrpcDeadlineChrono(absl::Milliseconds(timeout_ms_)));
    for (auto& [name, value] : input.headers) {
      if (!forward_.empty() && forward_.count(name) == 0) continue;
      // Header bytes are any bytes; a proto string must be UTF-8 (the service could not parse
      // the request otherwise, and every such client would be told to try again).
      (*p->request.mutable_headers())[transcode::ToValidUtf8(name)] = transcode::ToValidUtf8(value);
    }
    p->request.set_token(std::move(input.token));
    p->request.set_client_id(std::move(input.client_id));
    p->request.set_remote_ip(std::move(input.remote_ip));
    p->request.set_resource(transcode::ToValidUtf8(input.resource));
    in_flight_.Enter();
    {
      absl::MutexLock lock(&mu_);
      pending_.insert(&p->context);
    }
    stub_->async()->Check(&p->context, &p->request, &p->response, [this, p](grpc::Status status) {
      auth::CheckOutcome out = Outcome(status, p->response);
      std::function<void(auth::CheckOutcome)> done = std::move(p->done);
      {
        absl::MutexLock lock(&mu_);
        pending_.erase(&p->context);
      }
      delete p;
      in_flight_.Leave();  // after the context: `this` may be gone once the count is zero
      done(std::move(out));
    });
  }

 private:
  static auth::CheckOutcome Outcome(const grpc::Status& status, const v1::CheckResponse& response) {
    auth::CheckOutcome out;
    if (!status.ok()) {
      out.status = absl::UnavailableError(
          absl::StrCat("the authentication service did not answer (",
                       grpc::StatusCode(status.error_code()) == grpc::StatusCode::DEADLINE_EXCEEDED
                           ? "deadline exceeded"
                           : status.error_message(),
                       ")"));
    } else if (!response.allowed()) {
      const std::string message =
          response.message().empty() ? "refused by the authentication service" : response.message();
      out.status = response.forbidden() ? absl::PermissionDeniedError(message)
                                        : absl::UnauthenticatedError(message);
    } else {
      out.identity.user_id = response.user_id();
      out.identity.all_methods = response.methods().empty();
      out.identity.methods.assign(response.methods().begin(), response.methods().end());
      out.identity.all_channels = response.channels().empty();
      out.identity.channels.assign(response.channels().begin(), response.channels().end());
      if (response.expires_in_ms() > 0) {
        // Any uint64 the service sends: past int64's range it is as good as never.
        out.valid_for = absl::Milliseconds(static_cast<int64_t>(
            std::min<uint64_t>(response.expires_in_ms(), std::numeric_limits<int64_t>::max())));
      }
    }
    return out;
  }

  std::unique_ptr<v1::Auth::Stub> stub_;
  const uint32_t timeout_ms_;
  const std::set<std::string> forward_;
  // Two records, for two moments: a check leaves `pending_` before its context is destroyed
  // (the destructor may cancel what `pending_` holds) and `in_flight_` after (the channel then
  // goes on the destructor's thread).
  InFlightCalls in_flight_;
  absl::Mutex mu_;
  std::set<grpc::ClientContext*> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<auth::Checker> MakeAuthServiceChecker(const v1::AuthServiceConfig& config) {
  return std::make_unique<AuthServiceChecker>(config);
}

}  // namespace bridge::upstream
