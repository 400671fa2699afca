// Cases of group 10 (client strings): what a server makes of the strings a client chooses
// (clientId, metadata keys and values, messageId, method and channel names) when they hold
// non-ASCII letters, control characters or too many bytes. Each case ends by checking that the
// server is still up.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/conformance/cases_common.h"

namespace harness::conformance::cases {
namespace {

constexpr char kRefusedConnect[] =
    "error invalid_argument, field \"clientId\", then close 1002 \"invalid_client_id\"; a "
    "fresh connection is confirmed";

// How a server refuses a connect with a bad clientId.
Refusal ClientIdRefusal() {
  return {{"invalid_argument", false, "", std::nullopt, "clientId"},
          1002,
          "invalid_client_id",
          /*error_frame_optional=*/false,
          "the clientId"};
}

// The connect frame of `client_id` (any bytes).
std::string ConnectFrame(std::string_view client_id) {
  return absl::StrCat(R"({"type":"connect","clientId":)", JsonString(client_id),
                      R"(,"version":"1"})");
}

// A clientId that is refused at connect.
struct ClientIdRow {
  const char* id;
  const char* title;
  std::string_view client_id;
  const char* shown;  // the clientId as the report shows it
};

constexpr ClientIdRow kRefusedClientIds[] = {
    {"10.2", "a clientId with a control character is refused",
     "a\x01"
     "b",
     "a\\u0001b"},
    {"10.3", "a clientId with a newline is refused", "line\nbreak", "line\\nbreak"},
};

Verdict ClientIdRefused(CaseContext& ctx, std::string_view client_id) {
  Checks c;
  const std::string seen = CheckRefused(ctx, c, ConnectFrame(client_id), ClientIdRefusal());
  CheckServerUp(ctx, c);
  return c.Result(seen);
}

Verdict ClientIdTooLong(CaseContext& ctx) {
  Checks c;
  // 256 bytes is the most a clientId may hold.
  absl::StatusOr<Session> longest = ctx.OpenConfirmed(std::string(256, 'x'));
  c.Require(longest.ok(), absl::StrCat("a clientId of 256 bytes was not confirmed: ",
                                       longest.status().message()));
  const std::string seen =
      CheckRefused(ctx, c, ConnectFrame(std::string(257, 'x')), ClientIdRefusal());
  CheckServerUp(ctx, c);
  return c.Result(absl::StrCat("257 bytes: ", seen));
}

Verdict ClientIdNonAscii(CaseContext& ctx) {
  // "Jürgen 東京 😀": two-, three- and four-byte UTF-8.
  const std::string client_id =
      "J\xc3\xbcrgen "
      "\xe6\x9d\xb1\xe4\xba\xac "
      "\xf0\x9f\x98\x80";
  absl::StatusOr<Session> s = ctx.OpenConfirmed(client_id);
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  c.Require(s->confirm.String("clientId") == client_id,
            absl::StrCat("clientId echoed as \"",
                         Printable(s->confirm.String("clientId").value_or("")), "\""));
  // The client id travels with every call: the call must still work.
  const std::string call = NextCallWorks(ctx, *s->ws, "m-10.1");
  c.Require(call.empty(), call);
  CheckServerUp(ctx, c);
  return c.Result(Printable(s->confirm.text(), 300));
}

// What a refusal of metadata says: "error invalid_argument, ..., field <field>; ...".
std::string MetadataRefused(std::string_view field) {
  return absl::StrCat("error invalid_argument, retryable false, the call's messageId, field ",
                      std::string(field),
                      "; the next call on the session succeeds; a fresh connection is "
                      "confirmed");
}

// A Say carrying `metadata` (a JSON object) is refused: error invalid_argument with the call's
// messageId and one of `fields`; then the session takes a next call, and the server is up.
Verdict RefusedMetadata(CaseContext& ctx, const std::string& id, const std::string& metadata,
                        const std::vector<std::string>& fields) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, id, SayMembers(ctx, "x", metadata));
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  Checks c;
  CheckError(c, *f, {"invalid_argument", false, id, std::nullopt, std::nullopt});
  if (f->type() == "error") {
    const std::string field = f->String("field").value_or("");
    c.Prefer(std::find(fields.begin(), fields.end(), field) != fields.end(),
             absl::StrCat("field \"", Printable(field), "\", expected \"",
                          Printable(fields.front()), "\""));
  }
  const std::string next = NextCallWorks(ctx, *s->ws, absl::StrCat(id, "-next"));
  c.Require(next.empty(), absl::StrCat("the session did not stay usable: ", next));
  CheckServerUp(ctx, c);
  return c.Result(Printable(f->text(), 300));
}

// A metadata entry {key: value} that is refused; its call's messageId is "m-<case id>".
struct MetadataRow {
  const char* id;
  const char* title;
  std::string_view key;
  std::string_view value_json;  // the JSON string's content (escapes allowed)
  const char* field_note;       // after the field in the expected outcome
};

