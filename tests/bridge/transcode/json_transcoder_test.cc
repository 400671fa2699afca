// The transcoder held against protobuf 3.21's json_util: the demo messages, a table of edge
// cases, and seeded random messages of every field kind, in both directions and round trips.
//
// JSON -> protobuf is compared by message (the wire bytes of two equal messages may differ
// in field order). Protobuf -> JSON is compared as text, byte for byte; where the text differs
// the test also parses both texts and requires equal messages, and counts how often that
// happened: only maps of two or more entries may differ, in key order, since json_util prints
// a map in its hash order.
#include "bridge/transcode/json_transcoder.h"

#include <atomic>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/bridge/transcode/transcode_test.pb.h"
#include "tests/bridge/transcode/transcode_test_proto2.pb.h"
#include "tests/bridge/transcode/transcode_testing.h"

namespace bridge::transcode {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::Message;
using ::testing::HasSubstr;
using testing::MessageGenerator;
using testing::MessagesEqual;
using testing::Oracle;
using ::testing::StartsWith;

std::string Sv(absl::string_view s) { return std::string(s.data(), s.size()); }

// Every message type the random tests cover. (Legacy has groups, which json_util cannot
// print: its random messages leave them unset, see WithoutGroups.)
std::vector<const Descriptor*> AllTypes() {
  return {demo::v1::Sample::descriptor(),
          demo::v1::SayResponse::descriptor(),
          bridge::transcode::test::Order::descriptor(),
          bridge::transcode::test::Options::descriptor(),
          bridge::transcode::test::Collections::descriptor(),
          bridge::transcode::test2::Legacy::descriptor()};
}

// The eight combinations of the JSON mapping options, the default first.
std::vector<JsonMapping> AllMappings() {
  std::vector<JsonMapping> mappings;
  for (int bits = 0; bits < 8; ++bits) {
    JsonMapping mapping;
    mapping.emit_defaults = (bits & 1) != 0;
    mapping.proto_names = (bits & 2) != 0;
    mapping.enums_as_numbers = (bits & 4) != 0;
    mappings.push_back(mapping);
  }
  return mappings;
}

std::string Describe(const JsonMapping& mapping) {
  return absl::StrCat("emit_defaults ", mapping.emit_defaults, " proto_names ", mapping.proto_names,
                      " enums_as_numbers ", mapping.enums_as_numbers);
}

// True when `message` (at any depth, Any contents included) has a map or Struct with two or
// more entries, whose order json_util might print differently.
bool HasMultiEntryMap(Message* message) {
  Oracle oracle;
  return testing::ContainsMessage(message, &oracle, [](const Message& m) {
    const auto* type = m.GetDescriptor();
    for (int i = 0; i < type->field_count(); ++i) {
      const auto* field = type->field(i);
      if (field->is_map() && m.GetReflection()->FieldSize(m, field) >= 2) return true;
    }
    return false;
  });
}

// Clears group fields, at any depth.
void ClearGroups(Message* message) {
  std::vector<const google::protobuf::FieldDescriptor*> groups;
  testing::ForEachSubmessage(message, [&](const auto* field, Message* child) {
    if (field->type() == google::protobuf::FieldDescriptor::TYPE_GROUP) {
      groups.push_back(field);
    } else {
      ClearGroups(child);
    }
    return true;
  });
  for (const auto* group : groups) message->GetReflection()->ClearField(message, group);
}

class JsonTranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override { google::protobuf::SetLogHandler(nullptr); }

  // A random message as a peer would send it: generated, serialized and parsed back (so a
  // map key set twice holds its last value, as on the wire).
  std::unique_ptr<Message> RandomMessage(const Descriptor* type, uint64_t seed) {
    MessageGenerator generator(seed);
    std::unique_ptr<Message> message = oracle_.New(type);
    generator.Fill(message.get());
    ClearGroups(message.get());
    auto parsed = oracle_.ParseBinary(type, message->SerializeAsString());
    EXPECT_TRUE(parsed.ok());
    return parsed.ok() ? *std::move(parsed) : std::move(message);
  }

  // JSON -> protobuf: the transcoder accepts what json_util accepts and yields an equal
  // message.
  void ExpectParsesLikeJsonUtil(const Descriptor* type, const std::string& json,
                                bool ignore_unknown = false) {
    SCOPED_TRACE(json);
    TranscodeOptions options;
    options.ignore_unknown_fields = ignore_unknown;
    JsonTranscoder transcoder(nullptr, options);
    auto expected = oracle_.ParseJson(type, json, ignore_unknown);
    auto bytes = transcoder.JsonToBinary(type, json);
    ASSERT_EQ(expected.ok(), bytes.ok())
        << "json_util: " << expected.status() << "\ntranscoder: " << bytes.status();
    if (!bytes.ok()) {
      EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
      return;
    }
    auto actual = oracle_.ParseBinary(type, *bytes);
    ASSERT_TRUE(actual.ok()) << "the transcoder wrote bytes that do not parse";
    std::string difference;
    EXPECT_TRUE(MessagesEqual(**expected, **actual, &difference)) << difference;
  }

  // JsonToBinary reads `json` back to `message`.
  void ExpectReadsBackTo(const Message& message, const std::string& json) {
    JsonTranscoder transcoder(nullptr, {});
    auto bytes = transcoder.JsonToBinary(message.GetDescriptor(), json);
    ASSERT_TRUE(bytes.ok()) << bytes.status() << "\n" << json;
    auto read = oracle_.ParseBinary(message.GetDescriptor(), *bytes);
    ASSERT_TRUE(read.ok()) << "the transcoder wrote bytes that do not parse";
    std::string difference;
    EXPECT_TRUE(MessagesEqual(message, **read, &difference)) << difference << "\n" << json;
  }

  // Protobuf -> JSON: the same text as json_util (or, for maps, the same message).
  void ExpectPrintsLikeJsonUtil(const Message& message, bool always_print = false) {
    JsonMapping mapping;
    mapping.emit_defaults = always_print;
    ExpectPrintsLikeJsonUtil(message, mapping);
  }
  // The same under `mapping`, against json_util with the same options.
  void ExpectPrintsLikeJsonUtil(const Message& message, const JsonMapping& mapping) {
    const std::string bytes = message.SerializeAsString();
    auto expected = oracle_.PrintJson(message, mapping.emit_defaults, mapping.proto_names,
                                      mapping.enums_as_numbers);
    JsonTranscoder transcoder(nullptr, {});
    auto actual = transcoder.BinaryToJson(message.GetDescriptor(), bytes, mapping);
    SCOPED_TRACE(message.DebugString());
    ASSERT_EQ(expected.ok(), actual.ok())
        << "json_util: " << expected.status() << "\ntranscoder: " << actual.status();
    if (!actual.ok()) return;
    if (*expected == *actual) {
      ++exact_;
      return;
    }
    auto reparsed_expected = oracle_.ParseJson(message.GetDescriptor(), *expected);
    if (!reparsed_expected.ok()) {
      // json_util cannot read its own output: with always_print_primitive_fields it adds an
      // empty "paths" or "values" list to an Any holding a FieldMask or ListValue.
      ++json_util_unreadable_;
      std::string repaired = *expected;
      for (const char* type : {"FieldMask\",\"paths\":[]", "ListValue\",\"values\":[]"}) {
        const std::string spurious =
            absl::StrCat("\"@type\":\"type.googleapis.com/google.protobuf.", type);
        const size_t list = spurious.find(",\"");
        for (size_t at; (at = repaired.find(spurious)) != std::string::npos;) {
          repaired.erase(at + list, spurious.size() - list);  // the comma and the list
        }
      }
      EXPECT_EQ(repaired, *actual);
      return;
    }
    ++semantic_;
    std::unique_ptr<Message> copy(message.New());
    copy->CopyFrom(message);
    EXPECT_TRUE(HasMultiEntryMap(copy.get()))
        << "json_util: " << *expected << "\ntranscoder: " << *actual;
    auto reparsed_actual = oracle_.ParseJson(message.GetDescriptor(), *actual);
    ASSERT_TRUE(reparsed_actual.ok()) << *actual;
    ASSERT_TRUE(reparsed_expected.ok());
    std::string difference;
    EXPECT_TRUE(MessagesEqual(**reparsed_expected, **reparsed_actual, &difference))
        << difference << "\njson_util: " << *expected << "\ntranscoder: " << *actual;
  }

