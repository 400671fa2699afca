// Tests of bridge/protocol/frame_codec: every frame type of proto/bridge/v1/frame.proto in the
// JSON shape of docs/protocol.md, exact encodings, JSON and binary round trips, the JSON mapping
// choices (raw JSON payloads, integers as strings, enums by name or number, RFC 3339
// timestamps, maps, original field names, unknown fields, nulls, batches) and every refusal.
#include "bridge/protocol/frame_codec.h"

#include <cstdint>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/bridge/v1/frame.pb.h"

namespace bridge::protocol {

// Lets gtest print a DecodeFailure by name.
void PrintTo(DecodeFailure failure, std::ostream* os) { *os << DecodeFailureName(failure); }

namespace {

using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::TextFormat;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

// 2026-11-22T10:00:00Z.
constexpr int64_t kSeconds = 1795341600;
constexpr char kTimestamp[] = "2026-11-22T10:00:00.123Z";

::testing::AssertionResult ProtoEquals(const Message& expected, const Message& actual) {
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "protos differ:\n"
                                       << diff << "expected:\n"
                                       << expected.DebugString() << "actual:\n"
                                       << actual.DebugString();
}

Frame FromText(const std::string& text) {
  Frame frame;
  EXPECT_TRUE(TextFormat::ParseFromString(text, &frame)) << text;
  return frame;
}

// Decodes `json`, expecting success.
Frame DecodeOk(std::string_view json) {
  Frame frame;
  const DecodeError error = DecodeJsonFrame(json, &frame);
  EXPECT_TRUE(error.ok()) << json << "\n-> " << DecodeFailureName(error.failure) << " at \""
                          << error.field << "\": " << error.message;
  return frame;
}

// Decodes `json`, expecting a refusal; the frame must be left empty.
DecodeError DecodeBad(std::string_view json) {
  Frame frame = FromText("ping {} seq: 99");
  const DecodeError error = DecodeJsonFrame(json, &frame);
  EXPECT_FALSE(error.ok()) << json << " was accepted as " << frame.ShortDebugString();
  EXPECT_FALSE(error.message.empty()) << json;
  EXPECT_TRUE(ProtoEquals(Frame(), frame)) << "a refused frame must be cleared: " << json;
  return error;
}

// ---------------------------------------------------------------------------------------------
// Every frame type: the JSON shape of docs/protocol.md, decoded and compared field by field, then
// encoded back. Each `json` is canonical (fields in field-number order, `seq` last, no spaces),
// so encoding the decoded frame must give the same text.

struct FrameCase {
  std::string name;  // a test name: the frame type, with a suffix for variants
  std::string type;  // the "type" of the frame
  std::string json;
  std::string expected;  // the decoded Frame as text format
};

std::ostream& operator<<(std::ostream& os, const FrameCase& c) { return os << c.name; }

std::vector<FrameCase> AllFrameCases() {
  return {
      {"connect", "connect",
       R"({"type":"connect","clientId":"c-1","version":"1","timestamp":"2026-11-22T10:00:00.123Z",)"
       R"("token":"t0k","resume":{"conversationId":"s-9f","lastSeq":41}})",
       R"pb(connect {
              client_id: "c-1"
              version: "1"
              timestamp { seconds: 1795341600 nanos: 123000000 }
              token: "t0k"
              resume { conversation_id: "s-9f" last_seq: 41 }
            })pb"},
      {"connect_minimal", "connect",
       R"({"type":"connect","clientId":"c-1","version":"1","timestamp":"2026-11-22T10:00:00Z"})",
       R"pb(connect {
              client_id: "c-1"
              version: "1"
              timestamp { seconds: 1795341600 }
            })pb"},
      {"connect_confirm", "connect_confirm",
       R"({"type":"connect_confirm","clientId":"c-1","conversationId":"s-9f","status":"confirmed",)"
       R"("timestamp":"2026-11-22T10:00:00.123Z","heartbeatIntervalMs":30000,)"
       R"("heartbeatTimeoutMs":60000,"resumed":false,"seq":1})",
       R"pb(seq: 1
            connect_confirm {
              client_id: "c-1"
              conversation_id: "s-9f"
              status: "confirmed"
              timestamp { seconds: 1795341600 nanos: 123000000 }
              heartbeat_interval_ms: 30000
              heartbeat_timeout_ms: 60000
              resumed: false
            })pb"},
      {"connect_confirm_resumed", "connect_confirm",
       R"({"type":"connect_confirm","clientId":"c-1","conversationId":"s-9f","status":"confirmed",)"
       R"("timestamp":"2026-11-22T10:00:00.123Z","heartbeatIntervalMs":30000,)"
       R"("heartbeatTimeoutMs":60000,"resumed":true,"seq":42})",
       R"pb(seq: 42
            connect_confirm {
              client_id: "c-1"
              conversation_id: "s-9f"
              status: "confirmed"
              timestamp { seconds: 1795341600 nanos: 123000000 }
              heartbeat_interval_ms: 30000
              heartbeat_timeout_ms: 60000
              resumed: true
            })pb"},
      {"ping", "ping", R"({"type":"ping","timestamp":"2026-11-22T10:00:00.123Z"})",
       R"pb(ping { timestamp { seconds: 1795341600 nanos: 123000000 } })pb"},
      {"pong", "pong", R"({"type":"pong","timestamp":"2026-11-22T10:00:00.123Z","seq":2})",
       R"pb(seq: 2
            pong { timestamp { seconds: 1795341600 nanos: 123000000 } })pb"},
      {"message", "message",
       R"({"type":"message","messageId":"m-1","method":"demo.v1.Echo/Say",)"
       R"("payload":{"text":"hi"},"metadata":{"x-trace":"abc"},"timeoutMs":5000})",
       R"pb(message {
              message_id: "m-1"
              method: "demo.v1.Echo/Say"
              payload: "{\"text\":\"hi\"}"
              metadata { key: "x-trace" value: "abc" }
              timeout_ms: 5000
            })pb"},
      {"message_content", "message", R"({"type":"message","messageId":"m-2","content":"hello"})",
       R"pb(message { message_id: "m-2" content: "hello" })pb"},
      {"response", "response",
       R"({"type":"response","messageId":"m-1","payload":{"text":"hi"},"content":"hi",)"
       R"("metadata":{"x-h":"v"},"trailers":{"x-t":"w"},"seq":3})",
       R"pb(seq: 3
            response {
              message_id: "m-1"
              payload: "{\"text\":\"hi\"}"
              content: "hi"
              metadata { key: "x-h" value: "v" }
              trailers { key: "x-t" value: "w" }
            })pb"},
      {"stream_send", "stream_send",
       R"({"type":"stream_send","messageId":"m-1","payload":{"text":"more"}})",
       R"pb(stream_send { message_id: "m-1" payload: "{\"text\":\"more\"}" })pb"},
      {"stream_message", "stream_message",
       R"({"type":"stream_message","messageId":"m-1","payload":{"n":1},"seq":4})",
       R"pb(seq: 4
            stream_message { message_id: "m-1" payload: "{\"n\":1}" })pb"},
      {"stream_end_client", "stream_end", R"({"type":"stream_end","messageId":"m-1"})",
       R"pb(stream_end { message_id: "m-1" })pb"},
      {"stream_end_server", "stream_end",
       R"({"type":"stream_end","messageId":"m-1","status":{"code":0},"trailers":{"x-t":"w"},)"
       R"("seq":5})",
       R"pb(seq: 5
            stream_end {
              message_id: "m-1"
              status { code: 0 }
              trailers { key: "x-t" value: "w" }
            })pb"},
      {"stream_end_failed", "stream_end",
       R"({"type":"stream_end","messageId":"m-1","status":{"code":5,"message":"no such user"},)"
       R"("seq":6})",
       R"pb(seq: 6
            stream_end {
              message_id: "m-1"
              status { code: 5 message: "no such user" }
            })pb"},
      {"cancel", "cancel", R"({"type":"cancel","messageId":"m-1"})",
       R"pb(cancel { message_id: "m-1" })pb"},
      {"subscribe", "subscribe",
       R"({"type":"subscribe","channel":"news","params":{"lang":"en"},)"
       R"("since":{"offset":10,"epoch":"e1"}})",
       R"pb(subscribe {
              channel: "news"
              params: "{\"lang\":\"en\"}"
              since { offset: 10 epoch: "e1" }
            })pb"},
      {"subscribed", "subscribed",
       R"({"type":"subscribed","channel":"news","offset":10,"epoch":"e1","recovered":true,)"
       R"("seq":7})",
       R"pb(seq: 7
            subscribed { channel: "news" offset: 10 epoch: "e1" recovered: true })pb"},
      {"subscribed_fresh", "subscribed",
       R"({"type":"subscribed","channel":"news","offset":0,"epoch":"e2","recovered":false,)"
       R"("seq":8})",
       R"pb(seq: 8
            subscribed { channel: "news" offset: 0 epoch: "e2" recovered: false })pb"},
      {"unsubscribe", "unsubscribe", R"({"type":"unsubscribe","channel":"news"})",
       R"pb(unsubscribe { channel: "news" })pb"},
      {"unsubscribed", "unsubscribed",
       R"({"type":"unsubscribed","channel":"news","offset":12,"epoch":"e1","recovered":false,)"
       R"("seq":9})",
       R"pb(seq: 9
            unsubscribed { channel: "news" offset: 12 epoch: "e1" recovered: false })pb"},
      {"publication", "publication",
       R"({"type":"publication","channel":"news","offset":11,"epoch":"e1",)"
       R"("data":{"title":"x"},"seq":10})",
       R"pb(seq: 10
            publication { channel: "news" offset: 11 epoch: "e1" data: "{\"title\":\"x\"}" })pb"},
      // Ack's own field is called seq: in JSON it is the ack's, not the envelope's.
      {"ack", "ack", R"({"type":"ack","seq":41})", R"pb(ack { seq: 41 })pb"},
      {"batch", "batch",
       R"({"type":"batch","frames":[{"type":"ping","timestamp":"2026-11-22T10:00:00.123Z"},)"
       R"({"type":"ack","seq":3},{"type":"cancel","messageId":"m-1"}]})",
       R"pb(batch {
              frames { ping { timestamp { seconds: 1795341600 nanos: 123000000 } } }
              frames { ack { seq: 3 } }
              frames { cancel { message_id: "m-1" } }
            })pb"},
      {"batch_server", "batch",
       R"({"type":"batch","frames":[{"type":"stream_message","messageId":"m-1",)"
       R"("payload":{"n":1},"seq":11},{"type":"stream_message","messageId":"m-1",)"
       R"("payload":{"n":2},"seq":12}]})",
       R"pb(batch {
              frames {
                seq: 11
                stream_message { message_id: "m-1" payload: "{\"n\":1}" }
              }
              frames {
                seq: 12
                stream_message { message_id: "m-1" payload: "{\"n\":2}" }
              }
            })pb"},
      {"error_call", "error",
       R"({"type":"error","messageId":"m-1","category":"service_unavailable","retryable":true,)"
       R"("retryAfterMs":1500,"grpcCode":14,"message":"upstream unavailable",)"
       R"("timestamp":"2026-11-22T10:00:00.123Z","seq":13})",
       R"pb(seq: 13
            error {
              message_id: "m-1"
              category: ERROR_CATEGORY_SERVICE_UNAVAILABLE
              retryable: true
              retry_after_ms: 1500
              grpc_code: 14
              message: "upstream unavailable"
              timestamp { seconds: 1795341600 nanos: 123000000 }
            })pb"},
      {"error_session", "error",
       R"({"type":"error","category":"protocol_error","retryable":false,)"
       R"("message":"resume.lastSeq: expected a non-negative integer",)"
       R"("timestamp":"2026-11-22T10:00:00.123Z","field":"resume.lastSeq","seq":14})",
       R"pb(seq: 14
            error {
              category: ERROR_CATEGORY_PROTOCOL_ERROR
              retryable: false
              message: "resume.lastSeq: expected a non-negative integer"
              timestamp { seconds: 1795341600 nanos: 123000000 }
              field: "resume.lastSeq"
            })pb"},
      {"refresh", "refresh", R"({"type":"refresh","token":"new-token"})",
       R"pb(refresh { token: "new-token" })pb"},
  };
}

