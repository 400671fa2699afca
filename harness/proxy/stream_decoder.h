// Cuts one direction of a proxied connection into chunks for the toxics. A connection that
// starts with a WebSocket upgrade (an HTTP/1.1 GET with "Upgrade: websocket", answered by
// "101") is cut into its HTTP head, then one chunk per frame; anything else (an HTTP/2 gRPC
// connection, a refused upgrade, bytes that are not frames) goes on as the bytes were read.
//
// Threading: one decoder per direction, used on its connection's strand.
#ifndef HARNESS_PROXY_STREAM_DECODER_H_
#define HARNESS_PROXY_STREAM_DECODER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "harness/proxy/chunk.h"

namespace harness::proxy {

enum class Direction {
  kUpstream,    // client to server
  kDownstream,  // server to client
};

std::string_view DirectionName(Direction direction);

class StreamDecoder {
 public:
  // An HTTP head longer than this is not an upgrade the decoder follows.
  static constexpr size_t kMaxHeadBytes = 64 * 1024;

  explicit StreamDecoder(Direction direction, uint64_t max_frame_payload = kMaxFramePayload)
      : direction_(direction), max_frame_payload_(max_frame_payload) {}

  // Appends bytes read from the source. Then call Next until it returns false.
  void Feed(std::string_view bytes) { buffer_.append(bytes); }

  // Takes the next chunk: the upgrade head (downstream, its `then` is kWebSocketOpen), a
  // frame, or raw bytes. False when the buffer holds only part of one.
  bool Next(Chunk* chunk);

  // At the end of the stream: whatever is left as raw bytes (empty when nothing is).
  std::string TakeRest();

  // Whether the stream is being cut into frames.
  bool in_frames() const { return mode_ == Mode::kFrames; }

 private:
  enum class Mode {
    kSniff,   // the first bytes decide: an HTTP/1.1 head, or raw
    kHead,    // reading the HTTP head
    kFrames,  // after the upgrade
    kRaw,
  };

  bool NextHead(Chunk* chunk);
  bool NextFrame(Chunk* chunk);
  bool NextRaw(Chunk* chunk);

  Direction direction_;
  uint64_t max_frame_payload_;
  Mode mode_ = Mode::kSniff;
  std::string buffer_;
};

// Whether the HTTP request head `head` asks for a WebSocket upgrade.
bool IsWebSocketUpgradeRequest(std::string_view head);
// Whether the HTTP response head `head` is "101 Switching Protocols".
bool IsSwitchingProtocols(std::string_view head);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_STREAM_DECODER_H_
