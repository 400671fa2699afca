// The WebSocket toxics: they act on RFC 6455 frames once a connection has upgraded (ws_close,
// ws_drop_heartbeat, ws_stall, ws_corrupt). On a connection that is not a WebSocket they see
// no frames and do nothing. See fault.proto for what each does and its attributes.
//
// Threading: as every ToxicStage, on the connection's strand.
#ifndef HARNESS_PROXY_WEBSOCKET_TOXICS_H_
#define HARNESS_PROXY_WEBSOCKET_TOXICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/proxy/toxic.h"

namespace harness::proxy {

// The "type" of a JSON text frame of the bridge protocol ({"type":"pong",...}); nullopt when
// `payload` is not a JSON object with a string "type".
std::optional<std::string> JsonFrameType(std::string_view payload);

// ws_close: sends the client a close frame with `code` and `reason` after `after_frames`
// frames in this direction or `after_ms` since the upgrade, whichever comes first (at once
// when both are 0); from then on nothing passes.
class WsCloseStage : public ToxicStage {
 public:
  WsCloseStage(uint16_t code, std::string reason, uint32_t after_frames, uint32_t after_ms)
      : code_(code), reason_(std::move(reason)), after_frames_(after_frames), after_ms_(after_ms) {}
  void OnChunk(Chunk chunk) override;
  void OnWebSocketOpen() override;

 private:
  bool CountsFrames() const { return after_frames_ > 0 || after_ms_ == 0; }
  void Fire();

  uint16_t code_;
  std::string reason_;
  uint32_t after_frames_;
  uint32_t after_ms_;
  uint32_t frames_ = 0;
  bool fired_ = false;
};

// ws_drop_heartbeat: drops pongs going downstream, pings going upstream: control frames, and
// JSON text frames of that "type".
class WsDropHeartbeatStage : public ToxicStage {
 public:
  void OnChunk(Chunk chunk) override;

 private:
  bool IsHeartbeat(const WsFrame& frame);
};

// ws_stall: frames after the first `after_frames` are held (with whatever follows them) until
// the toxic is removed.
class WsStallStage : public ToxicStage {
 public:
  explicit WsStallStage(uint32_t after_frames) : after_frames_(after_frames) {}
  void OnChunk(Chunk chunk) override;
  void Flush() override;

 private:
  uint32_t after_frames_;
  uint32_t frames_ = 0;
  bool stalled_ = false;
  std::vector<Chunk> held_;
};

// ws_corrupt: corrupts the first frame it can after `after_frames` frames; a masked
// (client-to-server) frame is masked again with its key.
class WsCorruptStage : public ToxicStage {
 public:
  WsCorruptStage(uint32_t after_frames, Corruption corruption)
      : after_frames_(after_frames), corruption_(corruption) {}
  void OnChunk(Chunk chunk) override;

 private:
  uint32_t after_frames_;
  Corruption corruption_;
  uint32_t frames_ = 0;
  bool done_ = false;
};

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_WEBSOCKET_TOXICS_H_
