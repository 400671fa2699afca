// The case of group 11 (rate limit): every frame of a batch counts against a connection's
// rate limit, and the refusals carry the messageIds of the calls they refuse.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/conformance/cases_common.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace harness::conformance::cases {
namespace {

// The next server message as frames: the frame, or the frames of a server `batch` in order.
absl::StatusOr<std::vector<JsonFrame>> NextFrames(CaseContext& ctx, RawWsClient& ws) {
  absl::StatusOr<JsonFrame> f = ctx.Next(ws);
  if (!f.ok()) return f.status();
  std::vector<JsonFrame> out;
  const rapidjson::Value* inner = f->type() == "batch" ? f->Get("frames") : nullptr;
  if (inner == nullptr || !inner->IsArray()) {
    out.push_back(*std::move(f));
    return out;
  }
  for (const rapidjson::Value& v : inner->GetArray()) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    absl::StatusOr<JsonFrame> one =
        JsonFrame::Parse(std::string(buffer.GetString(), buffer.GetSize()));
    if (!one.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a server batch holds ", one.status().message(), ": ", Printable(f->text(), 300)));
    }
    out.push_back(*std::move(one));
  }
  return out;
}

// How many calls end the batch: where the bucket runs dry.
constexpr int kBatchCalls = 12;
// A burst the case cannot exceed in one message of reasonable size.
constexpr int kMaxBurstChecked = 20000;

