// The --config file: text-format mistakes with line, column and field; values checked by
// ProxyRegistry::Load with the field's full path.
#include "harness/proxy/fault_config.h"

#include <string>

#include "asio.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "harness/proxy/proxy_registry.h"

namespace harness::proxy {
namespace {

using ::testing::HasSubstr;

TEST(FaultConfigTest, LoadsProxiesWithTheirToxics) {
  absl::StatusOr<v1::FaultConfig> config = ParseFaultConfig(R"(
    proxies {
      name: "bridge" listen: "127.0.0.1:0" upstream: "127.0.0.1:8080"
      toxics { type: "latency" attributes { latency: 100 jitter: 10 } }
      toxics { type: "ws_close" stream: "upstream" toxicity: 0.5 attributes { code: 1012 } }
    }
    proxies { name: "backend" listen: "127.0.0.1:0" upstream: "127.0.0.1:50051" enabled: false }
  )",
                                                            "faults.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  asio::io_context io;
  ProxyRegistry registry(io, 1);
  ASSERT_TRUE(registry.Load(*config).ok());
  const std::vector<v1::Proxy> proxies = registry.List();
  ASSERT_EQ(proxies.size(), 2u);
  EXPECT_EQ(proxies[0].name(), "backend");
  EXPECT_FALSE(proxies[0].enabled());
  EXPECT_EQ(proxies[1].toxics_size(), 2);
  EXPECT_EQ(proxies[1].toxics(1).name(), "ws_close_upstream");
  EXPECT_EQ(proxies[1].toxics(1).toxicity(), 0.5);
}

TEST(FaultConfigTest, SyntaxErrorsNameTheFileLineColumnAndField) {
  absl::StatusOr<v1::FaultConfig> config =
      ParseFaultConfig("proxies {\n  name: \"a\"\n  lisen: \"x\"\n}\n", "faults.textproto");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("faults.textproto:3:"));
  EXPECT_THAT(config.status().message(), HasSubstr("no field named \"lisen\""));
}

TEST(FaultConfigTest, BadValuesNameTheFieldsPath) {
  absl::StatusOr<v1::FaultConfig> config = ParseFaultConfig(R"(
    proxies { name: "a" listen: "127.0.0.1:0" upstream: "h:1" }
    proxies {
      name: "b" listen: "127.0.0.1:0" upstream: "h:1"
      toxics { type: "latency" }
      toxics { type: "bandwidth" }
    }
  )",
                                                            "faults.textproto");
  ASSERT_TRUE(config.ok());
  asio::io_context io;
  ProxyRegistry registry(io, 1);
  const absl::Status status = registry.Load(*config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("field proxies[1].toxics[1].attributes.rate:"));
  EXPECT_TRUE(registry.List().empty());  // nothing is created from a config that fails
}

TEST(FaultConfigTest, DuplicateNamesAreRefused) {
  absl::StatusOr<v1::FaultConfig> config = ParseFaultConfig(R"(
    proxies { name: "a" listen: "127.0.0.1:0" upstream: "h:1" }
    proxies { name: "a" listen: "127.0.0.1:0" upstream: "h:1" }
  )",
                                                            "f");
  ASSERT_TRUE(config.ok());
  asio::io_context io;
  ProxyRegistry registry(io, 1);
  EXPECT_THAT(registry.Load(*config).message(), HasSubstr("field proxies[1].name:"));
}

TEST(FaultConfigTest, AMissingFileIsNamed) {
  EXPECT_THAT(LoadFaultConfigFile("/nonexistent/faults.textproto").status().message(),
              HasSubstr("/nonexistent/faults.textproto"));
}

}  // namespace
}  // namespace harness::proxy