class FrameTypeTest : public ::testing::TestWithParam<FrameCase> {};

TEST_P(FrameTypeTest, DecodesTheProtocolShape) {
  const FrameCase& c = GetParam();
  const Frame frame = DecodeOk(c.json);
  EXPECT_TRUE(ProtoEquals(FromText(c.expected), frame));
  EXPECT_EQ(FrameTypeName(frame), c.type);
}

TEST_P(FrameTypeTest, EncodesBackToTheSameText) {
  const FrameCase& c = GetParam();
  EXPECT_EQ(EncodeJsonFrame(FromText(c.expected)), c.json);
}

TEST_P(FrameTypeTest, JsonRoundTrip) {
  const Frame original = FromText(GetParam().expected);
  const std::string json = EncodeFrame(Encoding::kJson, original);
  Frame decoded;
  const DecodeError error = DecodeFrame(Encoding::kJson, json, &decoded);
  ASSERT_TRUE(error.ok()) << json << ": " << error.message;
  EXPECT_TRUE(ProtoEquals(original, decoded)) << json;
}

TEST_P(FrameTypeTest, BinaryRoundTrip) {
  const Frame original = FromText(GetParam().expected);
  const std::string bytes = EncodeFrame(Encoding::kBinary, original);
  EXPECT_EQ(bytes, original.SerializeAsString());
  Frame decoded;
  const DecodeError error = DecodeFrame(Encoding::kBinary, bytes, &decoded);
  ASSERT_TRUE(error.ok()) << error.message;
  EXPECT_TRUE(ProtoEquals(original, decoded));
}

