// The text forms of the JSON mapping against their references: printf for numbers, json_util
// for string escaping, and protobuf's rules for base64, Timestamp, Duration and FieldMask.
#include "bridge/transcode/json_text.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

#include "gtest/gtest.h"
#include "proto/demo/v1/echo.pb.h"
#include "tests/bridge/transcode/transcode_testing.h"

namespace bridge::transcode {
namespace {

std::string Written(void (*write)(JsonWriter*, double), double v) {
  std::string out;
  JsonWriter w(&out);
  write(&w, v);
  w.Finish();
  return out;
}

// protobuf's SimpleDtoa / SimpleFtoa.
std::string ReferenceDouble(double v) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.15g", v);
  if (strtod(buf, nullptr) != v) snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

// Its safe_strtof fails when strtof sets errno, as it does for a subnormal result.
std::string ReferenceFloat(float v) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.6g", static_cast<double>(v));
  errno = 0;
  const float back = strtof(buf, nullptr);
  if (errno != 0 || back != v) snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(v));
  return buf;
}

std::string Escaped(std::string_view text) {
  std::string out;
  JsonWriter w(&out);
  w.String(text);
  w.Finish();
  return out;
}

// Strings are scanned eight bytes at a time: every byte value, at every place of the 8-byte
// words, is escaped (or copied) exactly as when it stands alone (scanned one byte at a time).
TEST(JsonWriterTest, WordAtATimeScanMissesNoSpecialByte) {
  for (int b = 0; b < 256; ++b) {
    // A lead byte takes the next byte into its (here broken) sequence; the rest stand alone.
    if (b >= 0xc0 && b <= 0xf7) continue;
    const std::string alone = Escaped(std::string(1, static_cast<char>(b)));
    const std::string inner = alone.substr(1, alone.size() - 2);  // without the quotes
    for (size_t at = 0; at < 24; ++at) {
      std::string text(40, 'a');
      text[at] = static_cast<char>(b);
      const std::string want =
          "\"" + std::string(at, 'a') + inner + std::string(40 - at - 1, 'a') + "\"";
      ASSERT_EQ(Escaped(text), want) << "byte " << b << " at " << at;
    }
  }
}

TEST(JsonWriterTest, DoublesMatchSimpleDtoa) {
  std::mt19937_64 rng(7);
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                0.1,
                                1e21,
                                1e-7,
                                1e15,
                                1e16,
                                123456.0,
                                1e-5,
                                1e-4,
                                5e-324,
                                2.2250738585072014e-308,
                                std::numeric_limits<double>::max(),
                                0.30000000000000004,
                                123456789012345678.0,
                                9007199254740993.0,
                                100.0,
                                1.5e300};
  for (int i = 0; i < 200000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isfinite(d)) values.push_back(d);
    values.push_back(static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) /
                     std::pow(10.0, static_cast<int>(rng() % 12)));
  }
  for (double v : values) {
    ASSERT_EQ(Written([](JsonWriter* w, double d) { w->Double(d); }, v), ReferenceDouble(v))
        << "bits " << std::hex << *reinterpret_cast<uint64_t*>(&v);
  }
  EXPECT_EQ(Written([](JsonWriter* w, double d) { w->Double(d); }, NAN), "\"NaN\"");
  EXPECT_EQ(Written([](JsonWriter* w, double d) { w->Double(d); }, -INFINITY), "\"-Infinity\"");
}

TEST(JsonWriterTest, FloatsMatchSimpleFtoa) {
  std::mt19937 rng(11);
  std::vector<float> values = {0.0f,   -0.0f,           0.1f,        1e10f, 3.40282347e38f,
                               1e-45f, 1.17549435e-38f, 16777217.0f, 0.3f,  -9.14767638e-41f};
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    if (std::isfinite(f)) values.push_back(f);
    values.push_back(static_cast<float>(rng() % 100000) / 1000.0f);
  }
  for (float v : values) {
    ASSERT_EQ(Written([](JsonWriter* w, double d) { w->Float(static_cast<float>(d)); }, v),
              ReferenceFloat(v));
  }
  EXPECT_EQ(Written([](JsonWriter* w, double d) { w->Float(static_cast<float>(d)); }, INFINITY),
            "\"Infinity\"");
}

TEST(JsonWriterTest, IntegersAndBase64) {
  std::string out;
  JsonWriter w(&out);
  w.Int(-5);
  w.Char(',');
  w.Uint(18446744073709551615ull);
  w.Char(',');
  w.QuotedInt(std::numeric_limits<int64_t>::min());
  w.Char(',');
  w.Base64(std::string("\0\1\377", 3));
  w.Char(',');
  w.Base64("");
  w.Char(',');
  w.Base64("ab");
  w.Finish();
  EXPECT_EQ(out, "-5,18446744073709551615,\"-9223372036854775808\",\"AAH/\",\"\",\"YWI=\"");
}