  Oracle oracle_;
  int exact_ = 0;
  int semantic_ = 0;
  int json_util_unreadable_ = 0;
};

// A Sample with every field kind set, in JSON as a client would write it.
constexpr char kFullSample[] = R"json({
  "i32": -5, "i64": "-9007199254740993", "u32": 4000000000, "u64": "18446744073709551615",
  "s32": -7, "s64": "-8", "f32": 9, "f64": "10", "sf32": -11, "sf64": "-12",
  "fl": 1.5, "db": -2.25e-10, "flag": true, "str": "h\u00e9llo \"w\" <b>\n", "raw": "AAH/",
  "color": "COLOR_BLUE",
  "inner": {"name": "n", "value": 3, "children": [{"name": "c1"}, {"value": -1}]},
  "listI64": ["1", 2, "-3"], "listStr": ["a", "", "c"], "listInner": [{}, {"name": "x"}],
  "listColor": ["COLOR_RED", 2, 77], "listDouble": [1, "NaN", "-Infinity", 0.1],
  "listRaw": ["", "AQ==", "_-8"],
  "mapStrI64": {"a": "1"}, "mapI32Inner": {"-4": {"name": "m"}}, "mapStrStr": {"k": "v"},
  "mapBoolColor": {"true": "COLOR_GREEN"}, "mapU64Raw": {"18446744073709551615": "AQID"},
  "choiceInner": {"name": "chosen"},
  "optI32": 0, "optStr": "",
  "at": "2024-02-29T12:34:56.789Z", "took": "-1.000000500s",
  "attrs": {"s": "x", "n": 1.5, "b": false, "z": null, "l": [1, "two", {"three": 3}]},
  "value": {"nested": [true, null]}, "listValue": [1, [2, [3]], {}],
  "wI64": "-1", "wU64": "2", "wI32": 0, "wStr": "", "wBool": false, "wDouble": "Infinity",
  "wFloat": 3.25, "wBytes": "Zm9v", "mask": "fooBar,baz.quxQuux",
  "any": {"@type": "type.googleapis.com/demo.v1.Sample.Inner", "name": "packed"},
  "empty": {}, "nullValue": null
})json";

TEST_F(JsonTranscoderTest, FullSampleParsesLikeJsonUtil) {
  ExpectParsesLikeJsonUtil(demo::v1::Sample::descriptor(), kFullSample);
}

TEST_F(JsonTranscoderTest, FullSamplePrintsLikeJsonUtil) {
  auto message = oracle_.ParseJson(demo::v1::Sample::descriptor(), kFullSample);
  ASSERT_TRUE(message.ok()) << message.status();
  ExpectPrintsLikeJsonUtil(**message);
  ExpectPrintsLikeJsonUtil(**message, /*always_print=*/true);
}

TEST_F(JsonTranscoderTest, FullSampleRoundTrips) {
  JsonTranscoder transcoder(nullptr, {});
  const Descriptor* type = demo::v1::Sample::descriptor();
  auto bytes = transcoder.JsonToBinary(type, kFullSample);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto json = transcoder.BinaryToJson(type, *bytes);
  ASSERT_TRUE(json.ok()) << json.status();
  auto again = transcoder.JsonToBinary(type, *json);
  ASSERT_TRUE(again.ok()) << again.status();
  auto a = oracle_.ParseBinary(type, *bytes);
  auto b = oracle_.ParseBinary(type, *again);
  ASSERT_TRUE(a.ok() && b.ok());
  std::string difference;
  EXPECT_TRUE(MessagesEqual(**a, **b, &difference)) << difference;
}

TEST_F(JsonTranscoderTest, DemoMessagesBothWays) {
  const std::vector<std::pair<const Descriptor*, std::string>> cases = {
      {demo::v1::SayRequest::descriptor(), R"({"text":"hi","sample":{"i32":1}})"},
      {demo::v1::SayResponse::descriptor(),
       R"({"text":"hi","sequence":"3","receivedAt":"2024-01-01T00:00:00Z"})"},
      {demo::v1::RepeatRequest::descriptor(), R"({"text":"t","count":2,"interval":"0.250s"})"},
      {demo::v1::CollectResponse::descriptor(), R"({"texts":["a","b"],"count":"2"})"},
      {demo::v1::ChatMessage::descriptor(),
       R"({"user":"u","text":"x","sentAt":"1970-01-01T00:00:01Z"})"},
  };
  for (const auto& [type, json] : cases) {
    ExpectParsesLikeJsonUtil(type, json);
    auto message = oracle_.ParseJson(type, json);
    ASSERT_TRUE(message.ok());
    ExpectPrintsLikeJsonUtil(**message);
  }
}

