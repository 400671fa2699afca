// What the cases of the conformance suite share: the steps they repeat (send a frame and read
// the answer, check an error frame against the table of docs/protocol.md, wait for a close and
// judge its code and reason word, prove a session or the server still up) and the lists of
// cases of each group, which AllCases puts in order. For the case files of this folder only.
//
// Everything here runs on the runner's thread, inside one case.
#ifndef HARNESS_CONFORMANCE_CASES_COMMON_H_
#define HARNESS_CONFORMANCE_CASES_COMMON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/common/raw_ws_client.h"
#include "harness/conformance/json_frame.h"
#include "harness/conformance/suite.h"

namespace harness::conformance::cases {

// The cases of each group, in their order; AllCases lists the groups in this order.
std::vector<Case> HandshakeCases();     // 1. handshake
std::vector<Case> VersionCases();       // 2. versions
std::vector<Case> HeartbeatCases();     // 3. heartbeat
std::vector<Case> BadInputCases();      // 4. bad input
std::vector<Case> ErrorMappingCases();  // 5. error mapping
std::vector<Case> StreamCases();        // 6. streams
std::vector<Case> ResumeCases();        // 7. resume
std::vector<Case> CloseCodeCases();     // 8. close codes
std::vector<Case> ChannelCases();       // 9. channels
std::vector<Case> ClientStringCases();  // 10. client strings
std::vector<Case> RateLimitCases();     // 11. rate limit

// `cases` sorted by id, "4.2" before "4.10": for a group whose cases come from tables and
// functions.
std::vector<Case> InIdOrder(std::vector<Case> cases);

using Session = CaseContext::Session;

inline constexpr char kPing[] = R"({"type":"ping"})";

// "250 ms".
std::string Ms(absl::Duration d);

// The verdict for a session that could not be opened and confirmed.
Verdict NoSession(const absl::Status& status);

// What the client saw of a close: "close 1002 \"protocol_error\"" or how the connection ended.
std::string DescribeEnd(const RawWsClient& ws, const absl::Status& status);

// docs/protocol.md: "The close reason is a short machine-readable word (`heartbeat_timeout`),
// never internal detail." Empty is allowed.
bool IsReasonWord(std::string_view reason);

// Waits for the server's close frame and checks its code (Fail) and reason word (Non-strict;
// `reason` empty accepts any word). A TCP end without a close frame is Non-strict when
// `drop_is_non_strict` (RFC 6455 lets a server fail the connection that way), else a failure.
Verdict ExpectClose(RawWsClient& ws, int code, std::string_view reason, absl::Duration timeout,
                    bool drop_is_non_strict = false);

// Counts `verdict` into `c`: its Fail as a failure, its Non-strict as a deviation.
void Fold(Checks& c, const Verdict& verdict);

// An error frame as the table of docs/protocol.md has it.
struct ErrorSpec {
  std::string category;
  std::optional<bool> retryable;  // unset: either is allowed (idempotent-only categories)
  std::string message_id;         // "" for a session error
  std::optional<int> grpc_code;
  std::optional<std::string> field;  // for protocol errors: the offending field's path
};

// Checks that `f` is the error frame of `spec`.
void CheckError(Checks& c, const JsonFrame& f, const ErrorSpec& spec);

// Sends `text` and returns the next frame (a failed send is the error).
absl::StatusOr<JsonFrame> Ask(CaseContext& ctx, RawWsClient& ws, std::string_view text);

// A ping on `ws` gets its pong: true when so, else a failure "`when`: what came instead".
bool RequireAlive(CaseContext& ctx, RawWsClient& ws, Checks& c, std::string_view when);

// A fresh connection is confirmed and its ping answered: the server outlived what the case sent.
void CheckServerUp(CaseContext& ctx, Checks& c);

// --- calls of the demo service

// The members of a message calling the demo method `name`: "method":"demo.v1.Echo/<name>",
// then `rest` (",\"payload\":{...}").
std::string MethodMembers(const CaseContext& ctx, std::string_view name, std::string_view rest);

// The members of a Say of `text` with `metadata` (a JSON object).
std::string SayMembers(const CaseContext& ctx, std::string_view text, std::string_view metadata);

// A message frame of `id` with `members` (a JSON object's members after "type" and
// "messageId"): {"type":"message","messageId":"<id>",<members>}.
std::string CallFrame(std::string_view id, std::string_view members);

// Sends CallFrame(id, members).
absl::Status SendCall(RawWsClient& ws, std::string_view id, std::string_view members);

// SendCall, then the next frame.
absl::StatusOr<JsonFrame> Call(CaseContext& ctx, RawWsClient& ws, std::string_view id,
                               std::string_view members,
                               std::optional<absl::Duration> timeout = std::nullopt);

// A Say on `ws` answered with its response: "" when so, else what came instead.
std::string NextCallWorks(CaseContext& ctx, RawWsClient& ws, const std::string& id);

// --- refusals of a connection

// How a server refuses a connection: an error frame, then a close.
struct Refusal {
  ErrorSpec error;
  int close_code = 1002;
  std::string reason;  // the close reason word
  // A close without the error frame before it: Non-strict rather than Fail.
  bool error_frame_optional = false;
  // What a connect_confirm would wrongly accept, for the report: "<refused> was confirmed".
  std::string refused = "the connection";
};

// Opens a connection, sends `first` as its first frame and checks the refusal of `refusal`.
// Returns what was seen.
std::string CheckRefused(CaseContext& ctx, Checks& c, std::string_view first,
                         const Refusal& refusal);

// CheckRefused as the verdict of a case.
Verdict Refused(CaseContext& ctx, std::string_view first, const Refusal& refusal);

// --- channels and strings

// A channel name no earlier run used, so its history holds only this case's publications.
std::string FreshChannel(std::string_view what);

// {"type":"subscribe","channel":"<channel>"<extra>}.
std::string SubscribeFrame(std::string_view channel, std::string_view extra = "");

// {"type":"unsubscribe","channel":"<channel>"}.
std::string UnsubscribeFrame(std::string_view channel);

// Sends `frame` and reads the answer frames until one of type `until` or `or_until` (or `max`
// frames).
absl::StatusOr<std::vector<JsonFrame>> Exchange(CaseContext& ctx, RawWsClient& ws,
                                                const std::string& frame, std::string_view until,
                                                int max = 4, std::string_view or_until = "");

// The frames' texts, for the report.
std::string Texts(const std::vector<JsonFrame>& frames);

// Checks a subscribed / unsubscribed frame: its channel, and for subscribed offset and epoch.
void CheckChannelState(Checks& c, const JsonFrame& f, std::string_view type,
                       std::string_view channel);

// `s` as a JSON string, quotes included: '"', '\' and control bytes escaped, every other byte
// (UTF-8 included) as it is.
std::string JsonString(std::string_view s);

}  // namespace harness::conformance::cases

#endif  // HARNESS_CONFORMANCE_CASES_COMMON_H_
