#include "harness/proxy/stream_decoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bridge/common/strings.h"

namespace harness::proxy {
namespace {

using ::bridge::Sv;

// What the first bytes of an HTTP/1.1 head are in each direction.
std::string_view HeadPrefix(Direction direction) {
  return direction == Direction::kUpstream ? "GET " : "HTTP/1.1 ";
}

}  // namespace

std::string_view DirectionName(Direction direction) {
  return direction == Direction::kUpstream ? "upstream" : "downstream";
}

bool IsWebSocketUpgradeRequest(std::string_view head) {
  for (absl::string_view line : absl::StrSplit(Sv(head), "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)), "upgrade") &&
        absl::StrContains(absl::AsciiStrToLower(line.substr(colon + 1)), "websocket")) {
      return true;
    }
  }
  return false;
}

bool IsSwitchingProtocols(std::string_view head) {
  return absl::StartsWith(Sv(head), "HTTP/1.1 101");
}

bool StreamDecoder::Next(Chunk* chunk) {
  if (mode_ == Mode::kSniff) {
    const std::string_view prefix = HeadPrefix(direction_);
    const size_t n = std::min(prefix.size(), buffer_.size());
    if (buffer_.compare(0, n, prefix.substr(0, n)) != 0) {
      mode_ = Mode::kRaw;
    } else if (n == prefix.size()) {
      mode_ = Mode::kHead;
    } else {
      return false;
    }
  }
  switch (mode_) {
    case Mode::kHead:
      return NextHead(chunk);
    case Mode::kFrames:
      return NextFrame(chunk);
    default:
      return NextRaw(chunk);
  }
}

bool StreamDecoder::NextHead(Chunk* chunk) {
  const size_t end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (buffer_.size() <= kMaxHeadBytes) return false;
    mode_ = Mode::kRaw;
    return NextRaw(chunk);
  }
  const size_t size = end + 4;
  const std::string_view head(buffer_.data(), size);
  const bool upgraded = direction_ == Direction::kUpstream ? IsWebSocketUpgradeRequest(head)
                                                           : IsSwitchingProtocols(head);
  *chunk = Chunk();
  chunk->bytes = buffer_.substr(0, size);
  buffer_.erase(0, size);
  if (upgraded && direction_ == Direction::kDownstream) {
    chunk->then = Chunk::Then::kWebSocketOpen;
  }
  mode_ = upgraded ? Mode::kFrames : Mode::kRaw;
  return true;
}

bool StreamDecoder::NextFrame(Chunk* chunk) {
  WsFrame frame;
  size_t size = 0;
  switch (ParseFrame(buffer_, &frame, &size, max_frame_payload_)) {
    case ParseResult::kNeedMore:
      return false;
    case ParseResult::kTooBig:
      mode_ = Mode::kRaw;
      return NextRaw(chunk);
    case ParseResult::kDone:
      break;
  }
  *chunk = Chunk();
  chunk->bytes = buffer_.substr(0, size);
  chunk->frame = std::move(frame);
  buffer_.erase(0, size);
  return true;
}

bool StreamDecoder::NextRaw(Chunk* chunk) {
  if (buffer_.empty()) return false;
  *chunk = Chunk();
  chunk->bytes = std::move(buffer_);
  buffer_.clear();
  return true;
}

std::string StreamDecoder::TakeRest() {
  std::string rest = std::move(buffer_);
  buffer_.clear();
  return rest;
}

}  // namespace harness::proxy
