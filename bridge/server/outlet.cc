#include "bridge/server/outlet.h"

namespace bridge::server {

std::string FrameHeader(websocketpp::frame::opcode::value opcode, size_t size) {
  std::string h(1, static_cast<char>(0x80 | opcode));
  if (size < 126) {
    h.push_back(static_cast<char>(size));
  } else if (size <= 0xffff) {
    h.push_back(static_cast<char>(126));
    h.push_back(static_cast<char>(size >> 8));
    h.push_back(static_cast<char>(size & 0xff));
  } else {
    h.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  }
  return h;
}

}  // namespace bridge::server
