#include "bridge/server/close_reasons.h"

#include <array>
#include <iterator>
#include <string>

namespace bridge::server {
namespace {

namespace perr = websocketpp::processor::error;

struct Row {
  perr::processor_errors error;
  std::string_view word;
};

// Every processor error of websocketpp 0.8.2. The close code stays websocketpp's
// (processor::error::to_ws): 1002 for the RFC 6455 violations, 1007 for invalid_payload and
// invalid_utf8, 1009 for message_too_big, 1011 otherwise. The handshake's errors end in an
// HTTP answer, not a close, and are listed so that no sentence can reach a client.
constexpr Row kRows[] = {
    {perr::general, "websocket_error"},
    {perr::bad_request, "bad_request"},
    {perr::protocol_violation, "protocol_violation"},
    {perr::message_too_big, "message_too_big"},
    {perr::invalid_payload, "invalid_payload"},
    {perr::invalid_arguments, "invalid_arguments"},
    {perr::invalid_opcode, "invalid_opcode"},
    {perr::control_too_big, "control_frame_too_big"},
    {perr::invalid_rsv_bit, "reserved_bits_set"},
    {perr::fragmented_control, "fragmented_control_frame"},
    {perr::invalid_continuation, "invalid_continuation"},
    {perr::masking_required, "unmasked_frame"},
    {perr::masking_forbidden, "masked_frame"},
    {perr::non_minimal_encoding, "non_minimal_length"},
    {perr::requires_64bit, "frame_too_long"},
    {perr::invalid_utf8, "invalid_utf8"},
    {perr::not_implemented, "not_implemented"},
    {perr::invalid_http_method, "bad_request"},
    {perr::invalid_http_version, "bad_request"},
    {perr::invalid_http_status, "bad_request"},
    {perr::missing_required_header, "bad_request"},
    {perr::sha1_library, "websocket_error"},
    {perr::no_protocol_support, "unsupported_websocket_version"},
    {perr::reserved_close_code, "reserved_close_code"},
    {perr::invalid_close_code, "invalid_close_code"},
    {perr::reason_requires_code, "close_reason_without_code"},
    {perr::subprotocol_parse_error, "bad_subprotocol"},
    {perr::extension_parse_error, "bad_extension"},
    {perr::extensions_disabled, "extensions_disabled"},
    {perr::short_key3, "bad_request"},
};

}  // namespace

std::string_view LibraryCloseWord(perr::processor_errors error) {
  for (const Row& row : kRows) {
    if (row.error == error) return row.word;
  }
  return "websocket_error";
}

std::string_view CloseReasonWord(std::string_view reason) {
  // Each row's sentence, made once rather than at every close.
  static const auto* const sentences = [] {
    auto* out = new std::array<std::string, std::size(kRows)>;
    for (size_t i = 0; i < std::size(kRows); ++i) {
      (*out)[i] = perr::get_processor_category().message(kRows[i].error);
    }
    return out;
  }();
  for (size_t i = 0; i < std::size(kRows); ++i) {
    if ((*sentences)[i] == reason) return kRows[i].word;
  }
  return reason;
}

}  // namespace bridge::server