// A frame encoded once without a seq, then given one (fan-out): in JSON the very text of the
// frame encoded with that seq, in binary bytes that parse as that frame.
TEST_P(FrameTypeTest, WithSeqIsTheFrameEncodedWithThatSeq) {
  Frame frame = FromText(GetParam().expected);
  frame.clear_seq();
  for (uint64_t seq : {uint64_t{1}, uint64_t{300}, uint64_t{1} << 40}) {
    Frame sequenced = frame;
    sequenced.set_seq(seq);
    EXPECT_EQ(WithSeq(Encoding::kJson, EncodeFrame(Encoding::kJson, frame), seq),
              EncodeFrame(Encoding::kJson, sequenced));
    Frame decoded;
    const DecodeError error = DecodeFrame(
        Encoding::kBinary, WithSeq(Encoding::kBinary, EncodeFrame(Encoding::kBinary, frame), seq),
        &decoded);
    ASSERT_TRUE(error.ok()) << error.message;
    EXPECT_TRUE(ProtoEquals(sequenced, decoded));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, FrameTypeTest, ::testing::ValuesIn(AllFrameCases()),
                         [](const ::testing::TestParamInfo<FrameCase>& info) {
                           return info.param.name;
                         });

// Fails when frame.proto gains a frame type that the table above does not cover.
TEST(FrameTypeCoverageTest, EveryFrameKindHasACase) {
  std::set<std::string> covered;
  for (const FrameCase& c : AllFrameCases()) covered.insert(c.type);
  const auto* kind = Frame::descriptor()->FindOneofByName("kind");
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->field_count(), 19);
  for (int i = 0; i < kind->field_count(); ++i) {
    EXPECT_EQ(covered.count(kind->field(i)->name()), 1u) << kind->field(i)->name();
  }
}

// ---------------------------------------------------------------------------------------------
// Exact encodings.

TEST(EncodeJsonTest, ConnectConfirmAsInProtocolMd) {
  Frame frame;
  frame.set_seq(1);
  auto* confirm = frame.mutable_connect_confirm();
  confirm->set_client_id("c-1");
  confirm->set_conversation_id("s-9f");
  confirm->set_status("confirmed");
  confirm->mutable_timestamp()->set_seconds(kSeconds);
  confirm->mutable_timestamp()->set_nanos(123000000);
  confirm->set_heartbeat_interval_ms(30000);
  confirm->set_heartbeat_timeout_ms(60000);
  confirm->set_resumed(false);
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"connect_confirm","clientId":"c-1","conversationId":"s-9f",)"
            R"("status":"confirmed","timestamp":"2026-11-22T10:00:00.123Z",)"
            R"("heartbeatIntervalMs":30000,"heartbeatTimeoutMs":60000,"resumed":false,"seq":1})");
}

TEST(EncodeJsonTest, ConnectConfirmWithoutResumedOmitsIt) {
  Frame frame;
  frame.mutable_connect_confirm()->set_client_id("c-1");
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"connect_confirm","clientId":"c-1"})");
}

TEST(EncodeJsonTest, SessionProtocolError) {
  Frame frame;
  frame.set_seq(2);
  auto* error = frame.mutable_error();
  error->set_category(v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  error->set_retryable(false);
  error->set_message("missing \"type\"");
  error->mutable_timestamp()->set_seconds(kSeconds);
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"error","category":"protocol_error","retryable":false,)"
            R"("message":"missing \"type\"","timestamp":"2026-11-22T10:00:00Z","seq":2})");
}

TEST(EncodeJsonTest, CallErrorWithEveryField) {
  Frame frame;
  frame.set_seq(7);
  auto* error = frame.mutable_error();
  error->set_message_id("m-1");
  error->set_category(v1::ERROR_CATEGORY_RATE_LIMITED);
  error->set_retryable(true);
  error->set_retry_after_ms(250);
  error->set_grpc_code(8);
  error->set_message("slow down");
  error->mutable_timestamp()->set_seconds(kSeconds);
  error->mutable_timestamp()->set_nanos(5000);
  error->set_field("payload");
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"error","messageId":"m-1","category":"rate_limited","retryable":true,)"
            R"("retryAfterMs":250,"grpcCode":8,"message":"slow down",)"
            R"("timestamp":"2026-11-22T10:00:00.000005Z","field":"payload","seq":7})");
}

TEST(EncodeJsonTest, UnknownEnumNumberIsWrittenAsNumber) {
  Frame frame;
  frame.mutable_error()->set_category(static_cast<v1::ErrorCategory>(99));
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"error","category":99})");
  const Frame decoded = DecodeOk(EncodeJsonFrame(frame));
  EXPECT_EQ(static_cast<int>(decoded.error().category()), 99);
}

TEST(EncodeJsonTest, DefaultsAreOmitted) {
  Frame frame;
  frame.mutable_ping();
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"ping"})");
  frame.mutable_message()->set_message_id("");
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"message"})");
}

TEST(EncodeJsonTest, AppendJsonFrameAppends) {
  Frame frame;
  frame.mutable_cancel()->set_message_id("m-1");
  std::string out = "prefix:";
  AppendJsonFrame(frame, &out);
  EXPECT_EQ(out, R"(prefix:{"type":"cancel","messageId":"m-1"})");
}

TEST(EncodeJsonTest, LargeIntegersAreNumbers) {
  Frame frame;
  frame.set_seq(UINT64_MAX);
  frame.mutable_publication()->set_offset(UINT64_MAX - 1);
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"publication","offset":18446744073709551614,"seq":18446744073709551615})");
  EXPECT_TRUE(ProtoEquals(frame, DecodeOk(EncodeJsonFrame(frame))));
}

TEST(FrameTypeNameTest, NamesTheKindOrNothing) {
  Frame frame;
  EXPECT_EQ(FrameTypeName(frame), "");
  frame.mutable_subscribed();
  EXPECT_EQ(FrameTypeName(frame), "subscribed");
  frame.mutable_unsubscribed();
  EXPECT_EQ(FrameTypeName(frame), "unsubscribed");
}

