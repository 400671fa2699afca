// The HTTP JSON API's routes over a real registry (its proxies listen on port 0), without the
// HTTP transport: answers shaped like Toxiproxy's, and every bad request answered with its
// status and a message naming the field.
#include "harness/proxy/http_api.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "asio.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace harness::proxy {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class HttpApiTest : public ::testing::Test {
 protected:
  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& body = "") {
    return HandleApiRequest(registry_, HttpRequest{method, path, body});
  }

  void CreateBridgeProxy() {
    const HttpResponse created = Call(
        "POST", "/proxies", R"({"name":"bridge","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"})");
    ASSERT_EQ(created.status, 201) << created.body;
  }

  asio::io_context io_;
  ProxyRegistry registry_{io_, 1};
};

TEST_F(HttpApiTest, CreatesAProxyAndAnswersWithTheBoundAddress) {
  const HttpResponse created =
      Call("POST", "/proxies", R"({"name":"bridge","listen":"127.0.0.1:0","upstream":"h:80"})");
  EXPECT_EQ(created.status, 201);
  EXPECT_THAT(created.body, MatchesRegex(R"(\{"name":"bridge","listen":"127\.0\.0\.1:[1-9][0-9]*",)"
                                         R"("upstream":"h:80",.*\})"));
  EXPECT_THAT(created.body, HasSubstr(R"("enabled":true)"));
  EXPECT_THAT(created.body, HasSubstr(R"("toxics":[])"));
  const HttpResponse listed = Call("GET", "/proxies");
  EXPECT_EQ(listed.status, 200);
  EXPECT_THAT(listed.body, MatchesRegex(R"(\{"bridge":\{"name":"bridge",.*\}\})"));
  EXPECT_EQ(Call("GET", "/proxies/bridge").status, 200);
}

TEST_F(HttpApiTest, AddsListsAndRemovesAToxicShapedLikeToxiproxys) {
  CreateBridgeProxy();
  const HttpResponse added =
      Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","attributes":{"latency":100}})");
  EXPECT_EQ(added.status, 200);
  EXPECT_THAT(added.body,
              HasSubstr(R"({"name":"latency_downstream","type":"latency","stream":"downstream",)"));
  EXPECT_THAT(added.body, HasSubstr(R"("attributes":{"latency":100,"jitter":0})"));
  EXPECT_THAT(added.body, HasSubstr(R"("toxicity":1)"));
  EXPECT_EQ(Call("GET", "/proxies/bridge/toxics").body, "[" + added.body + "]");
  EXPECT_EQ(Call("GET", "/proxies/bridge/toxics/latency_downstream").body, added.body);
  EXPECT_EQ(Call("DELETE", "/proxies/bridge/toxics/latency_downstream").status, 204);
  EXPECT_EQ(Call("GET", "/proxies/bridge/toxics").body, "[]");
}

TEST_F(HttpApiTest, BadToxicsAre400WithTheFieldNamed) {
  CreateBridgeProxy();
  HttpResponse r = Call("POST", "/proxies/bridge/toxics", R"({"type":"lag"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"({"error":"field type: unknown toxic type \"lag\")"));
  EXPECT_THAT(r.body, HasSubstr(R"("status":400})"));

  r = Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","attributes":{"rate":1}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("field attributes.rate: not an attribute of latency"));

  r = Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","attributes":{"latncy":1}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid JSON body: (attributes) latncy: Cannot find field."));

  r = Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","toxicity":"most"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("(toxicity)"));

  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics", "").status, 400);
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics", "{").status, 400);
}

TEST_F(HttpApiTest, UnknownNamesAre404AndTakenNames409) {
  CreateBridgeProxy();
  HttpResponse r = Call("POST", "/proxies/nope/toxics", R"({"type":"latency"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr(R"(no proxy named \"nope\")"));
  EXPECT_EQ(Call("GET", "/proxies/nope").status, 404);
  EXPECT_EQ(Call("DELETE", "/proxies/bridge/toxics/nope").status, 404);
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics", R"({"type":"latency"})").status, 200);
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics", R"({"type":"latency"})").status, 409);
  EXPECT_EQ(Call("POST", "/proxies", R"({"name":"bridge","listen":"127.0.0.1:0","upstream":"h:1"})")
                .status,
            409);
}

