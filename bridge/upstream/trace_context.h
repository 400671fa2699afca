// W3C Trace Context (https://www.w3.org/TR/trace-context/) for the calls the bridge makes: the
// `traceparent` and `tracestate` a client sends (in a message's metadata, or in the WebSocket
// upgrade request) are checked, and each call upstream gets a child of the client's span: the
// same trace id, a new span id. A call without one can start a new trace. Pure functions; any
// thread.
#ifndef BRIDGE_UPSTREAM_TRACE_CONTEXT_H_
#define BRIDGE_UPSTREAM_TRACE_CONTEXT_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "bridge/protocol/frame_codec.h"

namespace bridge::upstream {

using protocol::kTraceParentKey;
using protocol::kTraceStateKey;
// tracestate is at most 32 list members; 512 bytes is what W3C asks to keep at the least.
inline constexpr size_t kMaxTraceStateBytes = 512;

struct TraceParent {
  std::string trace_id;   // 32 lower-case hex digits, not all zero
  std::string parent_id;  // 16 lower-case hex digits, not all zero: the caller's span
  std::string flags;      // 2 hex digits; bit 0: sampled

  // "00-<trace_id>-<parent_id>-<flags>".
  std::string ToString() const;
};

// Parses a traceparent header value. Version 00 must be exactly "00-{32}-{16}-{2}"; a later
// version may carry more after the flags ("-..."), which is dropped, as W3C asks of parsers of
// an older version; version ff, upper-case hex, zero ids and other shapes are refused, naming
// what is wrong.
absl::StatusOr<TraceParent> ParseTraceParent(std::string_view value);

// A tracestate value the bridge passes on: at most kMaxTraceStateBytes of printable ASCII
// (list members are not parsed: a downstream service reads its own).
absl::Status CheckTraceState(std::string_view value);

// The context of one call upstream.
struct CallTrace {
  TraceParent parent;      // the call's own span: parent.parent_id is the new span id
  std::string tracestate;  // passed on unchanged; empty: none
};

// Random lower-case hex of `bytes` bytes (RandomHex in the bridge; a fixed source in tests).
using HexSource = std::function<std::string(size_t bytes)>;

// The call's context as a child of `from` (a new span id from `random`), or, when `from` is
// null, a new trace (new trace and span ids, sampled) if `start_new`; nullopt otherwise.
std::optional<CallTrace> ChildTrace(const TraceParent* from, std::string_view tracestate,
                                    bool start_new, const HexSource& random);

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_TRACE_CONTEXT_H_