TEST(SubprotocolTest, Names) {
  EXPECT_EQ(kJsonSubprotocol, "bridge.v1.json");
  EXPECT_EQ(kBinarySubprotocol, "bridge.v1.proto");
}

TEST(DecodeFailureNameTest, EveryFailureHasADistinctName) {
  std::set<std::string_view> names;
  for (int i = 0; i < kDecodeFailureCount; ++i) {
    names.insert(DecodeFailureName(static_cast<DecodeFailure>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kDecodeFailureCount));
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kNone), "none");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kInvalidJson), "invalid_json");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kNotObject), "not_object");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kMissingType), "missing_type");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kUnknownType), "unknown_type");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kBadField), "bad_field");
  EXPECT_EQ(DecodeFailureName(DecodeFailure::kInvalidProto), "invalid_proto");
}

// ---------------------------------------------------------------------------------------------
// Raw JSON payloads.

TEST(RawJsonTest, PayloadIsKeptAsJsonTextAndWrittenBackVerbatim) {
  constexpr char kJson[] =
      R"({"type":"message","messageId":"m-1","payload":{"a":[1,2,{"b":"c"}]}})";
  const Frame frame = DecodeOk(kJson);
  EXPECT_EQ(frame.message().payload(), R"({"a":[1,2,{"b":"c"}]})");
  EXPECT_EQ(EncodeJsonFrame(frame), kJson);
}

TEST(RawJsonTest, WhitespaceInsidePayloadIsDropped) {
  const Frame frame = DecodeOk(
      "{ \"type\" : \"stream_send\" , \"payload\" : { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : \"x y\" } }");
  EXPECT_EQ(frame.stream_send().payload(), R"({"a":[1,2],"b":"x y"})");
}

TEST(RawJsonTest, AnyJsonValueIsAccepted) {
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":"text"})").publication().data(), R"("text")");
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":42})").publication().data(), "42");
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":-1.5})").publication().data(), "-1.5");
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":true})").publication().data(), "true");
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":[]})").publication().data(), "[]");
  EXPECT_EQ(DecodeOk(R"({"type":"publication","data":{}})").publication().data(), "{}");
  EXPECT_EQ(DecodeOk(R"({"type":"subscribe","params":[1,"a",null]})").subscribe().params(),
            R"([1,"a",null])");
}

// A raw JSON field keeps any JSON value as its text, null included (frame.proto), so the
// transcoder, not the codec, decides what null means for the message.
TEST(RawJsonTest, NullIsKeptAsText) {
  const Frame frame = DecodeOk(R"({"type":"response","messageId":"m","payload":null})");
  EXPECT_EQ(frame.response().payload(), "null");
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"response","messageId":"m","payload":null})");
}

TEST(RawJsonTest, StringsInsidePayloadKeepTheirValue) {
  const Frame frame =
      DecodeOk(R"({"type":"stream_message","payload":{"q":"say \"hi\"\\n","u":"\u00e9"}})");
  EXPECT_EQ(frame.stream_message().payload(), R"({"q":"say \"hi\"\\n","u":"é"})");
  // And what is written back is JSON that decodes to the same payload.
  const Frame again = DecodeOk(EncodeJsonFrame(frame));
  EXPECT_TRUE(ProtoEquals(frame, again));
}

TEST(RawJsonTest, BinaryPayloadIsOpaqueBytes) {
  Frame frame;
  frame.mutable_message()->set_payload(std::string("\x0a\x02hi\x00\xff", 6));
  Frame decoded;
  ASSERT_TRUE(DecodeBinaryFrame(EncodeBinaryFrame(frame), &decoded).ok());
  EXPECT_EQ(decoded.message().payload(), std::string("\x0a\x02hi\x00\xff", 6));
}

// ---------------------------------------------------------------------------------------------
// Strings.

TEST(StringTest, EscapesAreDecoded) {
  const Frame frame =
      DecodeOk(R"({"type":"connect","clientId":"q\"b\\s\/n\nr\rt\tb\bf\f\u0001\u0000\u001f)"
               R"(\u00e9\ud83d\ude00"})");
  EXPECT_EQ(frame.connect().client_id(),
            std::string("q\"b\\s/n\nr\rt\tb\bf\f\x01\x00\x1f\xc3\xa9\xf0\x9f\x98\x80", 25));
}

TEST(StringTest, EncodeEscapesQuotesBackslashesAndControlCharacters) {
  Frame frame;
  frame.mutable_connect()->set_client_id(std::string("q\"b\\n\nr\rt\tb\bf\f\x01\x00\x1f\x7f/", 19));
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"connect","clientId":"q\"b\\n\nr\rt\tb\bf\f\u0001\u0000\u001f)"
            "\x7f"
            R"(/"})");
  EXPECT_TRUE(ProtoEquals(frame, DecodeOk(EncodeJsonFrame(frame))));
}

TEST(StringTest, NonAsciiUtf8PassesThroughUnescaped) {
  const std::string text =
      "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80";  // héllo 世界 😀
  const std::string json = R"({"type":"message","content":")" + text + R"("})";
  const Frame frame = DecodeOk(json);
  EXPECT_EQ(frame.message().content(), text);
  EXPECT_EQ(EncodeJsonFrame(frame), json);
}

TEST(StringTest, InvalidUtf8IsInvalidJson) {
  const DecodeError error = DecodeBad("{\"type\":\"message\",\"content\":\"\xff\xfe\"}");
  EXPECT_EQ(error.failure, DecodeFailure::kInvalidJson);
}

TEST(StringTest, EscapedKeysMatchFields) {
  const Frame frame = DecodeOk(R"({"type":"cancel","message\u0049d":"m-1"})");
  EXPECT_EQ(frame.cancel().message_id(), "m-1");
}

// ---------------------------------------------------------------------------------------------
// Integers: JSON numbers, or strings holding one.

TEST(IntegerTest, Uint64AsNumberOrString) {
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":18446744073709551615})").ack().seq(), UINT64_MAX);
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":"18446744073709551615"})").ack().seq(), UINT64_MAX);
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":"7"})").ack().seq(), 7u);
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":7.0})").ack().seq(), 7u);
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":1e3})").ack().seq(), 1000u);
  EXPECT_EQ(DecodeOk(R"({"type":"ack","seq":0})").ack().seq(), 0u);
  EXPECT_EQ(DecodeOk(R"({"type":"pong","seq":"9007199254740993"})").seq(), 9007199254740993u);
  EXPECT_EQ(
      DecodeOk(R"({"type":"connect","resume":{"lastSeq":"41"}})").connect().resume().last_seq(),
      41u);
  EXPECT_EQ(DecodeOk(R"({"type":"subscribe","since":{"offset":"12","epoch":"e"}})")
                .subscribe()
                .since()
                .offset(),
            12u);
}

