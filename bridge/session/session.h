// One client session: the handshake, the heartbeat, frame dispatch and the per-session `seq`.
//
// A Session knows nothing of sockets: it talks to its connection through `Transport`
// (server/ implements it over websocketpp; tests use a fake). Every method of Session, and
// every Transport call it makes, runs on the connection's strand.
//
// Steps: Start -> (OnMessage)* with `connect` first -> connect_confirm -> frames, pings ->
// close (by the client, a timeout, bad input, or Shutdown) -> OnClosed.
#ifndef BRIDGE_SESSION_SESSION_H_
#define BRIDGE_SESSION_SESSION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "bridge/common/clock.h"
#include "bridge/metrics/metrics.h"
#include "bridge/protocol/frame_codec.h"
#include "proto/bridge/v1/config.pb.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::session {

enum class SessionTimer { kHandshake = 0, kHeartbeat = 1 };
inline constexpr int kSessionTimerCount = 2;

// The connection under a session. Called on the session's strand only.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one WebSocket message: text for kJson, binary for kBinary.
  virtual void Send(std::string data, protocol::Encoding encoding) = 0;
  // Starts the close handshake with `code` and a short machine-readable `reason`.
  virtual void Close(int code, std::string_view reason) = 0;
  // (Re)arms `timer` to call Session::OnTimer after `after`; re-arming replaces the old one.
  virtual void ArmTimer(SessionTimer timer, absl::Duration after) = 0;
  virtual void CancelTimer(SessionTimer timer) = 0;
};

// What a session needs of the configuration, resolved once from BridgeConfig.
struct SessionOptions {
  absl::Duration handshake_timeout = absl::Seconds(10);
  absl::Duration heartbeat_interval = absl::Seconds(30);
  absl::Duration heartbeat_timeout = absl::Seconds(60);
  std::string default_method;

  static SessionOptions FromConfig(const v1::BridgeConfig& config);
};

class Session {
 public:
  enum class State {
    kPending,    // WebSocket open, waiting for `connect`
    kConfirmed,  // connect_confirm sent
    kClosing,    // the bridge started closing
    kClosed,     // the connection is gone
  };

  // Produces conversation ids; must be unique within the process.
  using IdGenerator = std::function<std::string()>;

  Session(const SessionOptions& options, protocol::Encoding encoding, Transport* transport,
          Clock* clock, Metrics* metrics, IdGenerator new_conversation_id);

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The WebSocket is open.
  void Start();
  // One WebSocket message from the client; `binary` tells its opcode.
  void OnMessage(std::string_view data, bool binary);
  // A WebSocket ping control frame (websocketpp answers it).
  void OnControlPing();
  void OnTimer(SessionTimer timer);
  // The bridge is draining: close with 1001.
  void Shutdown();
  // The connection is gone, whoever closed it.
  void OnClosed();

  State state() const { return state_; }
  const std::string& conversation_id() const { return conversation_id_; }
  protocol::Encoding encoding() const { return encoding_; }
  uint64_t last_seq() const { return seq_; }

  // A random conversation id: "s-" and 32 hex digits.
  static std::string RandomConversationId();

 private:
  void Dispatch(v1::Frame& frame);
  void HandleConnect(const v1::Connect& connect);
  void HandleCallFrame(const v1::Frame& frame);

  void SendFrame(v1::Frame& frame);
  void SendError(v1::ErrorCategory category, std::string message, std::string field = "",
                 std::string message_id = "");
  void CloseWith(int code, std::string_view reason);
  void SetNow(google::protobuf::Timestamp* ts);

  const SessionOptions& options_;
  const protocol::Encoding encoding_;
  Transport* const transport_;
  Clock* const clock_;
  Metrics* const metrics_;
  IdGenerator new_conversation_id_;

  State state_ = State::kPending;
  std::string conversation_id_;
  std::string client_id_;
  uint64_t seq_ = 0;  // seq of the last frame sent; 0 before connect_confirm
  absl::Duration last_seen_;
  v1::Frame scratch_;  // reused for decoding
};

}  // namespace bridge::session

#endif  // BRIDGE_SESSION_SESSION_H_
