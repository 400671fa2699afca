// The chat demo's backend (demo.v1.Chat, proto/demo/v1/chat.proto) on gRPC's callback API. It
// keeps no state of its own: a post or a typing notice is published to the bridge's channels
// through bridge.v1.BridgeControl, and a room's presence is that of its channel.
//
//   Post{room, name, text}  -> Publish chat:<room>   {"kind":"message","name":…,"text":…,"at":…}
//   Typing{room, name}      -> Publish typing:<room> {"kind":"typing","name":…}
//   Presence{room}          -> Presence chat:<room>, the client ids sorted and each once
//
// Bad input is INVALID_ARGUMENT naming the field; a call made before SetBridgeControl, or one
// the bridge does not answer within two seconds, fails with UNAVAILABLE (DEADLINE_EXCEEDED for
// the latter), the bridge's own status otherwise.
//
// Thread-safe; handlers run on gRPC's threads, never block, and finish from the BridgeControl
// call's callback.
#ifndef HARNESS_BACKEND_CHAT_SERVICE_H_
#define HARNESS_BACKEND_CHAT_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "proto/bridge/v1/control.grpc.pb.h"
#include "proto/demo/v1/chat.grpc.pb.h"

namespace harness::backend {

class ChatService final : public demo::v1::Chat::CallbackService {
 public:
  // `now` stamps each message's "at".
  explicit ChatService(std::function<absl::Time()> now = absl::Now);

  // The bridge to publish through (its control_listen port). Replaces the previous one.
  void SetBridgeControl(std::shared_ptr<grpc::Channel> channel);

  grpc::ServerUnaryReactor* Post(grpc::CallbackServerContext* context,
                                 const demo::v1::PostRequest* request,
                                 demo::v1::PostResponse* response) override;
  grpc::ServerUnaryReactor* Typing(grpc::CallbackServerContext* context,
                                   const demo::v1::TypingRequest* request,
                                   demo::v1::TypingResponse* response) override;
  grpc::ServerUnaryReactor* Presence(grpc::CallbackServerContext* context,
                                     const demo::v1::PresenceRequest* request,
                                     demo::v1::PresenceResponse* response) override;

  // The publications' data (JSON text).
  static std::string MessageData(std::string_view name, std::string_view text, absl::Time at);
  static std::string TypingData(std::string_view name);

 private:
  std::shared_ptr<bridge::v1::BridgeControl::Stub> Stub() const;

  // Publishes `data` to `channel` and finishes `reactor` with the outcome; `done` (may be
  // empty) sees the answer first.
  void Publish(grpc::ServerUnaryReactor* reactor, std::string channel, std::string data,
               std::function<void(const bridge::v1::PublishResponse&)> done);

  const std::function<absl::Time()> now_;
  mutable absl::Mutex mu_;
  std::shared_ptr<bridge::v1::BridgeControl::Stub> stub_ ABSL_GUARDED_BY(mu_);
};

}  // namespace harness::backend

#endif  // HARNESS_BACKEND_CHAT_SERVICE_H_
