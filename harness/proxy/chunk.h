// The unit that moves through one direction of a proxied connection: bytes for the
// destination socket, the WebSocket frame they are when they are exactly one, and what the
// destination does once they are written. Plain data with one owner at a time (the stage or
// writer holding it); no threading of its own.
#ifndef HARNESS_PROXY_CHUNK_H_
#define HARNESS_PROXY_CHUNK_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "harness/proxy/ws_frame.h"

namespace harness::proxy {

struct Chunk {
  // What the destination does after writing the chunk's bytes, in stream order.
  enum class Then {
    kNothing,
    kWebSocketOpen,      // the bytes are the 101 answer: the WebSocket is open at the client
    kHalfClose,          // the source ended: shut down sending to the destination
    kCloseConnection,    // close both sockets
    kCloseSentToClient,  // the bytes are a close frame from the proxy: await the client's
  };

  std::string bytes;
  std::optional<WsFrame> frame;  // set when `bytes` are exactly this frame
  Then then = Then::kNothing;
  // How many bytes read from the source this chunk stands for; given back when it is written
  // or dropped, it lets the source be read again (flow control).
  size_t credit = 0;
};

// A chunk with no bytes that only signals `then`.
inline Chunk Signal(Chunk::Then then) {
  Chunk chunk;
  chunk.then = then;
  return chunk;
}

// Cuts `chunk` into pieces of at most `max_size` bytes (> 0). The pieces are no longer frames;
// the credit is shared out by size, and `then` goes with the last piece.
std::vector<Chunk> SplitChunk(Chunk chunk, size_t max_size);

// Cuts `chunk` into pieces of the given sizes (their sum is the chunk's size; a chunk without
// bytes stays whole), like SplitChunk.
std::vector<Chunk> SplitChunk(Chunk chunk, const std::vector<size_t>& sizes);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_CHUNK_H_