// Escaping is checked against json_util, string by string.
TEST(JsonWriterTest, StringsEscapeLikeJsonUtil) {
  testing::Oracle oracle;
  testing::MessageGenerator generator(3);
  std::vector<std::string> strings = {"",
                                      "plain",
                                      "\"\\/",
                                      std::string("\0", 1),
                                      "<script>",
                                      "\x7f\xc2\x80\xc2\x9f\xc2\xa0",
                                      "\xe2\x80\xa8\xe2\x80\xa9",
                                      "\xef\xbb\xbf",
                                      "\xf3\xa0\x80\x81",
                                      "\xf0\x9d\x85\xb3"};
  for (int i = 0; i < 3000; ++i) strings.push_back(generator.String());
  for (const std::string& s : strings) {
    demo::v1::Sample sample;
    sample.set_str(s);
    auto expected = oracle.PrintJson(sample);
    ASSERT_TRUE(expected.ok());
    std::string out;
    JsonWriter w(&out);
    w.Raw("{\"str\":");
    w.String(s);
    w.Char('}');
    w.Finish();
    if (s.empty()) out = "{}";
    EXPECT_EQ(out, *expected);
  }
}

// Invalid UTF-8 (possible in proto2 strings) is dropped the way json_util drops it.
TEST(JsonWriterTest, DropsInvalidUtf8LikeJsonUtil) {
  auto escaped = [](std::string_view s) {
    std::string out;
    JsonWriter w(&out);
    w.String(s);
    w.Finish();
    return out;
  };
  EXPECT_EQ(escaped("a\x80z"), "\"az\"");
  EXPECT_EQ(escaped("a\xc3"
                    "Az"),
            "\"az\"");                             // the byte that broke the sequence goes too
  EXPECT_EQ(escaped("a\xed\xa0\x80z"), "\"az\"");  // a surrogate
  EXPECT_EQ(escaped("a\xf8z"), "\"az\"");
  EXPECT_EQ(escaped("ab\xe2\x82"), "\"ab\"");  // cut short
}

TEST(Base64Test, DecodesBothAlphabets) {
  std::string out;
  EXPECT_TRUE(Base64Decode("AAH/", &out));
  EXPECT_EQ(out, std::string("\0\1\377", 3));
  out.clear();
  EXPECT_TRUE(Base64Decode("AAH_", &out));
  EXPECT_EQ(out, std::string("\0\1\377", 3));
  out.clear();
  EXPECT_TRUE(Base64Decode("YWI", &out));
  EXPECT_EQ(out, "ab");
  out.clear();
  EXPECT_TRUE(Base64Decode("YWI=", &out));
  EXPECT_EQ(out, "ab");
  for (const char* bad : {"A", "YW=", "YWI==", "Y WI", "YWJ=", "_/8=", "=", "YQ=YQ=="}) {
    out.clear();
    EXPECT_FALSE(Base64Decode(bad, &out)) << bad;
  }
}

