#include "bridge/upstream/trace_context.h"

#include "absl/strings/str_cat.h"

namespace bridge::upstream {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// A random id of `bytes` bytes that is not all zero (W3C: all-zero ids are invalid).
std::string NonZeroId(size_t bytes, const HexSource& random) {
  std::string id = random(bytes);
  while (AllZero(id)) id = random(bytes);
  return id;
}

}  // namespace

std::string TraceParent::ToString() const {
  return absl::StrCat("00-", trace_id, "-", parent_id, "-", flags);
}

absl::StatusOr<TraceParent> ParseTraceParent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
  constexpr size_t kLength = 55;
  if (v.size() < kLength || v[2] != '-' || v[35] != '-' || v[52] != '-') {
    return absl::InvalidArgumentError(
        "traceparent must read 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>");
  }
  const std::string_view version = v.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") {
    return absl::InvalidArgumentError(
        "traceparent: the version must be 2 lower-case hex digits, "
        "not ff");
  }
  if (v.size() > kLength && (version == "00" || v[kLength] != '-')) {
    return absl::InvalidArgumentError("traceparent: unexpected characters after the flags");
  }
  TraceParent p;
  p.trace_id = std::string(v.substr(3, 32));
  p.parent_id = std::string(v.substr(36, 16));
  p.flags = std::string(v.substr(53, 2));
  if (!IsLowerHex(p.trace_id) || AllZero(p.trace_id)) {
    return absl::InvalidArgumentError(
        "traceparent: the trace id must be 32 lower-case hex digits, not all zero");
  }
  if (!IsLowerHex(p.parent_id) || AllZero(p.parent_id)) {
    return absl::InvalidArgumentError(
        "traceparent: the parent id must be 16 lower-case hex digits, not all zero");
  }
  if (!IsLowerHex(p.flags)) {
    return absl::InvalidArgumentError("traceparent: the flags must be 2 lower-case hex digits");
  }
  return p;
}

absl::Status CheckTraceState(std::string_view value) {
  if (value.size() > kMaxTraceStateBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("tracestate is ", value.size(), " bytes; at most ", kMaxTraceStateBytes));
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("tracestate must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

std::optional<CallTrace> ChildTrace(const TraceParent* from, std::string_view tracestate,
                                    bool start_new, const HexSource& random) {
  CallTrace trace;
  if (from != nullptr) {
    trace.parent.trace_id = from->trace_id;
    trace.parent.flags = from->flags;
    trace.tracestate = std::string(tracestate);
  } else if (start_new) {
    trace.parent.trace_id = NonZeroId(16, random);
    trace.parent.flags = "01";  // sampled: the bridge started it to be seen
  } else {
    return std::nullopt;
  }
  trace.parent.parent_id = NonZeroId(8, random);
  return trace;
}

}  // namespace bridge::upstream