// Inputs where json_util has something to say: leniencies, limits, nulls, duplicates.
TEST_F(JsonTranscoderTest, EdgeCasesParseLikeJsonUtil) {
  const char* const kCases[] = {
      // Integers.
      R"({"i32":"12"})",
      R"({"i32":1.0})",
      R"({"i32":1e2})",
      R"({"i32":"1e2"})",
      R"({"i32":1.5})",
      R"({"i32":" 12"})",
      R"({"i32":"12 "})",
      R"({"i32":"+12"})",
      R"({"i32":"0x10"})",
      R"({"i32":"012"})",
      R"({"i32":2147483648})",
      R"({"i32":-2147483648})",
      R"({"i32":true})",
      R"({"i32":null})",
      R"({"i32":"-0"})",
      R"({"i32":"\t12"})",
      R"({"i32":""})",
      R"({"i32":"-"})",
      R"({"i32":-0.0})",
      R"({"i64":"9223372036854775807"})",
      R"({"i64":9223372036854775807})",
      R"({"i64":9223372036854775808})",
      R"({"i64":1e18})",
      R"({"i64":"1e18"})",
      R"({"i64":-9223372036854775808})",
      R"({"i64":-9.223372036854775808e18})",
      R"({"i64":9.223372036854775807e18})",
      R"({"u64":18446744073709551615})",
      R"({"u64":"18446744073709551615"})",
      R"({"u64":"18446744073709551616"})",
      R"({"u64":-1})",
      R"({"u64":1.8446744073709552e19})",
      R"({"u32":-1})",
      R"({"u32":4294967295})",
      R"({"u32":4294967296})",
      R"({"u32":"+5"})",
      R"({"u32":"-0"})",
      R"({"s32":-3})",
      R"({"sf64":"-1"})",
      R"({"f32":"4294967295"})",
      // Floating point.
      R"({"fl":1e39})",
      R"({"fl":"1e39"})",
      R"({"fl":3.4028235e38})",
      R"({"fl":3.40282357e38})",
      R"({"fl":3.4028235677973362e38})",
      R"({"fl":3.4028235677973366e38})",
      R"({"fl":-3.4028235e38})",
      R"({"fl":1e-50})",
      R"({"fl":"3.4028235e38"})",
      R"({"fl":"NaN"})",
      R"({"fl":"nan"})",
      R"({"fl":"inf"})",
      R"({"fl":"0x10"})",
      R"({"fl":"1.5"})",
      R"({"db":"1e400"})",
      R"({"db":"-Infinity"})",
      R"({"db":" 1"})",
      R"({"db":"1 "})",
      R"({"db":"\t1"})",
      R"({"db":"1\t"})",
      R"({"db":"1.5e3"})",
      R"({"db":".5"})",
      R"({"db":"5."})",
      R"({"db":"1_0"})",
      R"({"db":-0.0})",
      R"({"db":-0})",
      R"({"db":"-0"})",
      R"({"db":true})",
      R"({"db":"Infinityx"})",
      R"({"db":5e-324})",
      // Bool, string, bytes.
      R"({"flag":"true"})",
      R"({"flag":1})",
      R"({"flag":"1"})",
      R"({"flag":"false"})",
      R"({"flag":"t"})",
      R"({"flag":"YES"})",
      R"({"flag":"n"})",
      R"({"flag":"on"})",
      R"({"flag":" true"})",
      R"({"str":1})",
      R"({"str":true})",
      R"({"str":"\u00e9\ud83d\ude00"})",
      R"({"str":"a\u0000b"})",
      R"({"raw":"AQID"})",
      R"({"raw":"AQI"})",
      R"({"raw":"AQI="})",
      R"({"raw":"_-8"})",
      R"({"raw":"/+8="})",
      R"({"raw":"A Q I D"})",
      R"({"raw":"AQ=ID"})",
      R"({"raw":"A"})",
      R"({"raw":"AB=="})",
      R"({"raw":"AQ=="})",
      R"({"raw":"AQ="})",
      R"({"raw":"AQ==="})",
      R"({"raw":"AQ\nID"})",
      R"({"raw":"AR=="})",
      R"({"raw":1})",
      R"({"raw":""})",
      R"({"raw":"="})",
      R"({"raw":"===="})",
      R"({"raw":"AAAA===="})",
      R"({"raw":"_/"})",
      R"({"raw":"-+"})",
      R"({"raw":"AB"})",
      R"({"raw":"ABC"})",
      R"({"raw":"ABE="})",
      // Enums.
      R"({"color":"COLOR_RED"})",
      R"({"color":"color_red"})",
      R"({"color":1})",
      R"({"color":"1"})",
      R"({"color":99})",
      R"({"color":"99"})",
      R"({"color":"BLAH"})",
      R"({"color":1.0})",
      R"({"color":null})",
      R"({"color":true})",
      R"({"color":2147483648})",
      R"({"null_value":null})",
      R"({"null_value":"NULL_VALUE"})",
      R"({"null_value":0})",
      R"({"null_value":1})",
      R"({"nullValue":"x"})",
      // Repeated fields.
      R"({"list_i64":[1,"2",null]})",
      R"({"list_i64":null})",
      R"({"list_i64":1})",
      R"({"list_i64":[]})",
      R"({"list_inner":[{},null]})",
      R"({"list_str":[["a"]]})",
      R"({"list_inner":{"name":"x"}})",
      R"({"list_inner":[[{"name":"x"}],{}]})",
      R"({"list_color":["BLAH"]})",
      R"({"list_double":[1,"NaN",null]})",
      R"({"list_i64":[1],"list_i64":[2]})",
      R"({"listI64":[1],"list_i64":[2]})",
      R"({"list_i64":{}})",
      R"({"list_raw":["AQ",null]})",
      // Messages.
      R"({"inner":null})",
      R"({"inner":[]})",
      R"({"inner":1})",
      R"({"inner":"x"})",
      R"({"inner":{"children":[{"name":"x"}]}})",
      R"({"inner":{"name":"a"},"inner":{"value":3}})",
      R"({"empty":{}})",
      R"({"empty":null})",
      R"({"empty":{"a":1}})",
      R"({"empty":1})",
      R"({"empty":{},"empty":{}})",
      // Maps.
      R"({"map_str_i64":{"a":1,"b":"2"}})",
      R"({"map_str_i64":{"a":null}})",
      R"({"map_str_i64":null})",
      R"({"map_str_i64":[]})",
      R"({"map_str_i64":1})",
      R"({"map_i32_inner":{"1":{"name":"x"},"-2":{}}})",
      R"({"map_i32_inner":{"x":{}}})",
      R"({"map_i32_inner":{" 1":{}}})",
      R"({"map_i32_inner":{"1.0":{}}})",
      R"({"map_i32_inner":{"2147483648":{}}})",
      R"({"map_i32_inner":{"1":null}})",
      R"({"map_i32_inner":{"1":{},"01":{}}})",
      R"({"map_bool_color":{"true":"COLOR_RED","false":2}})",
      R"({"map_bool_color":{"TRUE":1}})",
      R"({"map_bool_color":{"t":1}})",
      R"({"map_bool_color":{"1":1}})",
      R"({"map_bool_color":{"true":1,"t":2}})",
      R"({"map_bool_color":{"maybe":1}})",
      R"({"map_bool_color":{"true":"BLAH"}})",
      R"({"map_u64_raw":{"18446744073709551615":"AQ"}})",
      R"({"map_u64_raw":{"-1":"AQ"}})",
      R"({"map_u64_raw":{"1":null}})",
      R"({"map_str_i64":{"a":1,"a":2}})",
      R"({"map_str_str":{"a":null}})",
      R"({"map_str_str":{"a":1}})",
      R"({"map_str_i64":{"":1}})",
      R"({"map_i32_inner":{"1":[]}})",
      // Duplicates and oneofs.
      R"({"i32":1,"i32":2})",
      R"({"i32":1,"i32":0})",
      R"({"i32":0,"i32":0})",
      R"({"str":"a","str":""})",
      R"({"raw":"AQ","raw":""})",
      R"({"color":1,"color":0})",
      R"({"choice_str":"a","choice_i64":"3"})",
      R"({"choice_str":"a","choice_str":"b"})",
      R"({"choice_str":null,"choice_i64":"3"})",
      R"({"choice_str":"","choiceI64":"3"})",
      R"({"choice_str":""})",
      R"({"choiceInner":{}})",
      R"({"opt_i32":0})",
      R"({"optI32":null})",
      R"({"opt_str":""})",
      R"({"opt_i32":1,"opt_i32":2})",
      R"({"opt_i32":1,"optI32":null})",
      // Unknown fields.
      R"({"colour":1})",
      R"({"inner":{"colour":1}})",
      R"({"list_inner":[{},{},{"nme":1}]})",
      R"({"map_i32_inner":{"3":{"x":1}}})",
      R"({"I32":1})",
      // Roots.
      R"([])",
      R"(1)",
      R"("x")",
      R"(true)",
      R"({})",
      R"( {} )",
      R"({"i32":1} x)",
      // Timestamp.
      R"({"at":"1970-01-01T00:00:00Z"})",
      R"({"at":"1970-01-01T00:00:00.5Z"})",
      R"({"at":"1970-01-01T00:00:00.123456789Z"})",
      R"({"at":"1970-01-01T00:00:00.1234567891Z"})",
      R"({"at":"1970-01-01T00:00:00+01:00"})",
      R"({"at":"1970-01-01T00:00:00-01:30"})",
      R"({"at":"1970-01-01t00:00:00z"})",
      R"({"at":"1970-01-01 00:00:00Z"})",
      R"({"at":"0001-01-01T00:00:00Z"})",
      R"({"at":"0000-12-31T23:59:59Z"})",
      R"({"at":"9999-12-31T23:59:59.999999999Z"})",
      R"({"at":"10000-01-01T00:00:00Z"})",
      R"({"at":"1970-02-30T00:00:00Z"})",
      R"({"at":"2000-02-29T00:00:00Z"})",
      R"({"at":"1900-02-29T00:00:00Z"})",
      R"({"at":"1970-01-01T24:00:00Z"})",
      R"({"at":"1970-01-01T00:00:60Z"})",
      R"({"at":"1970-1-01T00:00:00Z"})",
      R"({"at":"1970-01-01T00:00:00."})",
      R"({"at":"1970-01-01T00:00:00.Z"})",
      R"({"at":"1970-01-01T00:00:00"})",
      R"({"at":"1970-01-01T00:00:00Zjunk"})",
      R"({"at":"1970-01-01T00:00:00Z\u0000junk"})",
      R"({"at":"1970-01-01T00:00:00+24:00"})",
      R"({"at":"0001-01-01T00:00:00+01:00"})",
      R"({"at":null})",
      R"({"at":1})",
      R"({"at":{}})",
      R"({"at":{"seconds":1}})",
      R"({"at":{"seconds":"x"}})",
      R"({"at":[]})",
      // Duration.
      R"({"took":"1s"})",
      R"({"took":"1.5s"})",
      R"({"took":"-1.5s"})",
      R"({"took":"-0.5s"})",
      R"({"took":"0.000000001s"})",
      R"({"took":"0.0000000001s"})",
      R"({"took":"1.0000000000s"})",
      R"({"took":"315576000000s"})",
      R"({"took":"315576000001s"})",
      R"({"took":"-315576000000.999999999s"})",
      R"({"took":"1"})",
      R"({"took":"1S"})",
      R"({"took":"+1s"})",
      R"({"took":".5s"})",
      R"({"took":"1.s"})",
      R"({"took":" 1s"})",
      R"({"took":"01s"})",
      R"({"took":"1e3s"})",
      R"({"took":"-0s"})",
      R"({"took":"s"})",
      R"({"took":"-s"})",
      R"({"took":"1.50s"})",
      R"({"took":"--1s"})",
      R"({"took":"-+1s"})",
      R"({"took":"1. 5s"})",
      R"({"took":"1.+5s"})",
      R"({"took":"1 s"})",
      R"({"took":{"nanos":5}})",
      // FieldMask.
      R"({"mask":"a,b.c,fooBar"})",
      R"({"mask":"fooBar.bazQux"})",
      R"({"mask":""})",
      R"({"mask":"a,,b"})",
      R"({"mask":"foo_bar"})",
      R"({"mask":"FooBar"})",
      R"({"mask":"a b"})",
      R"({"mask":1})",
      R"({"mask":["a"]})",
      R"({"mask":{"paths":["a"]}})",
      R"j({"mask":"a(b,c)"})j",
      R"j({"mask":"a(b,c(d))"})j",
      R"j({"mask":"a)"})j",
      R"j({"mask":"a("})j",
      R"({"mask":"m[\"k\"]"})",
      R"({"mask":"m[\"k.x\"].fooBar"})",
      R"({"mask":"m[\"k"})",
      R"({"mask":"m[k]"})",
      R"({"mask":"a.\"b\".c"})",
      R"({"mask":"GoogleLAB,gBike,GBike"})",
      // Wrappers.
      R"({"w_i64":"5"})",
      R"({"w_i64":5})",
      R"({"w_i64":0})",
      R"({"w_i64":null})",
      R"({"w_i64":{"value":5}})",
      R"({"w_i64":{}})",
      R"({"w_i64":[]})",
      R"({"w_str":""})",
      R"({"w_str":1})",
      R"({"w_bool":false})",
      R"({"w_bool":"yes"})",
      R"({"w_bytes":"AQ"})",
      R"({"w_float":"NaN"})",
      R"({"w_double":1.5})",
      R"({"w_u64":"18446744073709551615"})",
      R"({"w_i64":1,"w_i64":null})",
      R"({"w_i32":1,"w_i32":0})",
      // Struct, Value, ListValue.
      R"({"attrs":{"a":[1,{"b":null}],"c":"x","d":true,"e":null}})",
      R"({"attrs":1})",
      R"({"attrs":[]})",
      R"({"attrs":null})",
      R"({"attrs":{"a":1,"a":2}})",
      R"({"attrs":{}})",
      R"({"value":[1,null]})",
      R"({"value":null})",
      R"({"value":{"x":{}}})",
      R"({"value":"s"})",
      R"({"value":123456789012345678})",
      R"({"value":-0})",
      R"({"value":1e308})",
      R"({"value":{}})",
      R"({"value":[]})",
      R"({"value":true})",
      R"({"list_value":[null,[],{}]})",
      R"({"list_value":1})",
      R"({"list_value":null})",
      R"({"list_value":{"values":[1]}})",
      R"({"list_value":[]})",
      R"({"value":1,"value":"a"})",
      R"({"attrs":{"a":1},"attrs":{"b":2}})",
      // Any.
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","name":"x"}})",
      R"({"any":{"name":"x","@type":"type.googleapis.com/demo.v1.Sample.Inner"}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Nope","name":"x"}})",
      R"({"any":{"@type":"example.com/demo.v1.Sample.Inner","name":"x"}})",
      R"({"any":{"@type":"demo.v1.Sample.Inner","name":"x"}})",
      R"({"any":{"@type":1}})",
      R"({"any":{"@type":null}})",
      R"({"any":{"name":"x"}})",
      R"({"any":{}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1s"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Duration","val":"1s"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Duration"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":{"seconds":1}}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Value","value":[1,"a"]}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Value","value":null}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Struct","value":{"a":1}}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Empty"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Int32Value","value":"5"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Int32Value","value":0}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Any","value":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","name":"y"}}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","@type":"type.googleapis.com/demo.v1.Sample.Inner"}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","value":1}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner"}})",
      R"({"any":null})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample","any":{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"1970-01-01T00:00:00Z"}}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","nope":1}})",
      R"({"any":[]})",
      R"({"any":"x"})",
  };
  for (const char* json : kCases) {
    ExpectParsesLikeJsonUtil(demo::v1::Sample::descriptor(), json);
  }
}

