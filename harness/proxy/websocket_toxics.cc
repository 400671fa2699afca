#include "harness/proxy/websocket_toxics.h"

#include <chrono>

#include "simdjson.h"

namespace harness::proxy {

std::optional<std::string> JsonFrameType(std::string_view payload) {
  if (payload.empty() || payload.front() != '{') return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(payload.data(), payload.size()).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view type;
  if (root["type"].get_string().get(type) != simdjson::SUCCESS) return std::nullopt;
  return std::string(type);
}

void WsCloseStage::OnWebSocketOpen() {
  if (fired_) return;
  if (after_ms_ > 0) {
    RunAfter(std::chrono::milliseconds(after_ms_), [this] { Fire(); });
  } else if (after_frames_ == 0) {
    Fire();
  }
}

void WsCloseStage::OnChunk(Chunk chunk) {
  if (!fired_ && chunk.frame && CountsFrames() && frames_ >= after_frames_) Fire();
  if (fired_) {
    Drop(chunk);
    return;
  }
  const bool is_frame = chunk.frame.has_value();
  Emit(std::move(chunk));
  if (is_frame && ++frames_ == after_frames_) Fire();
}

void WsCloseStage::Fire() {
  if (fired_ || !attached()) return;
  fired_ = true;
  CancelTimer();
  WsFrame close = CloseFrame(code_, reason_);
  if (host().direction() == Direction::kUpstream) {
    host().SendCloseToClient(std::move(close));
    return;
  }
  Chunk chunk;
  chunk.bytes = EncodeFrame(close);
  chunk.frame = std::move(close);
  chunk.then = Chunk::Then::kCloseSentToClient;
  Emit(std::move(chunk));
}

void WsDropHeartbeatStage::OnChunk(Chunk chunk) {
  if (chunk.frame && IsHeartbeat(*chunk.frame)) {
    Drop(chunk);
  } else {
    Emit(std::move(chunk));
  }
}

bool WsDropHeartbeatStage::IsHeartbeat(const WsFrame& frame) {
  const bool downstream = host().direction() == Direction::kDownstream;
  if (frame.opcode == (downstream ? kWsPong : kWsPing)) return true;
  if (frame.opcode != kWsText || !frame.fin) return false;
  return JsonFrameType(frame.payload) == (downstream ? "pong" : "ping");
}

void WsStallStage::OnChunk(Chunk chunk) {
  if (!stalled_ && chunk.frame && frames_ >= after_frames_) stalled_ = true;
  if (stalled_) {
    held_.push_back(std::move(chunk));
    return;
  }
  if (chunk.frame) ++frames_;
  Emit(std::move(chunk));
}

void WsStallStage::Flush() {
  std::vector<Chunk> held = std::move(held_);
  held_.clear();
  for (Chunk& chunk : held) Emit(std::move(chunk));
}

void WsCorruptStage::OnChunk(Chunk chunk) {
  if (chunk.frame) {
    if (!done_ && frames_ >= after_frames_ && CanCorrupt(*chunk.frame, corruption_)) {
      Corrupt(corruption_, &*chunk.frame);
      chunk.bytes = EncodeFrame(*chunk.frame);
      done_ = true;
    }
    ++frames_;
  }
  Emit(std::move(chunk));
}

}  // namespace harness::proxy