constexpr MetadataRow kRefusedMetadata[] = {
    {"10.5", "a non-ASCII metadata value is refused", "conf-note",
     "gr\xc3\xbc\xc3\x9f"
     "e",
     ""},
    {"10.6", "a metadata value with a newline is refused", "conf-note", "a\\nb", ""},
    {"10.7", "a metadata value with a tab is refused", "conf-note", "tab\\there", ""},
    {"10.8", "a metadata value with a control character is refused", "conf-note", "a\\u0001b", ""},
    {"10.9", "an upper-case metadata key is refused", "Conf-Key", "x", ""},
    {"10.10", "a non-ASCII metadata key is refused", "cl\xc3\xa9", "x",
     " (or its bytes C-escaped)"},
    {"10.11", "a metadata key with the reserved prefix grpc- is refused", "grpc-conformance", "x",
     ""},
    {"10.12", "a metadata key with the reserved prefix x-bridge- is refused", "x-bridge-client-id",
     "x", ""},
    {"10.13", "a -bin metadata value that is not base64 is refused", "conf-blob-bin", "not base64!",
     ""},
};

// The `field` a refusal of metadata key `key` may name: metadata["key"], or with the key's
// bytes C-escaped (metadata["cl\xc3\xa9"]), which keeps a key of any bytes readable.
std::vector<std::string> MetadataFields(std::string_view key) {
  std::vector<std::string> fields = {absl::StrCat("metadata[\"", std::string(key), "\"]")};
  const std::string escaped = absl::StrCat(
      "metadata[\"", absl::CHexEscape(absl::string_view(key.data(), key.size())), "\"]");
  if (escaped != fields.front()) fields.push_back(escaped);
  return fields;
}

Verdict RefusedMetadataEntry(CaseContext& ctx, const MetadataRow& row) {
  return RefusedMetadata(
      ctx, absl::StrCat("m-", row.id),
      absl::StrCat("{", JsonString(row.key), ":\"", std::string(row.value_json), "\"}"),
      MetadataFields(row.key));
}

Verdict MetadataTooBig(CaseContext& ctx) {
  return RefusedMetadata(ctx, "m-10.15",
                         absl::StrCat(R"({"conf-big":")", std::string(9000, 'a'), R"("})"),
                         {"metadata"});
}

// A call `id` of `members` on a fresh session gets its response, with `id` echoed exactly.
Verdict CallAnswered(CaseContext& ctx, const std::string& id, const std::string& members) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  absl::StatusOr<JsonFrame> f = Call(ctx, *s->ws, id, members);
  if (!f.ok()) return Fail(absl::StrCat("no answer: ", DescribeEnd(*s->ws, f.status())));
  Checks c;
  c.Require(f->type() == "response", absl::StrCat("answered ", Printable(f->text(), 300)));
  c.Require(
      f->String("messageId") == id,
      absl::StrCat("messageId echoed as \"", Printable(f->String("messageId").value_or("")), "\""));
  CheckServerUp(ctx, c);
  return c.Result(Printable(f->text(), 300));
}

Verdict BinaryMetadataBase64(CaseContext& ctx) {
  // The bytes 00 ff c3 bc, base64-encoded.
  return CallAnswered(ctx, "m-10.14", SayMembers(ctx, "bin", R"({"conf-blob-bin":"AP/DvA=="})"));
}

Verdict MessageIdNonAscii(CaseContext& ctx) {
  // "m-ü-✓-😀"
  return CallAnswered(ctx,
                      "m-\xc3\xbc-"
                      "\xe2\x9c\x93-"
                      "\xf0\x9f\x98\x80",
                      SayMembers(ctx, "id", "{}"));
}

Verdict MethodNonAscii(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed();
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  std::vector<std::string> seen;
  // A method and a service name that exist nowhere, with non-ASCII letters.
  const std::vector<std::pair<std::string, std::string>> calls = {
      {"m-10.17a", ctx.DemoMethod("S\xc3\xa4y")}, {"m-10.17b", "d\xc3\xa9mo.v1.Echo/Say"}};
  for (const auto& [id, method] : calls) {
    absl::StatusOr<JsonFrame> f =
        Call(ctx, *s->ws, id, absl::StrCat(R"("method":)", JsonString(method), R"(,"payload":{})"));
    if (!c.Require(f.ok(), absl::StrCat(Printable(method),
                                        ": no answer: ", DescribeEnd(*s->ws, f.status())))) {
      break;
    }
    CheckError(c, *f, {"not_found", false, id, std::nullopt, std::nullopt});
    seen.push_back(Printable(f->text(), 250));
  }
  if (!c.failed()) RequireAlive(ctx, *s->ws, c, "the session did not stay up");
  CheckServerUp(ctx, c);
  return c.Result(absl::StrJoin(seen, " "));
}