TEST_F(JsonTranscoderTest, IgnoreUnknownFieldsLikeJsonUtil) {
  const char* const kCases[] = {
      R"({"colour":1,"i32":2})",
      R"({"nope":{"a":[1,2,{"b":3}]}})",
      R"({"color":"BLAH"})",
      R"({"list_color":["BLAH","COLOR_RED"]})",
      R"({"map_bool_color":{"true":"BLAH"}})",
      R"({"inner":{"x":1,"name":"n"}})",
      R"({"any":{"@type":"type.googleapis.com/demo.v1.Sample.Inner","nope":1,"name":"n"}})",
      R"({"any":{"@type":"type.googleapis.com/google.protobuf.Duration","val":"1s"}})",
      R"({"choice_str":"x","choice_i64":"1"})",
  };
  for (const char* json : kCases) {
    ExpectParsesLikeJsonUtil(demo::v1::Sample::descriptor(), json, /*ignore_unknown=*/true);
  }
}

TEST_F(JsonTranscoderTest, OtherTypesParseLikeJsonUtil) {
  using bridge::transcode::test::Collections;
  using bridge::transcode::test::Options;
  using bridge::transcode::test2::Legacy;
  const std::vector<std::pair<const Descriptor*, const char*>> cases = {
      {Options::descriptor(), R"({"otherName":"a","renamed":"b","unpacked":[1,2],"fixed":["-1"]})"},
      {Options::descriptor(), R"({"zed":1,"otherName":"x","big":"5","small":3,"floats":[1.5]})"},
      {Options::descriptor(), R"({"other_name":"a"})"},
      {Collections::descriptor(), R"({"times":["1970-01-01T00:00:01Z",null]})"},
      {Collections::descriptor(), R"({"values":[null,1,"a",[],{}]})"},
      {Collections::descriptor(), R"({"values":null})"},
      {Collections::descriptor(), R"({"nulls":[null,0,"NULL_VALUE"]})"},
      {Collections::descriptor(), R"({"nulls":null})"},
      {Collections::descriptor(), R"({"valueMap":{"a":null,"b":[1]}})"},
      {Collections::descriptor(), R"({"timeMap":{"-5":"1970-01-01T00:00:00Z","7":null}})"},
      {Collections::descriptor(), R"({"wrapperMap":{"a":1,"b":null,"c":{"value":2}}})"},
      {Collections::descriptor(), R"({"wrappers":["a",null,""]})"},
      {Collections::descriptor(), R"({"masks":["a,b",null]})"},
      {Collections::descriptor(), R"({"sintMap":{"-1":"x","2147483647":"y"}})"},
      {Collections::descriptor(), R"({"fixedMap":{"18446744073709551615":true}})"},
      {Collections::descriptor(), R"({"lists":[[1],[],null]})"},
      {Collections::descriptor(), R"({"structs":[{},{"a":1},null]})"},
      {Collections::descriptor(),
       R"({"anys":[{},{"@type":"type.googleapis.com/google.protobuf.Empty"}]})"},
      {Collections::descriptor(), R"({"pickValue":null})"},
      {Collections::descriptor(), R"({"pickNull":null})"},
      {Collections::descriptor(), R"({"pickNull":null,"pickValue":1})"},
      {Collections::descriptor(), R"({"pickTime":null,"pickValue":1})"},
      {Collections::descriptor(), R"({"valueMap":{"a":{"b":[{"c":null}]}}})"},
      {Legacy::descriptor(), R"({"count":0,"label":"","level":"LOW","ratio":0})"},
      {Legacy::descriptor(), R"({"level":3})"},
      {Legacy::descriptor(), R"({"levels":["LOW",3,"HIGH"]})"},
      {Legacy::descriptor(), R"({"packedInts":[1,2,3]})"},
      {Legacy::descriptor(), R"({"counts":{"a":1,"b":"9"}})"},
      {Legacy::descriptor(), R"({"child":{"child":{"flag":false}}})"},
  };
  for (const auto& [type, json] : cases) ExpectParsesLikeJsonUtil(type, json);
}