Verdict BatchOverRateLimit(CaseContext& ctx) {
  const int burst = ctx.options().message_burst;
  const int strikes = ctx.options().rate_limit_strikes;
  if (burst <= 0) return Skip("--message_burst=0: the server's rate limit is not known");
  if (burst > kMaxBurstChecked) {
    return Skip(absl::StrCat("--message_burst=", burst, " is over ", kMaxBurstChecked,
                             ", more frames than one batch of this case holds"));
  }
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-11.1");
  if (!s.ok()) return NoSession(s.status());
  // The connect took a token: at most `burst` are left, so `over` frames more than the burst see
  // up to over + 1 refusals in a row, fewer when the bucket refills meanwhile. 8 over keeps them
  // below the default strikes limit (10) and leaves room for a slow server's refill; with fewer
  // strikes, 5 over, and the close 4029 may end the batch. Pings first, then the calls.
  const int over = std::clamp(strikes - 2, 5, 8);
  const int total = burst + over;
  const int calls = std::min(total, kBatchCalls);
  const int pings = total - calls;
  std::string batch = R"({"type":"batch","frames":[)";
  for (int i = 0; i < pings; ++i) absl::StrAppend(&batch, i == 0 ? "" : ",", kPing);
  std::vector<std::string> ids;
  for (int i = 0; i < calls; ++i) {
    ids.push_back(absl::StrCat("m-11.1-", i));
    absl::StrAppend(&batch, pings + i == 0 ? "" : ",",
                    CallFrame(ids.back(), SayMembers(ctx, "x", "{}")));
  }
  batch += "]}";
  if (absl::Status st = s->ws->SendText(batch); !st.ok()) return Fail(std::string(st.message()));

  Checks c;
  std::map<std::string, std::string> answers;  // messageId -> "response" or the error category
  std::vector<std::string> refused_ids;
  int pongs = 0;
  int refused_pings = 0;
  int64_t longest_retry_after = 0;
  bool closed = false;
  const auto check_refusal = [&](const JsonFrame& f, const std::string& id) {
    CheckError(c, f, {"rate_limited", true, id, std::nullopt, std::nullopt});
    const std::optional<int64_t> after = f.Int("retryAfterMs");
    c.Require(after.has_value() && *after > 0,
              absl::StrCat("refusal without a positive retryAfterMs: ", Printable(f.text(), 200)));
    longest_retry_after = std::max(longest_retry_after, after.value_or(0));
  };
  while (!c.failed() &&
         (static_cast<int>(answers.size()) < calls || pongs + refused_pings < pings)) {
    absl::StatusOr<std::vector<JsonFrame>> got = NextFrames(ctx, *s->ws);
    if (!got.ok()) {
      if (s->ws->close_code().has_value() || s->ws->connection_ended()) {
        closed = true;
      } else {
        c.Require(false, absl::StrCat(answers.size(), " of ", calls, " calls answered, ", pongs,
                                      " pongs and ", refused_pings, " refused pings of ", pings,
                                      ": ", got.status().message()));
      }
      break;
    }
    for (const JsonFrame& f : *got) {
      const std::string type = f.type();
      const std::string category = f.String("category").value_or("");
      const std::string id = f.String("messageId").value_or("");
      if (type == "pong") {
        ++pongs;
      } else if (id.empty()) {
        if (c.Require(type == "error" && category == "rate_limited",
                      absl::StrCat("unexpected ", Printable(f.text(), 200)))) {
          ++refused_pings;
          check_refusal(f, "");
        }
      } else if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        c.Require(false, absl::StrCat("an answer for messageId \"", Printable(id),
                                      "\", none of the batch's: ", Printable(f.text(), 200)));
      } else if (!answers.emplace(id, type == "error" ? category : type).second) {
        c.Require(false, absl::StrCat("a second answer for ", id, ": ", Printable(f.text(), 200)));
      } else if (type == "error" && category == "rate_limited") {
        refused_ids.push_back(id);
        check_refusal(f, id);
      } else {
        c.Require(type == "response" || type == "error",
                  absl::StrCat("the answer for ", id, " is ", Printable(f.text(), 200)));
      }
    }
  }
  const int refused = static_cast<int>(refused_ids.size()) + refused_pings;
  std::string seen =
      absl::StrCat(pings, " pings and ", calls, " calls in one batch (message_burst ", burst,
                   "): ", pongs, " pongs, ", refused_pings, " pings refused, calls answered ",
                   answers.size(), ", refused ", refused_ids.size(), " (",
                   absl::StrJoin(refused_ids, ", "), "), retryAfterMs up to ", longest_retry_after);
  if (closed) {
    // The strikes limit ended the connection: what came before the close is checked above.
    absl::StrAppend(&seen, "; then ", DescribeEnd(*s->ws, absl::OkStatus()));
    c.Require(s->ws->close_code() == 4029,
              absl::StrCat(DescribeEnd(*s->ws, absl::OkStatus()), ", expected close 4029 or none"));
    c.Require(refused + 1 >= strikes,
              absl::StrCat("closed after ", refused, " refusals; rate_limit_strikes is ", strikes,
                           " (--rate_limit_strikes)"));
    c.Prefer(IsReasonWord(s->ws->close_reason()),
             "the close reason should be a short machine-readable word");
    return c.Result(seen);
  }
  if (c.failed()) return c.Result(seen);
  c.Require(refused > 0, absl::StrCat("no frame refused: ", total,
                                      " frames in one batch fit the rate limit (is each frame of "
                                      "a batch counted? is --message_burst the server's?)"));
  // Nothing more for the batch while the bucket refills; then a ping gets its pong.
  const absl::Duration refill =
      std::min(absl::Milliseconds(longest_retry_after + 10), ctx.options().reply_timeout);
  absl::StatusOr<RawWsClient::Message> extra = s->ws->Receive(refill);
  if (extra.ok()) {
    c.Require(false, absl::StrCat("after every frame was answered: ", Printable(extra->payload)));
  } else if (!absl::IsDeadlineExceeded(extra.status())) {
    c.Require(false, absl::StrCat("after every frame was answered: ",
                                  DescribeEnd(*s->ws, extra.status())));
  } else {
    RequireAlive(ctx, *s->ws, c, absl::StrCat("after ", Ms(refill), " for the bucket to refill"));
  }
  return c.Result(seen);
}

}  // namespace

std::vector<Case> RateLimitCases() {
  return {{"11.1", "rate limit", "each frame of a batch counts; refusals carry their messageIds",
           "one batch of message_burst + 8 frames (+ 5 to + 7 under 10 strikes), pings then 12 "
           "calls: every call answered exactly once, the refused ones with error rate_limited, "
           "retryable true, retryAfterMs > 0 and their own messageId; at least one refusal; or "
           "close 4029 once rate_limit_strikes refusals came (--message_burst, "
           "--rate_limit_strikes: the server's; --message_burst=0 skips)",
           false, BatchOverRateLimit}};
}

}  // namespace harness::conformance::cases
