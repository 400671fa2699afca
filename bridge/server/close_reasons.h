// The reason words of the closes websocketpp makes itself when a client breaks RFC 6455 (a bad
// opcode, reserved bits, a text message that is not UTF-8, a message over max_frame_bytes):
// websocketpp closes with its error's sentence ("Invalid UTF8 encoding"); the bridge sends the
// short machine-readable word docs/protocol.md ("Close codes") names instead ("invalid_utf8").
// ws_config.h routes every close of the bridge's connections through CloseReasonWord.
#ifndef BRIDGE_SERVER_CLOSE_REASONS_H_
#define BRIDGE_SERVER_CLOSE_REASONS_H_

#include <string_view>

#include "websocketpp/processors/base.hpp"

namespace bridge::server {

// The word for websocketpp's processor error `error`; "websocket_error" for a value outside
// the table.
std::string_view LibraryCloseWord(websocketpp::processor::error::processor_errors error);

// The reason a close carries: the word for `reason` when it is a processor error's sentence,
// else `reason` itself (the bridge's own closes already carry words).
std::string_view CloseReasonWord(std::string_view reason);

}  // namespace bridge::server

#endif  // BRIDGE_SERVER_CLOSE_REASONS_H_