// json_util 3.21 cannot read groups (it writes them as length-delimited fields and then fails
// to parse its own output); the transcoder writes them as groups.
TEST_F(JsonTranscoderTest, ReadsGroups) {
  using bridge::transcode::test2::Legacy;
  JsonTranscoder transcoder(nullptr, {});
  ASSERT_FALSE(oracle_.ParseJson(Legacy::descriptor(), R"({"note":[{"text":"a"}]})").ok());
  auto bytes = transcoder.JsonToBinary(
      Legacy::descriptor(), R"({"part":{"title":"t","pages":[1,2]},"note":[{"text":"a"},{}]})");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  Legacy legacy;
  ASSERT_TRUE(legacy.ParseFromString(*bytes));
  EXPECT_EQ(legacy.part().title(), "t");
  EXPECT_EQ(legacy.part().pages_size(), 2);
  ASSERT_EQ(legacy.note_size(), 2);
  EXPECT_EQ(legacy.note(0).text(), "a");
  EXPECT_FALSE(legacy.note(1).has_text());
  // json_util prints groups as empty lists; the transcoder prints their fields.
  auto json = transcoder.BinaryToJson(Legacy::descriptor(), *bytes);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"part":{"title":"t","pages":[1,2]},"note":[{"text":"a"},{}]})");
}

TEST_F(JsonTranscoderTest, PrintsProto2DefaultsWhenAskedTo) {
  TranscodeOptions options;
  options.always_print_primitive_fields = true;
  JsonTranscoder transcoder(nullptr, options);
  bridge::transcode::test2::Legacy legacy;
  legacy.set_flag(true);
  auto json = transcoder.BinaryToJson(legacy.GetDescriptor(), legacy.SerializeAsString());
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            R"({"count":7,"label":"none","level":"HIGH","ratio":0.5,"blob":"AQI=","levels":[],)"
            R"("packedInts":[],"note":[],"counts":{},"flag":true})");
  // The same with proto names and enum numbers (the declared default, HIGH = 5).
  JsonMapping mapping;
  mapping.emit_defaults = true;
  mapping.proto_names = true;
  mapping.enums_as_numbers = true;
  json = transcoder.BinaryToJson(legacy.GetDescriptor(), legacy.SerializeAsString(), mapping);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, R"({"count":7,"label":"none","level":5,"ratio":0.5,"blob":"AQI=","levels":[],)"
                   R"("packed_ints":[],"note":[],"counts":{},"flag":true})");
}

