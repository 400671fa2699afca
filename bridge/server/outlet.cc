#include "bridge/server/outlet.h"

#include "bridge/common/ws_frame.h"

namespace bridge::server {

std::string FrameHeader(websocketpp::frame::opcode::value opcode, size_t size) {
  ws::Header header;
  header.opcode = static_cast<uint8_t>(opcode);
  header.payload_size = size;
  std::string out;
  ws::AppendHeader(header, &out);
  return out;
}

}  // namespace bridge::server
