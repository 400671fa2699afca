#include "harness/backend/chat_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/transcode/json_text.h"
#include "grpcpp/client_context.h"

namespace harness::backend {
namespace {

constexpr absl::Duration kControlTimeout = absl::Seconds(2);
constexpr size_t kMaxRoom = 64;
constexpr size_t kMaxName = 32;
constexpr size_t kMaxText = 2000;

grpc::Status Invalid(const std::string& field, const std::string& problem) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(field, ": ", problem));
}

grpc::Status CheckRoom(const std::string& room) {
  if (room.empty() || room.size() > kMaxRoom) return Invalid("room", "1 to 64 characters");
  const bool plain = std::all_of(room.begin(), room.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
  return plain ? grpc::Status::OK : Invalid("room", "only letters, digits, '-' and '_'");
}

grpc::Status CheckText(const std::string& field, const std::string& value, size_t max) {
  if (value.empty()) return Invalid(field, "required");
  if (value.size() > max) return Invalid(field, absl::StrCat("at most ", max, " bytes"));
  return grpc::Status::OK;
}

// The first failure of `checks`, or OK.
grpc::Status FirstFailure(std::initializer_list<grpc::Status> checks) {
  for (const grpc::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

// One BridgeControl call in flight: what the callback API needs kept alive until it answers.
template <typename Request, typename Response>
struct ControlCall {
  grpc::ClientContext context;
  Request request;
  Response response;
};

}  // namespace

ChatService::ChatService(std::function<absl::Time()> now) : now_(std::move(now)) {}

void ChatService::SetBridgeControl(std::shared_ptr<grpc::Channel> channel) {
  auto stub = bridge::v1::BridgeControl::NewStub(std::move(channel));
  absl::MutexLock lock(&mu_);
  stub_ = std::move(stub);
}

std::shared_ptr<bridge::v1::BridgeControl::Stub> ChatService::Stub() const {
  absl::MutexLock lock(&mu_);
  return stub_;
}

std::string ChatService::MessageData(std::string_view name, std::string_view text, absl::Time at) {
  std::string out;
  bridge::transcode::JsonWriter w(&out);
  {
    bridge::transcode::JsonObject o(w);
    o.Str("kind", "message")
        .Str("name", name)
        .Str("text", text)
        .Str("at", absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", at, absl::UTCTimeZone()));
  }
  w.Finish();
  return out;
}

std::string ChatService::TypingData(std::string_view name) {
  std::string out;
  bridge::transcode::JsonWriter w(&out);
  {
    bridge::transcode::JsonObject o(w);
    o.Str("kind", "typing").Str("name", name);
  }
  w.Finish();
  return out;
}

void ChatService::Publish(grpc::ServerUnaryReactor* reactor, std::string channel, std::string data,
                          std::function<void(const bridge::v1::PublishResponse&)> done) {
  std::shared_ptr<bridge::v1::BridgeControl::Stub> stub = Stub();
  if (stub == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bridge to publish through"));
    return;
  }
  auto* call = new ControlCall<bridge::v1::PublishRequest, bridge::v1::PublishResponse>;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + kControlTimeout));
  call->request.set_channel(std::move(channel));
  call->request.set_data(std::move(data));
  stub->async()->Publish(&call->context, &call->request, &call->response,
                         [reactor, call, done = std::move(done)](grpc::Status status) {
                           if (status.ok() && done) done(call->response);
                           // The context (and its hold on the channel) goes before the reactor
                           // finishes: this service, which holds the channel, outlives its
                           // server's reactors, so the channel never goes on a gRPC thread
                           // (bridge/upstream/in_flight.h).
                           delete call;
                           reactor->Finish(status);
                         });
}

grpc::ServerUnaryReactor* ChatService::Post(grpc::CallbackServerContext* context,
                                            const demo::v1::PostRequest* request,
                                            demo::v1::PostResponse* response) {
  if (grpc::Status s =
          FirstFailure({CheckRoom(request->room()), CheckText("name", request->name(), kMaxName),
                        CheckText("text", request->text(), kMaxText)});
      !s.ok()) {
    return Finished(context, std::move(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Publish(reactor, absl::StrCat("chat:", request->room()),
          MessageData(request->name(), request->text(), now_()),
          [response](const bridge::v1::PublishResponse& published) {
            response->set_offset(published.offset());
            response->set_epoch(published.epoch());
          });
  return reactor;
}

grpc::ServerUnaryReactor* ChatService::Typing(grpc::CallbackServerContext* context,
                                              const demo::v1::TypingRequest* request,
                                              demo::v1::TypingResponse* /*response*/) {
  if (grpc::Status s =
          FirstFailure({CheckRoom(request->room()), CheckText("name", request->name(), kMaxName)});
      !s.ok()) {
    return Finished(context, std::move(s));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Publish(reactor, absl::StrCat("typing:", request->room()), TypingData(request->name()), nullptr);
  return reactor;
}

grpc::ServerUnaryReactor* ChatService::Presence(grpc::CallbackServerContext* context,
                                                const demo::v1::PresenceRequest* request,
                                                demo::v1::PresenceResponse* response) {
  if (grpc::Status s = CheckRoom(request->room()); !s.ok()) return Finished(context, std::move(s));
  std::shared_ptr<bridge::v1::BridgeControl::Stub> stub = Stub();
  if (stub == nullptr) {
    return Finished(context,
                    grpc::Status(grpc::StatusCode::UNAVAILABLE, "no bridge to ask for presence"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto* call = new ControlCall<bridge::v1::PresenceRequest, bridge::v1::PresenceResponse>;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + kControlTimeout));
  call->request.set_channel(absl::StrCat("chat:", request->room()));
  stub->async()->Presence(&call->context, &call->request, &call->response,
                          [reactor, call, response](grpc::Status status) {
                            if (status.ok()) {
                              std::vector<std::string> ids;
                              for (const bridge::v1::ClientInfo& c : call->response.clients()) {
                                if (!c.client_id().empty()) ids.push_back(c.client_id());
                              }
                              std::sort(ids.begin(), ids.end());
                              ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
                              for (std::string& id : ids) response->add_client_ids(std::move(id));
                            }
                            reactor->Finish(status);
                            delete call;
                          });
  return reactor;
}

}  // namespace harness::backend