// The wire may set a map key twice; the last value wins, as in a parsed generated message
// (a dynamic message keeps both entries, and json_util then prints the key twice).
TEST_F(JsonTranscoderTest, RepeatedMapKeysKeepTheLastValue) {
  demo::v1::Sample first, second, third;
  (*first.mutable_map_str_i64())["k"] = 1;
  (*second.mutable_map_str_i64())["other"] = 2;
  (*third.mutable_map_str_i64())["k"] = 3;
  (*first.mutable_attrs()->mutable_fields())["a"].set_bool_value(true);
  (*third.mutable_attrs()->mutable_fields())["a"].set_string_value("x");
  const std::string bytes =
      first.SerializeAsString() + second.SerializeAsString() + third.SerializeAsString();
  demo::v1::Sample parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  std::string expected;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(parsed, &expected).ok());
  JsonTranscoder transcoder(nullptr, {});
  auto json = transcoder.BinaryToJson(demo::v1::Sample::descriptor(), bytes);
  ASSERT_TRUE(json.ok()) << json.status();
  auto ours = oracle_.ParseJson(demo::v1::Sample::descriptor(), *json);
  auto theirs = oracle_.ParseJson(demo::v1::Sample::descriptor(), expected);
  ASSERT_TRUE(ours.ok()) << *json;
  ASSERT_TRUE(theirs.ok());
  std::string difference;
  EXPECT_TRUE(MessagesEqual(**ours, **theirs, &difference)) << difference;
}

TEST_F(JsonTranscoderTest, RandomMessagesPrintLikeJsonUtil) {
  for (const Descriptor* type : AllTypes()) {
    for (uint64_t seed = 1; seed <= 400; ++seed) {
      std::unique_ptr<Message> message = RandomMessage(type, seed);
      ExpectPrintsLikeJsonUtil(*message);
      if (HasFailure()) return;
    }
  }
  std::cout << "printed " << exact_ << " messages exactly as json_util, " << semantic_
            << " equal by message (maps in another order)\n";
  EXPECT_GT(exact_, 10 * semantic_);
}

// Every combination of the three mapping options against json_util's JsonPrintOptions; what
// is printed reads back (JsonToBinary) as json_util's parser reads it, and to the same message
// whatever the mapping.
TEST_F(JsonTranscoderTest, RandomMessagesPrintLikeJsonUtilUnderEveryMapping) {
  JsonTranscoder transcoder(nullptr, {});
  for (const JsonMapping& mapping : AllMappings()) {
    SCOPED_TRACE(Describe(mapping));
    for (const Descriptor* type : AllTypes()) {
      // json_util mishandles proto2 defaults (below): emit_defaults on proto3 types only.
      if (mapping.emit_defaults &&
          type->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3) {
        continue;
      }
      for (uint64_t seed = 1; seed <= 60; ++seed) {
        std::unique_ptr<Message> message = RandomMessage(type, seed);
        ExpectPrintsLikeJsonUtil(*message, mapping);
        const std::string bytes = message->SerializeAsString();
        auto json = transcoder.BinaryToJson(type, bytes, mapping);
        ASSERT_TRUE(json.ok()) << json.status();
        // Read back as json_util reads it (its parser takes every spelling), and to the message
        // the canonical mapping's text holds (the message printed, but for a -0.0 in a field
        // without presence, which JSON reads as 0).
        ExpectParsesLikeJsonUtil(type, *json);
        auto canonical = transcoder.BinaryToJson(type, bytes);
        ASSERT_TRUE(canonical.ok()) << canonical.status();
        auto expected = oracle_.ParseJson(type, *canonical);
        ASSERT_TRUE(expected.ok()) << expected.status();
        ExpectReadsBackTo(**expected, *json);
        if (HasFailure()) return;
      }
    }
  }
}

// JsonToBinary reads what json_util writes under every mapping: lowerCamelCase or proto
// names, enum names or numbers, with or without the defaults.
TEST_F(JsonTranscoderTest, ReadsEveryMappingJsonUtilWrites) {
  auto message = oracle_.ParseJson(demo::v1::Sample::descriptor(), kFullSample);
  ASSERT_TRUE(message.ok()) << message.status();
  for (const JsonMapping& mapping : AllMappings()) {
    SCOPED_TRACE(Describe(mapping));
    auto json = oracle_.PrintJson(**message, mapping.emit_defaults, mapping.proto_names,
                                  mapping.enums_as_numbers);
    ASSERT_TRUE(json.ok()) << json.status();
    ExpectParsesLikeJsonUtil(demo::v1::Sample::descriptor(), *json);
    ExpectReadsBackTo(**message, *json);
  }
}

// A message with nothing set prints as json_util prints it under every mapping: nothing, or
// every field without presence at its default, named and spelled by the mapping.
TEST_F(JsonTranscoderTest, DefaultMessagesPrintLikeJsonUtilUnderEveryMapping) {
  for (const JsonMapping& mapping : AllMappings()) {
    SCOPED_TRACE(Describe(mapping));
    for (const Descriptor* type : AllTypes()) {
      if (type->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3) continue;
      ExpectPrintsLikeJsonUtil(*oracle_.New(type), mapping);
    }
  }
  EXPECT_EQ(semantic_ + json_util_unreadable_, 0);
}

TEST_F(JsonTranscoderTest, TheMappingOptionsChangeWhatTheyNameAndNothingElse) {
  demo::v1::SayResponse r;
  r.set_text("hi");
  r.mutable_received_at()->set_seconds(1);
  r.mutable_sample()->set_color(demo::v1::Sample::COLOR_RED);
  const std::string bytes = r.SerializeAsString();
  JsonTranscoder transcoder(nullptr, {});
  auto print = [&](JsonMapping m) {
    auto json = transcoder.BinaryToJson(demo::v1::SayResponse::descriptor(), bytes, m);
    EXPECT_TRUE(json.ok()) << json.status();
    return json.ok() ? *json : "";
  };
  EXPECT_EQ(print({}), R"({"text":"hi","sample":{"color":"COLOR_RED"},)"
                       R"("receivedAt":"1970-01-01T00:00:01Z"})");
  EXPECT_EQ(print({false, true, false}), R"({"text":"hi","sample":{"color":"COLOR_RED"},)"
                                         R"("received_at":"1970-01-01T00:00:01Z"})");
  EXPECT_EQ(print({false, false, true}), R"({"text":"hi","sample":{"color":1},)"
                                         R"("receivedAt":"1970-01-01T00:00:01Z"})");
  const std::string all = print({true, false, true});
  EXPECT_THAT(all, HasSubstr(R"("sequence":"0")"));
  EXPECT_THAT(all, HasSubstr(R"("flag":false)"));
}

// With always_print_primitive_fields json_util mishandles proto2 (it prints a bytes default
// C-escaped before base64 and an unset group as null): proto3 types here, proto2 below.
TEST_F(JsonTranscoderTest, RandomMessagesPrintLikeJsonUtilWithDefaults) {
  for (const Descriptor* type : AllTypes()) {
    if (type->file()->syntax() != google::protobuf::FileDescriptor::SYNTAX_PROTO3) continue;
    for (uint64_t seed = 1; seed <= 200; ++seed) {
      std::unique_ptr<Message> message = RandomMessage(type, seed);
      ExpectPrintsLikeJsonUtil(*message, /*always_print=*/true);
      if (HasFailure()) return;
    }
  }
  std::cout << "printed " << exact_ << " messages exactly as json_util, " << semantic_
            << " equal by message (maps in another order), " << json_util_unreadable_
            << " where json_util adds an empty list to an Any\n";
  EXPECT_GT(exact_, 10 * (semantic_ + json_util_unreadable_));
}