TEST(Utf8Test, AcceptsOnlyWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii text longer than eight"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
  for (const char* bad : {"\x80", "\xc0\x80", "\xc3", "\xe0\x80\x80", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "ok\xe2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(Utf8Test, ToValidUtf8ReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(ToValidUtf8("plain"), "plain");
  EXPECT_EQ(ToValidUtf8("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(ToValidUtf8("a\xff"
                        "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(ToValidUtf8("ok\xe2\x82"), "ok\xef\xbf\xbd\xef\xbf\xbd");
  for (const char* bad : {"\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    EXPECT_TRUE(IsValidUtf8(ToValidUtf8(bad))) << bad;
  }
}

std::string Timestamp(int64_t seconds, int32_t nanos) {
  char text[kTimeTextSize];
  const size_t size = FormatTimestamp(seconds, nanos, text);
  return size == 0 ? "error" : std::string(text, size);
}

TEST(TimestampTest, FormatsAndParses) {
  EXPECT_EQ(Timestamp(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Timestamp(-62135596800, 0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Timestamp(253402300799, 999999999), "9999-12-31T23:59:59.999999999Z");
  EXPECT_EQ(Timestamp(951782400, 1000), "2000-02-29T00:00:00.000001Z");
  EXPECT_EQ(Timestamp(-1, 500000000), "1969-12-31T23:59:59.500Z");
  EXPECT_EQ(Timestamp(253402300800, 0), "error");
  EXPECT_EQ(Timestamp(0, -1), "error");

  int64_t seconds;
  int32_t nanos;
  ASSERT_TRUE(ParseTimestamp("2000-02-29T01:02:03.5+01:00", &seconds, &nanos));
  EXPECT_EQ(seconds, 951782400 + 3723 - 3600);
  EXPECT_EQ(nanos, 500000000);
  ASSERT_TRUE(ParseTimestamp("1969-12-31T23:59:59.123456789123Z", &seconds, &nanos));
  EXPECT_EQ(seconds, -1);
  EXPECT_EQ(nanos, 123456789);
  for (const char* bad : {"2001-02-29T00:00:00Z", "1970-01-01T00:00:00", "1970-01-01T00:00:00z",
                          "0000-01-01T00:00:00Z", "1970-01-01T00:00:00.Z"}) {
    EXPECT_FALSE(ParseTimestamp(bad, &seconds, &nanos)) << bad;
  }
}

TEST(DurationTest, FormatsAndParses) {
  auto format = [](int64_t s, int32_t n) {
    char text[kTimeTextSize];
    size_t size;
    return FormatDuration(s, n, text, &size) == DurationFormat::kOk ? std::string(text, size)
                                                                    : "error";
  };
  EXPECT_EQ(format(0, 0), "0s");
  EXPECT_EQ(format(1, 500000000), "1.500s");
  EXPECT_EQ(format(-1, -500000), "-1.000500s");
  EXPECT_EQ(format(0, -1), "-0.000000001s");
  EXPECT_EQ(format(315576000000, 0), "315576000000s");
  EXPECT_EQ(format(315576000001, 0), "error");
  EXPECT_EQ(format(-1, 5), "error");
  EXPECT_EQ(format(1, -5), "error");

  int64_t seconds;
  int32_t nanos;
  ASSERT_TRUE(ParseDuration("-0.5s", &seconds, &nanos));
  EXPECT_EQ(seconds, 0);
  EXPECT_EQ(nanos, -500000000);
  ASSERT_TRUE(ParseDuration(" 01.000000001s", &seconds, &nanos));
  EXPECT_EQ(seconds, 1);
  EXPECT_EQ(nanos, 1);
  for (const char* bad : {"1", "1S", ".5s", "1e3s", "1.0000000001s", "18446744073709551615s",
                          "315576000001s", "--1s", "1.-5s"}) {
    EXPECT_FALSE(ParseDuration(bad, &seconds, &nanos)) << bad;
  }
}

TEST(FieldMaskTest, ConvertsNamesLikeProtobuf) {
  EXPECT_EQ(ToSnakeCase("fooBar"), "foo_bar");
  EXPECT_EQ(ToSnakeCase("GoogleLAB"), "google_lab");
  EXPECT_EQ(ToSnakeCase("GBike"), "g_bike");
  EXPECT_EQ(ToSnakeCase("Biscuit"), "biscuit");
  EXPECT_EQ(ToCamelCase("foo_bar"), "fooBar");
  EXPECT_EQ(ToCamelCase("foo__bar"), "fooBar");
  EXPECT_EQ(ToCamelCase("_foo"), "foo");
  std::string json;
  AppendFieldMaskPathAsJson("a.b_c[\"k_x\"].d_e", &json);
  EXPECT_EQ(json, "a.bC[\"k_x\"].dE");

  std::vector<std::string> paths;
  ASSERT_TRUE(ParseFieldMask("a(bC,d(eF)),g", &paths));
  EXPECT_EQ(paths, (std::vector<std::string>{"a.b_c", "a.d.e_f", "g"}));
  paths.clear();
  ASSERT_TRUE(ParseFieldMask("m[\"a,b\"].xY", &paths));
  EXPECT_EQ(paths, (std::vector<std::string>{"m[\"a,b\"].x_y"}));
  for (const char* bad : {"a)", "a(", "m[k]", "m[\"k\"x"}) {
    paths.clear();
    EXPECT_FALSE(ParseFieldMask(bad, &paths)) << bad;
  }
}

TEST(NumericStringTest, ReadsLikeJsonUtil) {
  int64_t i;
  EXPECT_TRUE(ParseIntString("+12", -100, 100, &i));
  EXPECT_EQ(i, 12);
  EXPECT_TRUE(ParseIntString("-9223372036854775808", std::numeric_limits<int64_t>::min(),
                             std::numeric_limits<int64_t>::max(), &i));
  EXPECT_EQ(i, std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(ParseIntString("101", -100, 100, &i));
  EXPECT_FALSE(ParseIntString("+-1", -100, 100, &i));
  EXPECT_FALSE(ParseIntString("1.0", -100, 100, &i));
  uint64_t u;
  EXPECT_FALSE(ParseUintString("-0", 10, &u));
  EXPECT_FALSE(ParseUintString("++1", 10, &u));
  double d;
  EXPECT_TRUE(ParseDoubleString("0x10", &d));
  EXPECT_EQ(d, 16);
  EXPECT_FALSE(ParseDoubleString("inf", &d));
  EXPECT_FALSE(ParseDoubleString(" 1", &d));
  float f;
  EXPECT_FALSE(ParseFloatString("3.5e38", &f));
  bool b;
  EXPECT_TRUE(ParseBoolString("YeS", &b));
  EXPECT_TRUE(b);
  EXPECT_FALSE(ParseBoolString("on", &b));
}

}  // namespace
}  // namespace bridge::transcode