TEST(IntegerTest, Int32AsNumberOrString) {
  EXPECT_EQ(DecodeOk(R"({"type":"error","grpcCode":14})").error().grpc_code(), 14);
  EXPECT_EQ(DecodeOk(R"({"type":"error","grpcCode":"14"})").error().grpc_code(), 14);
  EXPECT_EQ(DecodeOk(R"({"type":"error","grpcCode":-2147483648})").error().grpc_code(), INT32_MIN);
  EXPECT_EQ(DecodeOk(R"({"type":"error","grpcCode":"2147483647"})").error().grpc_code(), INT32_MAX);
  const Frame zero = DecodeOk(R"({"type":"stream_end","status":{"code":"0"}})");
  EXPECT_TRUE(zero.stream_end().status().has_code());
  EXPECT_EQ(zero.stream_end().status().code(), 0);
}

TEST(IntegerTest, Uint32AsNumberOrString) {
  EXPECT_EQ(DecodeOk(R"({"type":"message","timeoutMs":4294967295})").message().timeout_ms(),
            UINT32_MAX);
  EXPECT_EQ(DecodeOk(R"({"type":"message","timeoutMs":"250"})").message().timeout_ms(), 250u);
}

// ---------------------------------------------------------------------------------------------
// Enums: the short lower-case name, the full name, or the number.

TEST(EnumTest, ByShortName) {
  EXPECT_EQ(DecodeOk(R"({"type":"error","category":"protocol_error"})").error().category(),
            v1::ERROR_CATEGORY_PROTOCOL_ERROR);
  EXPECT_EQ(DecodeOk(R"({"type":"error","category":"normal_closure"})").error().category(),
            v1::ERROR_CATEGORY_NORMAL_CLOSURE);
}

TEST(EnumTest, ByFullName) {
  EXPECT_EQ(
      DecodeOk(R"({"type":"error","category":"ERROR_CATEGORY_RATE_LIMITED"})").error().category(),
      v1::ERROR_CATEGORY_RATE_LIMITED);
}

TEST(EnumTest, ByNumber) {
  EXPECT_EQ(DecodeOk(R"({"type":"error","category":10})").error().category(),
            v1::ERROR_CATEGORY_PROTOCOL_ERROR);
}

TEST(EnumTest, EveryCategoryRoundTripsByName) {
  const auto* e = v1::ErrorCategory_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    Frame frame;
    frame.mutable_error()->set_category(static_cast<v1::ErrorCategory>(e->value(i)->number()));
    frame.mutable_error()->set_message("x");  // so that UNSPECIFIED still writes something
    const std::string json = EncodeJsonFrame(frame);
    if (e->value(i)->number() != 0) {
      EXPECT_THAT(json, HasSubstr("\"category\":\""));
      EXPECT_THAT(json, ::testing::Not(HasSubstr("ERROR_CATEGORY")));
    }
    EXPECT_TRUE(ProtoEquals(frame, DecodeOk(json))) << json;
  }
}

// Frames refused for one field: what fails, and the JSON path the error names.
TEST(RefusedFieldTest, EachNamesItsFailureAndPath) {
  struct Case {
    const char* what;
    const char* json;
    DecodeFailure failure;
    const char* field;
  };
  const Case cases[] = {
      {"Enum: unknown name is a bad field", R"({"type":"error","category":"no_such_category"})",
       DecodeFailure::kBadField, "category"},
      {"Enum: wrong json type is a bad field", R"({"type":"error","category":true})",
       DecodeFailure::kBadField, "category"},
      {"Map: value of wrong type is a bad field",
       R"({"type":"message","metadata":{"ok":"1","n":5}})", DecodeFailure::kBadField,
       R"(metadata["n"])"},
      {"Map: not an object is a bad field", R"({"type":"message","metadata":["a","b"]})",
       DecodeFailure::kBadField, "metadata"},
      {"Batch: empty nested batch is refused too",
       R"({"type":"batch","frames":[{"type":"batch"}]})", DecodeFailure::kBadField,
       "frames[0].type"},
      {"Batch: deep path in nested frame",
       R"({"type":"batch","frames":[{"type":"connect","resume":{"lastSeq":-1}}]})",
       DecodeFailure::kBadField, "frames[0].resume.lastSeq"},
      {"Batch: nested frame without type is missing type",
       R"({"type":"batch","frames":[{"type":"ping"},{"seq":1}]})", DecodeFailure::kMissingType,
       "frames[1].type"},
      {"Batch: nested frame of unknown type is unknown type",
       R"({"type":"batch","frames":[{"type":"teleport"}]})", DecodeFailure::kUnknownType,
       "frames[0].type"},
      {"Batch: nested non object is a bad field",
       R"({"type":"batch","frames":[{"type":"ping"},"ping"]})", DecodeFailure::kBadField,
       "frames[1]"},
      {"Batch: frames not an array is a bad field", R"({"type":"batch","frames":{"type":"ping"}})",
       DecodeFailure::kBadField, "frames"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const DecodeError error = DecodeBad(c.json);
    EXPECT_EQ(error.failure, c.failure);
    EXPECT_EQ(error.field, c.field);
  }
}

// ---------------------------------------------------------------------------------------------
// Timestamps: RFC 3339.

TEST(TimestampTest, Rfc3339Forms) {
  struct Case {
    std::string text;
    int64_t seconds;
    int32_t nanos;
  };
  for (const Case& c : std::vector<Case>{
           {"2026-11-22T10:00:00Z", kSeconds, 0},
           {"2026-11-22T10:00:00.123Z", kSeconds, 123000000},
           {"2026-11-22T10:00:00.000000001Z", kSeconds, 1},
           {"2026-11-22T11:30:00.5+01:30", kSeconds, 500000000},
           {"2026-11-22T08:00:00-02:00", kSeconds, 0},
           {"1970-01-01T00:00:00Z", 0, 0},
       }) {
    const Frame frame = DecodeOk(R"({"type":"ping","timestamp":")" + c.text + R"("})");
    EXPECT_EQ(frame.ping().timestamp().seconds(), c.seconds) << c.text;
    EXPECT_EQ(frame.ping().timestamp().nanos(), c.nanos) << c.text;
  }
}

TEST(TimestampTest, EncodesInUtcWithMillisecondsMicrosecondsOrNanoseconds) {
  Frame frame;
  auto* ts = frame.mutable_pong()->mutable_timestamp();
  ts->set_seconds(kSeconds);
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"pong","timestamp":"2026-11-22T10:00:00Z"})");
  ts->set_nanos(123000000);
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"pong","timestamp":"2026-11-22T10:00:00.123Z"})");
  ts->set_nanos(123456000);
  EXPECT_EQ(EncodeJsonFrame(frame), R"({"type":"pong","timestamp":"2026-11-22T10:00:00.123456Z"})");
  ts->set_nanos(123456789);
  EXPECT_EQ(EncodeJsonFrame(frame),
            R"({"type":"pong","timestamp":"2026-11-22T10:00:00.123456789Z"})");
}