TEST_F(JsonTranscoderTest, RandomMessagesParseLikeJsonUtil) {
  JsonTranscoder transcoder(nullptr, {});
  for (const Descriptor* type : AllTypes()) {
    for (uint64_t seed = 1; seed <= 400; ++seed) {
      std::unique_ptr<Message> message = RandomMessage(type, seed);
      // The JSON a client may send: json_util's, with proto names, defaults, enum numbers.
      const bool proto_names = seed % 2 == 0;
      const bool defaults = seed % 3 == 0;
      const bool enum_numbers = seed % 5 == 0;
      auto json = oracle_.PrintJson(*message, defaults, proto_names, enum_numbers);
      // Skip what json_util cannot print or read back (see RandomMessagesPrintLikeJsonUtil).
      if (!json.ok() || !oracle_.ParseJson(type, *json).ok()) continue;
      SCOPED_TRACE(*json);
      ExpectParsesLikeJsonUtil(type, *json);
      auto bytes = transcoder.JsonToBinary(type, *json);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      auto parsed = oracle_.ParseBinary(type, *bytes);
      ASSERT_TRUE(parsed.ok());
      std::string difference;
      // And back: the transcoder's own JSON reads back to the same message.
      auto again = transcoder.BinaryToJson(type, *bytes);
      ASSERT_TRUE(again.ok()) << again.status();
      auto round = transcoder.JsonToBinary(type, *again);
      ASSERT_TRUE(round.ok()) << round.status();
      auto reparsed = oracle_.ParseBinary(type, *round);
      ASSERT_TRUE(reparsed.ok());
      ASSERT_TRUE(MessagesEqual(**parsed, **reparsed, &difference)) << difference;
    }
  }
}

// Wire bytes with random damage: ValidateBinary agrees with ParseFromString, and BinaryToJson
// accepts no bytes that ParseFromString refuses.
TEST_F(JsonTranscoderTest, ValidateBinaryAgreesWithParseFromString) {
  JsonTranscoder transcoder(nullptr, {});
  int refused = 0;
  for (const Descriptor* type : AllTypes()) {
    for (uint64_t seed = 1; seed <= 300; ++seed) {
      MessageGenerator generator(seed);
      std::unique_ptr<Message> message = oracle_.New(type);
      generator.Fill(message.get());
      std::string bytes = message->SerializeAsString();
      const uint32_t edits = 1 + generator.Below(3);
      for (uint32_t e = 0; e < edits && !bytes.empty(); ++e) {
        const size_t at = generator.Below(static_cast<uint32_t>(bytes.size()));
        switch (generator.Below(3)) {
          case 0:
            bytes[at] = static_cast<char>(generator.Below(256));
            break;
          case 1:
            bytes.erase(at, 1 + generator.Below(3));
            break;
          default:
            bytes.insert(at, 1, static_cast<char>(generator.Below(256)));
            break;
        }
      }
      const bool parses = oracle_.ParseBinary(type, bytes).ok();
      const absl::Status valid = transcoder.ValidateBinary(type, bytes);
      ASSERT_EQ(parses, valid.ok()) << "seed " << seed << " " << type->full_name() << ": " << valid;
      if (!parses) {
        ++refused;
        EXPECT_FALSE(transcoder.BinaryToJson(type, bytes).ok());
      }
    }
  }
  EXPECT_GT(refused, 100);
}