TEST_F(HttpApiTest, BadProxiesAre400WithTheFieldNamed) {
  HttpResponse r = Call("POST", "/proxies", R"({"name":"p","listen":"127.0.0.1:0"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("field upstream: required"));
  r = Call("POST", "/proxies", R"({"name":"p","listen":"nowhere","upstream":"h:1"})");
  EXPECT_THAT(r.body, HasSubstr("field listen: expected HOST:PORT"));
  r = Call("POST", "/proxies", R"({"name":"p","listen":"127.0.0.1:0","upstream":"h:0"})");
  EXPECT_THAT(r.body, HasSubstr("field upstream: needs a port other than 0"));
  r = Call("POST", "/proxies", R"({"name":"","listen":"127.0.0.1:0","upstream":"h:1"})");
  EXPECT_THAT(r.body, HasSubstr("field name: required"));
  r = Call("POST", "/proxies",
           R"({"name":"p","listen":"127.0.0.1:0","upstream":"h:1","toxics":[{"type":"x"}]})");
  EXPECT_THAT(r.body, HasSubstr("field toxics[0].type: unknown toxic type"));
}

TEST_F(HttpApiTest, DisablingTakesTheProxyDownAndResetBringsItBack) {
  CreateBridgeProxy();
  ASSERT_EQ(Call("POST", "/proxies/bridge/toxics", R"({"type":"timeout"})").status, 200);
  HttpResponse r = Call("POST", "/proxies/bridge", R"({"enabled":false})");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("enabled":false)"));
  EXPECT_EQ(Call("POST", "/reset").status, 204);
  r = Call("GET", "/proxies/bridge");
  EXPECT_THAT(r.body, HasSubstr(R"("enabled":true)"));
  EXPECT_THAT(r.body, HasSubstr(R"("toxics":[])"));
  EXPECT_EQ(Call("DELETE", "/proxies/bridge").status, 204);
  EXPECT_EQ(Call("GET", "/proxies").body, "{}");
}

TEST_F(HttpApiTest, UnknownPathsAre404AndWrongMethods405) {
  EXPECT_EQ(Call("GET", "/").status, 404);
  EXPECT_EQ(Call("GET", "/toxics").status, 404);
  EXPECT_EQ(Call("GET", "/proxies/a/b").status, 404);
  EXPECT_EQ(Call("PUT", "/proxies").status, 405);
  EXPECT_EQ(Call("GET", "/reset").status, 405);
}

TEST_F(HttpApiTest, VersionAnswersAsToxiproxyDoes) {
  const HttpResponse version = Call("GET", "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(version.body, absl::StrCat(R"({"version":")", kToxiproxyApiVersion, R"("})"));
  EXPECT_EQ(Call("POST", "/version").status, 405);
}

TEST_F(HttpApiTest, PopulateCreatesOrUpdatesAListAndAnswersIt) {
  CreateBridgeProxy();
  ASSERT_EQ(
      Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","attributes":{"latency":5}})")
          .status,
      200);
  const HttpResponse populated =
      Call("POST", "/populate",
           R"([{"name":"bridge","listen":"127.0.0.1:0","upstream":"127.0.0.1:10"},)"
           R"({"name":"redis","listen":"127.0.0.1:0","upstream":"127.0.0.1:6379"}])");
  EXPECT_EQ(populated.status, 201) << populated.body;
  EXPECT_THAT(populated.body, MatchesRegex(R"(\{"proxies":\[\{"name":"bridge",.*"upstream":)"
                                           R"("127\.0\.0\.1:10".*\{"name":"redis",.*\]\})"));
  // The existing proxy kept its toxic.
  EXPECT_THAT(Call("GET", "/proxies/bridge").body, HasSubstr(R"("latency":5)"));
  EXPECT_EQ(Call("GET", "/proxies/redis").status, 200);

  // Checked before anything is touched: a bad entry creates none of them.
  EXPECT_EQ(
      Call("POST", "/populate",
           R"([{"name":"fresh","listen":"127.0.0.1:0","upstream":"h:1"},{"name":"bad name!"}])")
          .status,
      400);
  EXPECT_EQ(Call("GET", "/proxies/fresh").status, 404);
  EXPECT_EQ(Call("POST", "/populate", R"({"name":"x"})").status, 400);
  EXPECT_EQ(Call("POST", "/populate", "[{").status, 400);
  EXPECT_EQ(Call("GET", "/populate").status, 405);
}

TEST_F(HttpApiTest, AToxicIsUpdatedInPlace) {
  CreateBridgeProxy();
  ASSERT_EQ(Call("POST", "/proxies/bridge/toxics",
                 R"({"name":"slow","type":"latency","attributes":{"latency":100,"jitter":3}})")
                .status,
            200);
  const HttpResponse updated = Call("POST", "/proxies/bridge/toxics/slow",
                                    R"({"attributes":{"latency":250},"toxicity":0.5})");
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_THAT(updated.body, HasSubstr(R"("attributes":{"latency":250,"jitter":3})"));
  EXPECT_THAT(updated.body, HasSubstr(R"("toxicity":0.5)"));
  EXPECT_EQ(Call("GET", "/proxies/bridge/toxics/slow").body, updated.body);
  // An attribute of another type is refused, and the toxic stays as it was.
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics/slow", R"({"attributes":{"rate":1}})").status,
            400);
  EXPECT_EQ(Call("GET", "/proxies/bridge/toxics/slow").body, updated.body);
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics/none", R"({"toxicity":1})").status, 404);
  EXPECT_EQ(Call("POST", "/proxies/bridge/toxics/slow", "{nope").status, 400);
}

TEST_F(HttpApiTest, DisablingWithTheUnchangedListenAddressKeepsTheAddressAndTheToxics) {
  CreateBridgeProxy();
  ASSERT_EQ(
      Call("POST", "/proxies/bridge/toxics", R"({"type":"latency","attributes":{"latency":7}})")
          .status,
      200);
  const std::string listen = *registry_.Get("bridge").value().mutable_listen();
  // As Toxiproxy's clients send it: the whole proxy back, with enabled false.
  const HttpResponse disabled =
      Call("POST", "/proxies/bridge",
           absl::StrCat(R"({"name":"bridge","listen":")", listen,
                        R"(","upstream":"127.0.0.1:9","enabled":false})"));
  EXPECT_EQ(disabled.status, 200) << disabled.body;
  EXPECT_THAT(disabled.body, HasSubstr(R"("enabled":false)"));
  const HttpResponse enabled = Call("POST", "/proxies/bridge",
                                    absl::StrCat(R"({"name":"bridge","listen":")", listen,
                                                 R"(","upstream":"127.0.0.1:9","enabled":true})"));
  EXPECT_EQ(enabled.status, 200) << enabled.body;
  EXPECT_THAT(enabled.body, HasSubstr(absl::StrCat(R"("listen":")", listen, R"(")")));
  EXPECT_THAT(enabled.body, HasSubstr(R"("latency":7)"));
}

}  // namespace
}  // namespace harness::proxy