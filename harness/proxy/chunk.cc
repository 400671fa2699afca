#include "harness/proxy/chunk.h"

#include <algorithm>
#include <utility>

namespace harness::proxy {

std::vector<Chunk> SplitChunk(Chunk chunk, size_t max_size) {
  std::vector<size_t> sizes;
  for (size_t left = chunk.bytes.size(); left > 0; left -= std::min(left, max_size)) {
    sizes.push_back(std::min(left, max_size));
  }
  return SplitChunk(std::move(chunk), sizes);
}

std::vector<Chunk> SplitChunk(Chunk chunk, const std::vector<size_t>& sizes) {
  std::vector<Chunk> pieces;
  if (sizes.size() <= 1) {
    pieces.push_back(std::move(chunk));
    return pieces;
  }
  size_t offset = 0;
  size_t credit_left = chunk.credit;
  for (const size_t size : sizes) {
    Chunk piece;
    piece.bytes = chunk.bytes.substr(offset, size);
    piece.credit = std::min(credit_left, size);
    credit_left -= piece.credit;
    offset += size;
    pieces.push_back(std::move(piece));
  }
  pieces.back().credit += credit_left;
  pieces.back().then = chunk.then;
  return pieces;
}

}  // namespace harness::proxy