// Nesting limits: protobuf's parser stops at 100 levels of messages (map entries count),
// json_util's printer at 64 levels of message fields (map entries do not count). The
// transcoder stops where they stop, in both directions.
TEST_F(JsonTranscoderTest, NestingLimitsMatchJsonUtil) {
  const Descriptor* sample = demo::v1::Sample::descriptor();
  auto nested = [](int levels, const std::string& open, const std::string& leaf,
                   const std::string& close) {
    std::string json;
    for (int i = 0; i < levels; ++i) json += open;
    json += leaf;
    for (int i = 0; i < levels; ++i) json += close;
    return json;
  };
  std::vector<std::string> cases;
  for (int n : {30, 31, 32, 33, 34, 48, 49, 50, 62, 63, 64, 65, 66, 97, 98, 99, 100, 101}) {
    cases.push_back(R"({"inner":)" + nested(n, R"({"children":[)", "{}", "]}") + "}");
    cases.push_back(R"({"value":)" + nested(n, R"({"a":)", "1", "}") + "}");
    cases.push_back(R"({"listValue":)" + nested(n, "[", "1", "]") + "}");
    cases.push_back(R"({"mapI32Inner":{"1":)" + nested(n, R"({"children":[)", "{}", "]}") + "}}");
  }
  JsonTranscoder transcoder(nullptr, {});
  for (const std::string& json : cases) {
    ExpectParsesLikeJsonUtil(sample, json);
    // And back, from bytes json_util would not have written but a peer may send.
    auto message = oracle_.ParseJson(sample, json);
    if (!message.ok()) continue;
    ExpectPrintsLikeJsonUtil(**message);
  }
  // Wire bytes nested around the parser's limit: inner.children.children...
  auto length_delimited = [](uint8_t tag, const std::string& content) {
    std::string out(1, static_cast<char>(tag));
    for (size_t n = content.size();; n >>= 7) {
      out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    return out + content;
  };
  for (int levels = 95; levels <= 105; ++levels) {
    std::string inner;
    for (int i = 0; i < levels; ++i) inner = length_delimited(0x1a, inner);       // children = 3
    const std::string bytes = "\x8a\x01" + length_delimited(0, inner).substr(1);  // inner = 17
    const bool parses = oracle_.ParseBinary(sample, bytes).ok();
    EXPECT_EQ(transcoder.ValidateBinary(sample, bytes).ok(), parses) << levels;
    EXPECT_FALSE(transcoder.BinaryToJson(sample, bytes).ok()) << levels;  // past 64 to print
  }
}

// Each Struct level holds its deeper level under a key and then the same key again with a
// number: the number wins. The deeper levels reach past json_util's print limit, so printing
// them fails; the failure does not count, since a later value replaces them.
TEST_F(JsonTranscoderTest, RepeatedKeysReplaceValuesThatCannotPrint) {
  auto field = [](int number, const std::string& content) {
    std::string out(1, static_cast<char>(number << 3 | 2));
    for (size_t n = content.size();; n >>= 7) {
      out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    return out + content;
  };
  const std::string one = std::string("\x11", 1) + std::string("\0\0\0\0\0\0\xf0\x3f", 8);
  std::string value = one;                    // google.protobuf.Value{number_value: 1}
  for (int level = 0; level < 33; ++level) {  // parse depth 100, print depth 67
    const std::string deep_entry = field(1, "a") + field(2, value);
    const std::string one_entry = field(1, "a") + field(2, one);
    value = field(5, field(1, deep_entry) + field(1, one_entry));  // struct_value
  }
  const std::string bytes =
      std::string("\xaa\x03", 2) + field(0, value).substr(1);  // Sample.value = 53
  Oracle generated(/*generated=*/true);
  auto parsed = generated.ParseBinary(demo::v1::Sample::descriptor(), bytes);
  ASSERT_TRUE(parsed.ok());
  auto expected = generated.PrintJson(**parsed);
  ASSERT_TRUE(expected.ok()) << expected.status();
  JsonTranscoder transcoder(nullptr, {});
  auto json = transcoder.BinaryToJson(demo::v1::Sample::descriptor(), bytes);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, *expected);
  EXPECT_EQ(*json, R"({"value":{"a":1}})");
}

// A message type with many fields, some numbered beyond the dense lookup table, from a
// descriptor built at run time (as the bridge gets them from descriptor sets).
TEST_F(JsonTranscoderTest, WideMessagesFromARuntimePool) {
  google::protobuf::FileDescriptorProto file;
  file.set_name("wide.proto");
  file.set_package("wide");
  file.set_syntax("proto3");
  auto* message = file.add_message_type();
  message->set_name("Wide");
  for (int i = 1; i <= 200; ++i) {
    auto* field = message->add_field();
    field->set_name("f" + std::to_string(i));
    field->set_number(i == 200 ? 100000 : i);
    field->set_type(i % 3 == 0 ? google::protobuf::FieldDescriptorProto::TYPE_STRING
                               : google::protobuf::FieldDescriptorProto::TYPE_INT64);
    field->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
  }
  google::protobuf::DescriptorPool pool;
  ASSERT_NE(pool.BuildFile(file), nullptr);
  const Descriptor* wide = pool.FindMessageTypeByName("wide.Wide");
  for (const char* json : {R"({"f1":"5","f150":"7","f200":"9","f199":"x"})",
                           R"({"f150":"7","f150":"0","f200":"1","f200":"2"})", R"({"f201":1})",
                           R"({"f200":"1","f1":"2","f99":"s"})"}) {
    ExpectParsesLikeJsonUtil(wide, json);
    auto parsed = oracle_.ParseJson(wide, json);
    if (parsed.ok()) ExpectPrintsLikeJsonUtil(**parsed);
  }
}

// Messages larger than the per-thread scratch space keeps (a 600 KB JSON document, 60000
// field occurrences), then a small one on the same thread.
TEST_F(JsonTranscoderTest, LargeMessages) {
  using bridge::transcode::test::Order;
  Order order;
  for (int i = 0; i < 20000; ++i) {
    auto* item = order.add_items();
    item->set_name("item-" + std::to_string(i));
    item->set_price(i * 0.25);
    item->set_quantity(i);
  }
  auto json = oracle_.PrintJson(order);
  ASSERT_TRUE(json.ok());
  ASSERT_GT(json->size(), 256u * 1024);
  ExpectParsesLikeJsonUtil(Order::descriptor(), *json);
  ExpectPrintsLikeJsonUtil(order);
  ExpectParsesLikeJsonUtil(Order::descriptor(), R"({"id":"small","items":[{"price":1.5}]})");
}

TEST_F(JsonTranscoderTest, ErrorsNameThePath) {
  using bridge::transcode::test::Order;
  JsonTranscoder transcoder(nullptr, {});
  const Descriptor* order = Order::descriptor();
  struct Case {
    const char* json;
    const char* message;
  };
  const Case kCases[] = {
      {R"({"items":[{},{},{"price":"abc"}]})", "items[2].price: invalid value \"abc\""},
      {R"({"items":[{"quantity":1.5}]})", "items[0].quantity: invalid value 1.5"},
      {R"({"bySku":{"k1":{"nme":"x"}}})", "bySku[\"k1\"].nme: unknown field"},
      {R"({"parent":{"parent":{"items":[{"price":true}]}}})",
       "parent.parent.items[0].price: invalid value true"},
      {R"({"colour":"red"})", "colour: unknown field"},
      {R"({"id":"a","id":5})", "id: invalid value 5"},
      {R"({"items":{"bad":1}})", "items.bad: unknown field"},
      {"{\"items\":[", "invalid JSON"},
  };
  for (const Case& c : kCases) {
    auto result = transcoder.JsonToBinary(order, c.json);
    ASSERT_FALSE(result.ok()) << c.json;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Sv(result.status().message()),
                StartsWith("payload is not a valid bridge.transcode.test.Order: "));
    EXPECT_THAT(Sv(result.status().message()), HasSubstr(c.message));
  }
}

TEST_F(JsonTranscoderTest, BinaryErrorsNameThePath) {
  JsonTranscoder transcoder(nullptr, {});
  demo::v1::Sample sample;
  sample.mutable_inner()->add_children()->set_name("x");
  sample.mutable_at()->set_seconds(-99999999999999);
  auto json = transcoder.BinaryToJson(demo::v1::Sample::descriptor(), sample.SerializeAsString());
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Sv(json.status().message()), HasSubstr("at: Timestamp out of range"));

  demo::v1::Sample bad_utf8;
  bad_utf8.mutable_map_i32_inner()->operator[](7).set_name("ok");
  std::string bytes = bad_utf8.SerializeAsString();
  bytes.back() = '\xff';  // the last byte of "ok"
  auto result = transcoder.ValidateBinary(demo::v1::Sample::descriptor(), bytes);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(Sv(result.message()), HasSubstr("mapI32Inner.value.name: string field holds"));
}

TEST_F(JsonTranscoderTest, EmptyAndNullAreTheDefaultMessage) {
  JsonTranscoder transcoder(nullptr, {});
  for (const char* json : {"", "null", " null ", "  \n", "{}"}) {
    auto bytes = transcoder.JsonToBinary(demo::v1::Sample::descriptor(), json);
    ASSERT_TRUE(bytes.ok()) << json;
    EXPECT_EQ(*bytes, "") << json;
  }
  auto json = transcoder.BinaryToJson(demo::v1::Sample::descriptor(), "");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "{}");
}

// Plans are built on first use while other threads transcode: every thread gets the results
// a single thread gets.
TEST_F(JsonTranscoderTest, ServesManyThreadsAtOnce) {
  struct Case {
    const Descriptor* type;
    std::string json;
    std::string bytes;
    std::string printed;
  };
  std::vector<Case> cases;
  const std::vector<const Descriptor*> types = AllTypes();
  {
    JsonTranscoder reference(nullptr, {});
    for (uint64_t seed = 1; seed <= 60; ++seed) {
      const Descriptor* type = types[seed % types.size()];
      std::unique_ptr<Message> message = RandomMessage(type, seed);
      auto json = oracle_.PrintJson(*message);
      if (!json.ok()) continue;
      auto bytes = reference.JsonToBinary(type, *json);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      auto printed = reference.BinaryToJson(type, *bytes);
      ASSERT_TRUE(printed.ok()) << printed.status();
      cases.push_back({type, *json, *bytes, *printed});
    }
  }
  JsonTranscoder shared(nullptr, {});
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (size_t i = 0; i < cases.size(); ++i) {
          const Case& c = cases[(i * 7 + t * 13 + round) % cases.size()];
          auto bytes = shared.JsonToBinary(c.type, c.json);
          auto printed = shared.BinaryToJson(c.type, c.bytes);
          if (!bytes.ok() || *bytes != c.bytes || !printed.ok() || *printed != c.printed) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace bridge::transcode
