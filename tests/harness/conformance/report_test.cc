// The report writers: what the server sent is escaped in HTML, JSON stays valid whatever the
// bytes, counts and every case appear, and the console table shows why a case did not pass.
#include "harness/conformance/report.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace harness::conformance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Report SampleReport() {
  Report report;
  report.url = "ws://127.0.0.1:1/ws?a=1&b=<2>";
  report.demo_service = "demo.v1.Echo";
  report.started = absl::FromUnixMillis(1795341600123);  // 2026-11-22T10:00:00.123Z
  report.duration = absl::Milliseconds(1500);
  report.results = {
      {"1.1", "handshake", "connect is confirmed", "connect_confirm", Outcome::kPass, "ok",
       absl::Milliseconds(2)},
      {"4.7", "bad input", "invalid UTF-8", "close 1007", Outcome::kNonStrict,
       "close 1007 \"Invalid UTF8 encoding\"", absl::Milliseconds(1)},
      {"5.1", "error mapping", "unary <call>", "response", Outcome::kFail,
       "answered <script>alert('x')</script> & \"quoted\" \xc3\x28 bytes", absl::Milliseconds(3)},
      {"5.2", "error mapping", "code 14", "error", Outcome::kSkipped, "the server has no demo",
       absl::ZeroDuration()},
  };
  return report;
}

TEST(ReportTest, HtmlEscapesWhatTheServerSent) {
  const std::string html = ToHtml(SampleReport());
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, HasSubstr("answered &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
                              "&quot;quoted&quot; \\xc3( bytes"));
  EXPECT_THAT(html, HasSubstr("unary &lt;call&gt;"));
  EXPECT_THAT(html, HasSubstr("ws://127.0.0.1:1/ws?a=1&amp;b=&lt;2&gt;"));
}

TEST(ReportTest, HtmlHasTheSummaryTimestampAndAColoredRowPerCase) {
  const std::string html = ToHtml(SampleReport());
  EXPECT_THAT(html, HasSubstr("1 Pass</span>"));
  EXPECT_THAT(html, HasSubstr("1 Non-strict</span>"));
  EXPECT_THAT(html, HasSubstr("1 Fail</span>"));
  EXPECT_THAT(html, HasSubstr("1 Skipped</span> of 4 cases"));
  EXPECT_THAT(html, HasSubstr(R"(<p class="verdict fail">1 case failed; 1 non-strict</p>)"));
  EXPECT_THAT(html, HasSubstr("2026-11-22T10:00:00.123Z"));
  EXPECT_THAT(html, HasSubstr("took 1500 ms"));
  EXPECT_THAT(html, HasSubstr(R"(<tr class="pass" id="case-1.1">)"));
  EXPECT_THAT(html, HasSubstr(R"(<tr class="non_strict" id="case-4.7">)"));
  EXPECT_THAT(html, HasSubstr(R"(<tr class="fail" id="case-5.1">)"));
  EXPECT_THAT(html, HasSubstr(R"(<tr class="skipped" id="case-5.2">)"));
  // Self-contained: no scripts, no external resources.
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
}

TEST(ReportTest, JsonIsValidAndCarriesEveryCase) {
  const std::string json = ToJson(SampleReport());
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_STREQ(doc["url"].GetString(), "ws://127.0.0.1:1/ws?a=1&b=<2>");
  EXPECT_STREQ(doc["started"].GetString(), "2026-11-22T10:00:00.123Z");
  EXPECT_EQ(doc["durationMs"].GetInt(), 1500);
  EXPECT_EQ(doc["summary"]["pass"].GetInt(), 1);
  EXPECT_EQ(doc["summary"]["nonStrict"].GetInt(), 1);
  EXPECT_EQ(doc["summary"]["fail"].GetInt(), 1);
  EXPECT_EQ(doc["summary"]["skipped"].GetInt(), 1);
  EXPECT_EQ(doc["summary"]["total"].GetInt(), 4);
  ASSERT_EQ(doc["cases"].Size(), 4u);
  EXPECT_STREQ(doc["cases"][1]["outcome"].GetString(), "non_strict");
  EXPECT_STREQ(doc["cases"][2]["id"].GetString(), "5.1");
  EXPECT_STREQ(doc["cases"][2]["outcome"].GetString(), "fail");
  // Bytes that are not valid UTF-8 are shown escaped, so the document stays valid.
  EXPECT_THAT(std::string(doc["cases"][2]["observed"].GetString()), HasSubstr("\\xc3( bytes"));
}

TEST(ReportTest, TheTableShowsWhyACaseDidNotPass) {
  const std::string table = FormatTable(SampleReport());
  EXPECT_THAT(table, HasSubstr("1.1    Pass"));
  EXPECT_THAT(table, HasSubstr("5.1    Fail"));
  EXPECT_THAT(table, HasSubstr("observed: answered <script>"));
  EXPECT_THAT(table, HasSubstr("expected: close 1007"));
  EXPECT_THAT(table, Not(HasSubstr("observed: ok")));  // passing cases stay one line
  EXPECT_THAT(table, HasSubstr("4 cases: 1 pass, 1 non-strict, 1 fail, 1 skipped"));
}

TEST(ReportTest, WritesBothFiles) {
  const std::string dir = ::testing::TempDir() + "/report-test";
  ASSERT_TRUE(WriteReports(SampleReport(), dir).ok());
  EXPECT_FALSE(WriteReports(SampleReport(), "/proc/no-such-dir/x").ok());
}

}  // namespace
}  // namespace harness::conformance