Verdict ChannelNamesNonAscii(CaseContext& ctx) {
  absl::StatusOr<Session> s = ctx.OpenConfirmed("conf-10.18");
  if (!s.ok()) return NoSession(s.status());
  Checks c;
  std::vector<std::string> seen;
  // Non-ASCII letters, then a control character.
  const std::vector<std::string> channels = {FreshChannel("\xc3\xbcnic\xc3\xb8"
                                                          "de-\xe6\x9d\xb1\xe4\xba\xac"),
                                             FreshChannel("bell\x07")};
  for (const std::string& channel : channels) {
    absl::StatusOr<std::vector<JsonFrame>> frames = Exchange(
        ctx, *s->ws, absl::StrCat(R"({"type":"subscribe","channel":)", JsonString(channel), "}"),
        "subscribed", 4, "unsubscribed");
    if (!c.Require(frames.ok(), absl::StrCat("subscribe ", Printable(channel), ": ",
                                             DescribeEnd(*s->ws, frames.status())))) {
      break;
    }
    seen.push_back(Texts(*frames));
    const JsonFrame& first = frames->front();
    if (first.type() == "subscribed") {
      CheckChannelState(c, first, "subscribed", channel);
    } else if (c.Require(first.type() == "error",
                         absl::StrCat("subscribe ", Printable(channel), " answered ",
                                      Printable(first.text(), 200)))) {
      // Refused: with a category, naming the channel, then unsubscribed.
      c.Require(!first.String("category").value_or("").empty(), "the refusal has no category");
      c.Prefer(first.String("field") == "channel", "the refusal's field is not \"channel\"");
      if (c.Require(frames->size() == 2, absl::StrCat(frames->size(),
                                                      " frames, expected an error then "
                                                      "unsubscribed"))) {
        CheckChannelState(c, (*frames)[1], "unsubscribed", channel);
      }
    }
    if (!RequireAlive(ctx, *s->ws, c, absl::StrCat("after subscribe ", Printable(channel)))) {
      break;
    }
  }
  CheckServerUp(ctx, c);
  return c.Result(absl::StrJoin(seen, "; "));
}

}  // namespace

std::vector<Case> ClientStringCases() {
  const std::string group = "client strings";
  std::vector<Case> cases = {
      {"10.1", group, "a non-ASCII clientId is accepted and calls work",
       "clientId \"J\u00fcrgen \u6771\u4eac \U0001F600\": connect_confirm echoes it exactly; a "
       "call gets its response",
       true, ClientIdNonAscii},
      {"10.4", group, "a clientId over 256 bytes is refused",
       absl::StrCat("256 bytes: confirmed; 257 bytes: ", kRefusedConnect), false, ClientIdTooLong},
      {"10.14", group, "a base64 -bin metadata value is accepted",
       "{\"conf-blob-bin\":\"AP/DvA==\"} (bytes 00 ff c3 bc): the call gets its response", true,
       BinaryMetadataBase64},
      {"10.15", group, "metadata over 8192 bytes is invalid_argument, not a rate limit",
       absl::StrCat("one value of 9000 'a': ", MetadataRefused("\"metadata\"")), true,
       MetadataTooBig},
      {"10.16", group, "a non-ASCII messageId is echoed exactly",
       "messageId \"m-\u00fc-\u2713-\U0001F600\": the response carries the same messageId", true,
       MessageIdNonAscii},
      {"10.17", group, "a method with non-ASCII letters is not_found",
       "demo.v1.Echo/S\u00e4y and d\u00e9mo.v1.Echo/Say: error not_found with each messageId; "
       "the session and the server stay up",
       false, MethodNonAscii},
      {"10.18", group, "channel names with non-ASCII or a control character",
       "subscribe to a non-ASCII name and to one with \\u0007: subscribed with the name echoed, "
       "or an error with a category then unsubscribed; a ping still gets its pong; a fresh "
       "connection is confirmed",
       false, ChannelNamesNonAscii},
  };
  for (const ClientIdRow& row : kRefusedClientIds) {
    cases.push_back({row.id, group, row.title,
                     absl::StrCat("clientId \"", row.shown, "\": ", kRefusedConnect), false,
                     [r = &row](CaseContext& ctx) { return ClientIdRefused(ctx, r->client_id); }});
  }
  for (const MetadataRow& row : kRefusedMetadata) {
    const std::string key(row.key);
    cases.push_back(
        {row.id, group, row.title,
         absl::StrCat("{\"", key, "\":\"", std::string(row.value_json), "\"}: ",
                      MetadataRefused(absl::StrCat("metadata[\"", key, "\"]", row.field_note))),
         true, [r = &row](CaseContext& ctx) { return RefusedMetadataEntry(ctx, *r); }});
  }
  return InIdOrder(std::move(cases));
}

}  // namespace harness::conformance::cases