TEST(TimestampTest, NotRfc3339IsABadField) {
  for (const std::string bad : {"2026-11-22 10:00:00", "yesterday", "2026-13-01T00:00:00Z",
                                "1700000000", "2026-11-22T10:00:00", ""}) {
    const DecodeError error = DecodeBad(R"({"type":"ping","timestamp":")" + bad + R"("})");
    EXPECT_EQ(error.failure, DecodeFailure::kBadField) << bad;
    EXPECT_EQ(error.field, "timestamp") << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// Maps, names, unknown fields, nulls.

TEST(MapTest, MetadataEntries) {
  const Frame frame = DecodeOk(
      R"({"type":"message","metadata":{"x-trace":"abc","authorization":"Bearer t","empty":""}})");
  const auto& metadata = frame.message().metadata();
  ASSERT_EQ(metadata.size(), 3u);
  EXPECT_EQ(metadata.at("x-trace"), "abc");
  EXPECT_EQ(metadata.at("authorization"), "Bearer t");
  EXPECT_EQ(metadata.at("empty"), "");
}

TEST(MapTest, ManyEntriesRoundTrip) {
  Frame frame;
  auto* trailers = frame.mutable_response()->mutable_trailers();
  for (int i = 0; i < 20; ++i) (*trailers)["k" + std::to_string(i)] = "v" + std::to_string(i);
  EXPECT_TRUE(ProtoEquals(frame, DecodeOk(EncodeJsonFrame(frame))));
}

TEST(FieldNameTest, OriginalSnakeCaseNamesAreAccepted) {
  const Frame frame = DecodeOk(
      R"({"type":"connect","client_id":"c-1","resume":{"conversation_id":"s-9f","last_seq":41}})");
  EXPECT_EQ(frame.connect().client_id(), "c-1");
  EXPECT_EQ(frame.connect().resume().conversation_id(), "s-9f");
  EXPECT_EQ(frame.connect().resume().last_seq(), 41u);
  const Frame confirm =
      DecodeOk(R"({"type":"connect_confirm","heartbeat_interval_ms":1,"heartbeat_timeout_ms":2})");
  EXPECT_EQ(confirm.connect_confirm().heartbeat_interval_ms(), 1u);
  EXPECT_EQ(confirm.connect_confirm().heartbeat_timeout_ms(), 2u);
  EXPECT_EQ(DecodeOk(R"({"type":"error","retry_after_ms":9})").error().retry_after_ms(), 9u);
}

TEST(FieldNameTest, FieldNamesAreCaseSensitive) {
  const Frame frame = DecodeOk(R"({"type":"connect","ClientId":"c-1","CLIENTID":"c-2"})");
  EXPECT_EQ(frame.connect().client_id(), "");
}

TEST(UnknownFieldTest, AreIgnoredAtEveryLevel) {
  const Frame frame =
      DecodeOk(R"({"type":"connect","clientId":"c-1","future":{"deep":[1,{"x":null}]},"n":1.5,)"
               R"("resume":{"lastSeq":3,"alsoNew":"x"},"flag":true})");
  EXPECT_TRUE(ProtoEquals(FromText(R"pb(connect {
                                          client_id: "c-1"
                                          resume { last_seq: 3 }
                                        })pb"),
                          frame));
}

TEST(UnknownFieldTest, FieldsOfOtherFrameTypesAreIgnored) {
  // "channel" belongs to subscribe, not to ping.
  const Frame frame = DecodeOk(R"({"type":"ping","channel":"news"})");
  EXPECT_TRUE(ProtoEquals(FromText("ping {}"), frame));
}

TEST(NullTest, NullValuesMeanTheDefault) {
  const Frame frame =
      DecodeOk(R"({"type":"connect","clientId":null,"version":"1","timestamp":null,"token":null,)"
               R"("resume":null})");
  EXPECT_TRUE(ProtoEquals(FromText(R"pb(connect { version: "1" })pb"), frame));
  EXPECT_FALSE(frame.connect().has_resume());
  EXPECT_FALSE(frame.connect().has_timestamp());

  const Frame error =
      DecodeOk(R"({"type":"error","category":null,"retryable":null,"grpcCode":null})");
  EXPECT_FALSE(error.error().has_retryable());
  EXPECT_FALSE(error.error().has_grpc_code());
  EXPECT_EQ(error.error().category(), v1::ERROR_CATEGORY_UNSPECIFIED);

  EXPECT_TRUE(ProtoEquals(FromText("batch {}"), DecodeOk(R"({"type":"batch","frames":null})")));
  EXPECT_TRUE(
      ProtoEquals(FromText("message {}"), DecodeOk(R"({"type":"message","metadata":null})")));
  EXPECT_TRUE(ProtoEquals(FromText("ack {}"), DecodeOk(R"({"type":"ack","seq":null})")));
}

TEST(NullTest, NullEnvelopeSeqMeansNoSeq) {
  const Frame frame = DecodeOk(R"({"type":"pong","seq":null})");
  EXPECT_TRUE(ProtoEquals(FromText("pong {}"), frame));
}

TEST(EnvelopeTest, SeqAndTypeMayComeInAnyOrder) {
  const Frame frame = DecodeOk(R"({"seq":5,"messageId":"m-1","type":"stream_message"})");
  EXPECT_TRUE(ProtoEquals(FromText(R"pb(seq: 5
                                        stream_message { message_id: "m-1" })pb"),
                          frame));
}

TEST(EnvelopeTest, DecodingClearsThePreviousFrame) {
  Frame frame = FromText(R"pb(seq: 3
                              connect { client_id: "old" })pb");
  ASSERT_TRUE(DecodeJsonFrame(R"({"type":"ping"})", &frame).ok());
  EXPECT_TRUE(ProtoEquals(FromText("ping {}"), frame));
  frame = FromText(R"pb(seq: 3
                        connect { client_id: "old" })pb");
  ASSERT_TRUE(DecodeBinaryFrame(FromText("cancel {}").SerializeAsString(), &frame).ok());
  EXPECT_TRUE(ProtoEquals(FromText("cancel {}"), frame));
}

TEST(EnvelopeTest, SurroundingWhitespaceIsAllowed) {
  EXPECT_TRUE(ProtoEquals(FromText("ping {}"), DecodeOk(" \n\t{\"type\":\"ping\"}\r\n ")));
}

// ---------------------------------------------------------------------------------------------
// Batches.

TEST(BatchTest, NestedFramesAreDecodedInOrder) {
  const Frame frame = DecodeOk(
      R"({"type":"batch","frames":[)"
      R"({"type":"message","messageId":"m-1","method":"demo.v1.Echo/Say","payload":{"text":"a"}},)"
      R"({"type":"message","messageId":"m-2","content":"b"},)"
      R"({"type":"ack","seq":"17"}]})");
  ASSERT_EQ(frame.batch().frames_size(), 3);
  EXPECT_EQ(frame.batch().frames(0).message().message_id(), "m-1");
  EXPECT_EQ(frame.batch().frames(0).message().payload(), R"({"text":"a"})");
  EXPECT_EQ(frame.batch().frames(1).message().content(), "b");
  EXPECT_EQ(frame.batch().frames(2).ack().seq(), 17u);
}

TEST(BatchTest, EmptyBatch) {
  const Frame frame = DecodeOk(R"({"type":"batch","frames":[]})");
  EXPECT_TRUE(frame.has_batch());
  EXPECT_EQ(frame.batch().frames_size(), 0);
}

TEST(BatchTest, NestedBatchIsRefused) {
  const DecodeError error = DecodeBad(
      R"({"type":"batch","frames":[{"type":"ping"},{"type":"batch","frames":[{"type":"ping"}]}]})");
  EXPECT_EQ(error.failure, DecodeFailure::kBadField);
  EXPECT_EQ(error.field, "frames[1].type");
  EXPECT_THAT(error.message, HasSubstr("batch"));
}

TEST(BatchTest, BadFieldInNestedFrameNamesItsPath) {
  const DecodeError error =
      DecodeBad(R"({"type":"batch","frames":[{"type":"ping"},{"type":"connect","clientId":5}]})");
  EXPECT_EQ(error.failure, DecodeFailure::kBadField);
  EXPECT_EQ(error.field, "frames[1].clientId");
  EXPECT_THAT(error.message, HasSubstr("frames[1].clientId"));
}

// ---------------------------------------------------------------------------------------------
// Refusals: invalid JSON, not an object, missing or unknown type.

TEST(RefuseTest, InvalidJson) {
  for (const std::string bad :
       {"", "{", R"({"type":"ping")", R"({"type":"ping",})", "{type:1}", "nul",
        R"({"type":'ping'})", R"({"type":"ping"} x)", R"({"type":"ping"}{"type":"ping"})"}) {
    const DecodeError error = DecodeBad(bad);
    EXPECT_EQ(error.failure, DecodeFailure::kInvalidJson) << bad;
    EXPECT_EQ(error.field, "") << bad;
  }
}

TEST(RefuseTest, NotAnObject) {
  for (const std::string bad :
       {"[]", R"([{"type":"ping"}])", R"("ping")", "42", "-1.5", "true", "null"}) {
    const DecodeError error = DecodeBad(bad);
    EXPECT_EQ(error.failure, DecodeFailure::kNotObject) << bad;
    EXPECT_EQ(error.field, "") << bad;
  }
}

TEST(RefuseTest, MissingType) {
  for (const std::string bad :
       {"{}", R"({"clientId":"c-1"})", R"({"type":null})", R"({"Type":"ping"})"}) {
    const DecodeError error = DecodeBad(bad);
    EXPECT_EQ(error.failure, DecodeFailure::kMissingType) << bad;
    EXPECT_EQ(error.field, "type") << bad;
  }
}

TEST(RefuseTest, UnknownType) {
  // Names of the protocol only: not the JSON name of the field, not the message type, not the
  // envelope's seq, not another case.
  for (const std::string bad :
       {"teleport", "", "connectConfirm", "ConnectConfirm", "PING", "seq", "kind", "Frame"}) {
    const DecodeError error = DecodeBad(R"({"type":")" + bad + R"("})");
    EXPECT_EQ(error.failure, DecodeFailure::kUnknownType) << bad;
    EXPECT_EQ(error.field, "type") << bad;
  }
}

TEST(RefuseTest, TypeNotAStringIsABadField) {
  for (const std::string bad : {"5", "true", "{}", R"(["ping"])"}) {
    const DecodeError error = DecodeBad(R"({"type":)" + bad + "}");
    EXPECT_EQ(error.failure, DecodeFailure::kBadField) << bad;
    EXPECT_EQ(error.field, "type") << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// Refusals: fields of the wrong JSON type or out of range. `field` is the JSON path.

struct BadFieldCase {
  std::string name;
  std::string json;
  std::string field;
};

std::ostream& operator<<(std::ostream& os, const BadFieldCase& c) { return os << c.name; }

class BadFieldTest : public ::testing::TestWithParam<BadFieldCase> {};

TEST_P(BadFieldTest, IsRefusedWithItsPath) {
  const BadFieldCase& c = GetParam();
  const DecodeError error = DecodeBad(c.json);
  EXPECT_EQ(error.failure, DecodeFailure::kBadField);
  EXPECT_EQ(error.field, c.field);
  // The message names the field, for the error frame.
  EXPECT_THAT(error.message, ::testing::StartsWith(c.field + ": "));
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, BadFieldTest,
    ::testing::ValuesIn(std::vector<BadFieldCase>{
        {"StringGotNumber", R"({"type":"connect","clientId":5})", "clientId"},
        {"StringGotBool", R"({"type":"connect","clientId":true})", "clientId"},
        {"StringGotObject", R"({"type":"refresh","token":{"t":1}})", "token"},
        {"StringGotArray", R"({"type":"subscribe","channel":["a"]})", "channel"},
        {"TimestampGotNumber", R"({"type":"connect","timestamp":5})", "timestamp"},
        {"TimestampGotObject", R"({"type":"ping","timestamp":{"seconds":1}})", "timestamp"},
        {"NegativeUint64", R"({"type":"connect","resume":{"lastSeq":-1}})", "resume.lastSeq"},
        {"NegativeUint64String", R"({"type":"connect","resume":{"lastSeq":"-1"}})",
         "resume.lastSeq"},
        {"FractionalUint64", R"({"type":"ack","seq":1.5})", "seq"},
        {"Uint64Overflow", R"({"type":"ack","seq":"18446744073709551616"})", "seq"},
        {"SeqNotANumber", R"({"type":"pong","seq":"abc"})", "seq"},
        {"SeqGotBool", R"({"type":"pong","seq":true})", "seq"},
        {"SeqNegative", R"({"type":"pong","seq":-3})", "seq"},
        {"AckSeqNotANumber", R"({"type":"ack","seq":"abc"})", "seq"},
        {"IntegerGotEmptyString", R"({"type":"ack","seq":""})", "seq"},
        {"BoolGotString", R"({"type":"connect_confirm","resumed":"false"})", "resumed"},
        {"BoolGotNumber", R"({"type":"subscribed","recovered":1})", "recovered"},
        {"StringGotBoolInMessage", R"({"type":"message","method":false})", "method"},
        {"Int32TooBig", R"({"type":"error","grpcCode":2147483648})", "grpcCode"},
        {"Int32TooSmall", R"({"type":"error","grpcCode":-2147483649})", "grpcCode"},
        {"Int32TooBigString", R"({"type":"error","grpcCode":"2147483648"})", "grpcCode"},
        {"Int32FromUint64Range", R"({"type":"error","grpcCode":18446744073709551615})", "grpcCode"},
        {"Int32Fractional", R"({"type":"stream_end","status":{"code":0.5}})", "status.code"},
        {"Uint32TooBig", R"({"type":"message","timeoutMs":4294967296})", "timeoutMs"},
        {"Uint32Negative", R"({"type":"connect_confirm","heartbeatIntervalMs":-1})",
         "heartbeatIntervalMs"},
        {"Uint32TooBigString", R"({"type":"error","retryAfterMs":"4294967296"})", "retryAfterMs"},
        {"MessageGotString", R"({"type":"connect","resume":"s-9f"})", "resume"},
        {"MessageGotArray", R"({"type":"stream_end","status":[0]})", "status"},
        {"NestedString", R"({"type":"subscribe","since":{"epoch":7}})", "since.epoch"},
        {"NestedOriginalName", R"({"type":"connect","resume":{"conversation_id":1}})",
         "resume.conversation_id"},
        {"EnumOutOfInt32", R"({"type":"error","category":4294967296})", "category"},
    }),
    [](const ::testing::TestParamInfo<BadFieldCase>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Binary frames.

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

TEST(BinaryTest, GarbageIsInvalidProto) {
  for (const std::string& bad : {std::string("\xff\xff\xff", 3), std::string("not a proto"),
                                 std::string("\x52\x05\x0a", 3),  // connect, length 5, 1 byte
                                 std::string("\x0f", 1),          // wire type 7
                                 std::string("\x08", 1)}) {       // seq without its value
    Frame frame = FromText("ping {}");
    const DecodeError error = DecodeBinaryFrame(bad, &frame);
    EXPECT_EQ(error.failure, DecodeFailure::kInvalidProto) << Hex(bad);
    EXPECT_FALSE(error.message.empty());
    EXPECT_TRUE(ProtoEquals(Frame(), frame)) << Hex(bad);
  }
}

TEST(BinaryTest, InvalidUtf8InAStringFieldIsInvalidProto) {
  // connect { client_id: "\xff" }: field 10 (connect), length 3, field 1 (client_id), length 1.
  Frame frame;
  const DecodeError error = DecodeBinaryFrame(std::string("\x52\x03\x0a\x01\xff", 5), &frame);
  EXPECT_EQ(error.failure, DecodeFailure::kInvalidProto);
}

TEST(BinaryTest, FrameWithoutKindIsMissingType) {
  Frame seq_only;
  seq_only.set_seq(5);
  for (const std::string& bad : {std::string(), EncodeBinaryFrame(seq_only),
                                 std::string("\xa0\x06\x01", 3)}) {  // unknown field 100
    Frame frame = FromText("ping {}");
    const DecodeError error = DecodeBinaryFrame(bad, &frame);
    EXPECT_EQ(error.failure, DecodeFailure::kMissingType) << Hex(bad);
    EXPECT_EQ(error.field, "type");
    EXPECT_FALSE(error.message.empty());
  }
}

TEST(BinaryTest, EmptyKindMessageIsAFrame) {
  Frame frame;
  const DecodeError error = DecodeBinaryFrame(std::string("\x62\x00", 2), &frame);  // ping {}
  ASSERT_TRUE(error.ok()) << error.message;
  EXPECT_TRUE(frame.has_ping());
}

TEST(BinaryTest, UnknownFieldsAreTolerated) {
  std::string bytes = FromText(R"pb(cancel { message_id: "m-1" })pb").SerializeAsString();
  bytes += std::string("\xa0\x06\x01", 3);  // field 100, varint 1
  Frame frame;
  ASSERT_TRUE(DecodeBinaryFrame(bytes, &frame).ok());
  EXPECT_EQ(frame.cancel().message_id(), "m-1");
}

TEST(BinaryTest, DecodeFrameDispatchesOnEncoding) {
  Frame frame;
  EXPECT_TRUE(DecodeFrame(Encoding::kJson, R"({"type":"ping"})", &frame).ok());
  EXPECT_TRUE(frame.has_ping());
  // JSON text is not a serialized Frame, and a serialized Frame is not JSON.
  EXPECT_EQ(DecodeFrame(Encoding::kBinary, R"({"type":"ping"})", &frame).failure,
            DecodeFailure::kInvalidProto);
  EXPECT_EQ(DecodeFrame(Encoding::kJson, EncodeBinaryFrame(FromText("cancel {}")), &frame).failure,
            DecodeFailure::kInvalidJson);
}

TEST(BatchTest, EncodeBatchIsTheBatchOfTheFramesInEitherEncoding) {
  Frame pong;
  pong.set_seq(7);
  pong.mutable_pong();
  Frame publication;
  publication.set_seq(8);
  publication.mutable_publication()->set_channel("news");
  publication.mutable_publication()->set_offset(3);
  publication.mutable_publication()->set_data(R"({"a":[1,2]})");

  Frame expected;
  *expected.mutable_batch()->add_frames() = pong;
  *expected.mutable_batch()->add_frames() = publication;
  const std::string binary =
      EncodeBatch(Encoding::kBinary, {EncodeBinaryFrame(pong), EncodeBinaryFrame(publication)});
  EXPECT_EQ(binary, expected.SerializeAsString());

  const std::string json =
      EncodeBatch(Encoding::kJson, {EncodeJsonFrame(pong), EncodeJsonFrame(publication)});
  Frame decoded;
  ASSERT_TRUE(DecodeJsonFrame(json, &decoded).ok()) << json;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, expected))
      << decoded.DebugString();
  EXPECT_THAT(json, ::testing::HasSubstr(R"("data":{"a":[1,2]})"));
}

}  // namespace
}  // namespace bridge::protocol
