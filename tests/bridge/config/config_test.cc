// Tests of bridge/config: parsing the text-format BridgeConfig, defaults, validation, host:port
// parsing and loading from files (written under TEST_TMPDIR).
#include "bridge/config/config.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/bridge/v1/config.pb.h"

namespace bridge::config {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// ---------------------------------------------------------------------------------------------
// ParseConfigText

TEST(ParseConfigTextTest, EveryField) {
  const absl::StatusOr<BridgeConfig> config = ParseConfigText(
      R"pb(
        # A comment.
        listen: "0.0.0.0:9000"
        path: "/bridge"
        io_threads: 4
        handshake_timeout_ms: 2000
        heartbeat_interval_ms: 15000
        heartbeat_timeout_ms: 45000
        max_frame_bytes: 65536
        shutdown_grace_ms: 100
        default_method: "demo.v1.Echo/Say"
      )pb",
      "test.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "0.0.0.0:9000");
  EXPECT_EQ(config->path(), "/bridge");
  EXPECT_EQ(config->io_threads(), 4u);
  EXPECT_EQ(config->handshake_timeout_ms(), 2000u);
  EXPECT_EQ(config->heartbeat_interval_ms(), 15000u);
  EXPECT_EQ(config->heartbeat_timeout_ms(), 45000u);
  EXPECT_EQ(config->max_frame_bytes(), 65536u);
  EXPECT_EQ(config->shutdown_grace_ms(), 100u);
  EXPECT_EQ(config->default_method(), "demo.v1.Echo/Say");
}

TEST(ParseConfigTextTest, EmptyTextIsAnEmptyConfig) {
  const absl::StatusOr<BridgeConfig> config = ParseConfigText("", "empty.conf");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*config, BridgeConfig()));
}

TEST(ParseConfigTextTest, UnknownFieldNamesTheFieldAndLine) {
  const absl::StatusOr<BridgeConfig> config =
      ParseConfigText("listen: \"127.0.0.1:0\"\nheartbeat_intervl_ms: 5\n", "bridge.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(config.status()), StartsWith("bridge.conf:2:"));
  EXPECT_THAT(Message(config.status()), HasSubstr("heartbeat_intervl_ms"));
}

TEST(ParseConfigTextTest, UnknownFieldOnALaterLine) {
  const absl::StatusOr<BridgeConfig> config =
      ParseConfigText("path: \"/ws\"\n\n# comment\n  bogus: true\n", "x.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), StartsWith("x.conf:4:"));
  EXPECT_THAT(Message(config.status()), HasSubstr("bogus"));
}

TEST(ParseConfigTextTest, BadValueTypeNamesTheFieldAndLine) {
  struct Case {
    std::string text;
    std::string line;
    std::string field;
  };
  for (const Case& c :
       {Case{"heartbeat_interval_ms: \"fast\"", "c.conf:1:", "heartbeat_interval_ms"},
        Case{"listen: 8080", "c.conf:1:", "listen"},
        Case{"path: \"/ws\"\nio_threads: -1", "c.conf:2:", "io_threads"},
        Case{"max_frame_bytes: 1.5", "c.conf:1:", "max_frame_bytes"},
        Case{"handshake_timeout_ms: 4294967296", "c.conf:1:", "handshake_timeout_ms"}}) {
    SCOPED_TRACE(c.text);
    const absl::StatusOr<BridgeConfig> config = ParseConfigText(c.text, "c.conf");
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(config.status()), StartsWith(c.line));
    EXPECT_THAT(Message(config.status()), HasSubstr(c.field));
  }
}

TEST(ParseConfigTextTest, SyntaxError) {
  const absl::StatusOr<BridgeConfig> config = ParseConfigText("listen \"0.0.0.0:1\"", "s.conf");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(Message(config.status()), StartsWith("s.conf:1:"));
}

// ---------------------------------------------------------------------------------------------
// ApplyDefaults

TEST(ApplyDefaultsTest, FillsEveryUnsetField) {
  BridgeConfig config;
  ApplyDefaults(&config);
  EXPECT_EQ(config.listen(), "127.0.0.1:8080");
  EXPECT_EQ(config.path(), "/ws");
  EXPECT_EQ(config.io_threads(), std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_GE(config.io_threads(), 1u);
  EXPECT_EQ(config.handshake_timeout_ms(), 10000u);
  EXPECT_EQ(config.heartbeat_interval_ms(), 30000u);
  EXPECT_EQ(config.heartbeat_timeout_ms(), 60000u);
  EXPECT_EQ(config.max_frame_bytes(), 1048576u);
  EXPECT_EQ(config.shutdown_grace_ms(), 5000u);
  EXPECT_EQ(config.default_method(), "");
  EXPECT_EQ(config.default_call_timeout_ms(), 30000u);
  EXPECT_EQ(config.max_call_timeout_ms(), 300000u);
  EXPECT_EQ(config.max_calls_per_session(), 100u);
  EXPECT_EQ(config.max_pending_writes_per_call(), 64u);
  EXPECT_EQ(config.max_outbound_buffer_bytes(), 1048576u);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(ValidateTest, CallSettingsAndRoutesNameTheirField) {
  BridgeConfig config;
  ApplyDefaults(&config);
  config.set_default_call_timeout_ms(400000);
  EXPECT_THAT(std::string(Validate(config).message()), HasSubstr("default_call_timeout_ms"));
  ApplyDefaults(&config);
  config.set_default_call_timeout_ms(1000);
  config.add_routes()->set_service("demo.v1.Echo");
  EXPECT_THAT(std::string(Validate(config).message()), HasSubstr("routes[0].target"));
  config.mutable_routes(0)->set_target("127.0.0.1:1");
  config.add_forward_request_headers("X-Upper");
  EXPECT_THAT(std::string(Validate(config).message()), HasSubstr("forward_request_headers"));
}

TEST(ApplyDefaultsTest, ConstantsMatchTheSchemaComments) {
  EXPECT_EQ(kDefaultListen, "127.0.0.1:8080");
  EXPECT_EQ(kDefaultPath, "/ws");
  EXPECT_EQ(kDefaultHandshakeTimeoutMs, 10000u);
  EXPECT_EQ(kDefaultHeartbeatIntervalMs, 30000u);
  EXPECT_EQ(kDefaultMaxFrameBytes, 1048576u);
  EXPECT_EQ(kDefaultShutdownGraceMs, 5000u);
}

TEST(ApplyDefaultsTest, SectionsThatSwitchAFeatureOnGetDefaultsOnlyWhenPresent) {
  BridgeConfig absent;
  ApplyDefaults(&absent);
  EXPECT_FALSE(absent.has_tls());
  EXPECT_FALSE(absent.auth().has_jwt());
  EXPECT_FALSE(absent.auth().has_service());

  BridgeConfig present;
  present.mutable_tls();
  present.mutable_auth()->mutable_jwt()->set_clock_skew_ms(5);
  present.mutable_auth()->mutable_service();
  present.add_routes()->mutable_tls();
  present.add_routes();  // plaintext: stays so
  present.add_retry_policies()->set_max_backoff_ms(700);
  present.mutable_channels()->add_namespaces()->set_presence(false);
  present.mutable_channels()->add_namespaces();
  ApplyDefaults(&present);
  EXPECT_EQ(present.tls().reload_check_ms(), kDefaultTlsReloadCheckMs);
  EXPECT_EQ(present.auth().jwt().clock_skew_ms(), 5u);
  EXPECT_EQ(present.auth().jwt().user_claim(), kDefaultJwtUserClaim);
  EXPECT_EQ(present.auth().service().timeout_ms(), kDefaultAuthServiceTimeoutMs);
  EXPECT_EQ(present.routes(0).tls().reload_interval_s(), kDefaultRouteTlsReloadIntervalS);
  EXPECT_FALSE(present.routes(1).has_tls());
  EXPECT_EQ(present.retry_policies(0).initial_backoff_ms(), kDefaultRetryInitialBackoffMs);
  EXPECT_EQ(present.retry_policies(0).max_backoff_ms(), 700u);
  EXPECT_THAT(present.retry_policies(0).retryable_status_codes(), ElementsAre("UNAVAILABLE"));
  EXPECT_EQ(present.retry_throttling().max_tokens(), kDefaultRetryMaxTokens);
  EXPECT_FALSE(present.channels().namespaces(0).presence());
  EXPECT_TRUE(present.channels().namespaces(1).presence());

  // An explicit 0 for reload_check_ms (look at every connection) is kept.
  BridgeConfig every;
  every.mutable_tls()->set_reload_check_ms(0);
  ApplyDefaults(&every);
  EXPECT_EQ(every.tls().reload_check_ms(), 0u);
}

TEST(ApplyDefaultsTest, HeartbeatTimeoutIsTwiceTheConfiguredInterval) {
  BridgeConfig config;
  config.set_heartbeat_interval_ms(15000);
  ApplyDefaults(&config);
  EXPECT_EQ(config.heartbeat_interval_ms(), 15000u);
  EXPECT_EQ(config.heartbeat_timeout_ms(), 30000u);
}

TEST(ApplyDefaultsTest, HeartbeatTimeoutSaturatesInsteadOfWrapping) {
  BridgeConfig config;
  config.set_heartbeat_interval_ms(3000000000u);
  ApplyDefaults(&config);
  EXPECT_EQ(config.heartbeat_timeout_ms(), 4294967295u);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(ApplyDefaultsTest, KeepsFieldsThatAreSet) {
  // Every singular number and string field set to a value of its own: none may change.
  BridgeConfig config;
  const auto* d = config.GetDescriptor();
  const auto* r = config.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated()) continue;
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        r->SetUInt32(&config, f, 100 + i);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        r->SetUInt64(&config, f, 100 + i);
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING:
        r->SetString(&config, f, absl::StrCat("/value-", i));
        break;
      default:
        break;
    }
  }
  BridgeConfig copy = config;
  ApplyDefaults(&copy);
  // Sections left unset (channels, broker, ...) get their defaults; every field set stays.
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    if (f->is_repeated() || f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    std::string before, after;
    google::protobuf::TextFormat::PrintFieldValueToString(config, f, -1, &before);
    google::protobuf::TextFormat::PrintFieldValueToString(copy, f, -1, &after);
    EXPECT_EQ(before, after) << f->name();
  }
}

// ---------------------------------------------------------------------------------------------
// Validate

BridgeConfig Defaults() {
  BridgeConfig config;
  ApplyDefaults(&config);
  return config;
}

void ExpectFieldError(const BridgeConfig& config, std::string_view field) {
  const absl::Status status = Validate(config);
  ASSERT_FALSE(status.ok()) << config.DebugString();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(status), StartsWith("config field " + std::string(field) + ": "));
}

TEST(ValidateTest, Listen) {
  for (const std::string bad : {"", "localhost", ":8080", "127.0.0.1:", "127.0.0.1:http",
                                "127.0.0.1:65536", "[::1]", "[::1:80", "127.0.0.1:-1"}) {
    SCOPED_TRACE(bad);
    BridgeConfig config = Defaults();
    config.set_listen(bad);
    ExpectFieldError(config, "listen");
  }
}

TEST(ValidateTest, Path) {
  for (const std::string bad : {"", "ws", "ws/", " /ws"}) {
    SCOPED_TRACE(bad);
    BridgeConfig config = Defaults();
    config.set_path(bad);
    ExpectFieldError(config, "path");
  }
  BridgeConfig config = Defaults();
  config.set_path("/");
  EXPECT_TRUE(Validate(config).ok());
}

TEST(ValidateTest, AdminListenAndLogs) {
  BridgeConfig config = Defaults();
  config.set_admin_listen("localhost");
  ExpectFieldError(config, "admin_listen");
  config = Defaults();
  config.set_log_level("verbose");
  ExpectFieldError(config, "log_level");
  config = Defaults();
  config.set_log_format("xml");
  ExpectFieldError(config, "log_format");
  config = Defaults();
  EXPECT_EQ(config.log_level(), "info");
  EXPECT_EQ(config.log_format(), "json");
}

TEST(ValidateTest, UpstreamTls) {
  BridgeConfig config = Defaults();
  v1::Route* r = config.add_routes();
  r->set_service("a.v1.A");
  r->set_target("a:443");
  r->mutable_tls()->set_cert_file("client.pem");
  ExpectFieldError(config, "routes[0].tls");  // a certificate without its key
  r->mutable_tls()->set_key_file("client.key");
  EXPECT_TRUE(Validate(config).ok());
  v1::Route* other = config.add_routes();
  other->set_service("b.v1.B");
  other->set_target("a:443");  // the same target, in plaintext
  ExpectFieldError(config, "routes[1].tls");
}

TEST(ValidateTest, AuthService) {
  BridgeConfig config = Defaults();
  config.mutable_auth()->mutable_service();
  ExpectFieldError(config, "auth.service.target");
  config.mutable_auth()->mutable_service()->set_target("auth:50051");
  config.mutable_auth()->mutable_service()->add_forward_headers("Cookie");
  ExpectFieldError(config, "auth.service.forward_headers");
  config.mutable_auth()->mutable_service()->set_forward_headers(0, "cookie");
  config.mutable_auth()->set_required(true);
  EXPECT_TRUE(Validate(config).ok());
  config.mutable_auth()->mutable_jwt()->set_hs256_secret("0123456789abcdef0123456789abcdef");
  ExpectFieldError(config, "auth");
}

TEST(ValidateTest, IoThreads) {
  BridgeConfig config = Defaults();
  config.set_io_threads(257);
  ExpectFieldError(config, "io_threads");
  config.set_io_threads(256);
  EXPECT_TRUE(Validate(config).ok());
}

TEST(ValidateTest, HeartbeatTimeoutBelowInterval) {
  BridgeConfig config = Defaults();
  config.set_heartbeat_interval_ms(10000);
  config.set_heartbeat_timeout_ms(9999);
  ExpectFieldError(config, "heartbeat_timeout_ms");
  EXPECT_THAT(Message(Validate(config)), HasSubstr("10000"));
  EXPECT_THAT(Message(Validate(config)), HasSubstr("9999"));
  config.set_heartbeat_timeout_ms(10000);
  EXPECT_TRUE(Validate(config).ok()) << Validate(config);
}

TEST(ValidateTest, MaxFrameBytes) {
  BridgeConfig config = Defaults();
  config.set_max_frame_bytes(255);
  ExpectFieldError(config, "max_frame_bytes");
  config.set_max_frame_bytes((uint64_t{1} << 30) + 1);
  ExpectFieldError(config, "max_frame_bytes");
  config.set_max_frame_bytes(256);
  EXPECT_TRUE(Validate(config).ok());
  config.set_max_frame_bytes(uint64_t{1} << 30);
  EXPECT_TRUE(Validate(config).ok());
}

TEST(ValidateTest, DefaultMethod) {
  BridgeConfig config = Defaults();
  config.set_default_method("Say");
  ExpectFieldError(config, "default_method");
  EXPECT_THAT(Message(Validate(config)), HasSubstr("\"Say\""));
  for (const std::string good : {"demo.v1.Echo/Say", "/demo.v1.Echo/Say", ""}) {
    config.set_default_method(good);
    EXPECT_TRUE(Validate(config).ok()) << good;
  }
}

// ---------------------------------------------------------------------------------------------
// ParseHostPort

TEST(ParseHostPortTest, Ipv4) {
  const absl::StatusOr<HostPort> hp = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 8080);
}

TEST(ParseHostPortTest, Ipv6InBrackets) {
  const absl::StatusOr<HostPort> hp = ParseHostPort("[::1]:0");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 0);
  const absl::StatusOr<HostPort> full = ParseHostPort("[fe80::1:2]:65535");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->host, "fe80::1:2");
  EXPECT_EQ(full->port, 65535);
}

TEST(ParseHostPortTest, HostName) {
  const absl::StatusOr<HostPort> hp = ParseHostPort("localhost:9000");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "localhost");
  EXPECT_EQ(hp->port, 9000);
}

TEST(ParseHostPortTest, MissingPort) {
  for (const std::string bad : {"127.0.0.1", "127.0.0.1:", "[::1]", "[::1]:", "localhost"}) {
    const absl::StatusOr<HostPort> hp = ParseHostPort(bad);
    EXPECT_FALSE(hp.ok()) << bad;
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseHostPortTest, PortOutOfRange) {
  for (const std::string bad :
       {"127.0.0.1:65536", "127.0.0.1:99999999999", "[::1]:70000", "127.0.0.1:-1"}) {
    const absl::StatusOr<HostPort> hp = ParseHostPort(bad);
    ASSERT_FALSE(hp.ok()) << bad;
    EXPECT_THAT(Message(hp.status()), HasSubstr("port")) << bad;
  }
}

TEST(ParseHostPortTest, Malformed) {
  for (const std::string bad : {"", ":80", "[::1:80", "[::1]80", "host:port"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// LoadConfigFile

std::string TempPath(std::string_view name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  EXPECT_NE(dir, nullptr) << "TEST_TMPDIR is set by bazel test";
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + std::string(name);
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

TEST(LoadConfigFileTest, ReadsAFile) {
  const std::string path = TempPath("good.conf");
  WriteFile(path, "listen: \"127.0.0.1:0\"\nheartbeat_interval_ms: 1000\n");
  const absl::StatusOr<BridgeConfig> config = LoadConfigFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "127.0.0.1:0");
  EXPECT_EQ(config->heartbeat_interval_ms(), 1000u);
}

TEST(LoadConfigFileTest, MissingFileIsNotFound) {
  const std::string path = TempPath("does-not-exist.conf");
  const absl::StatusOr<BridgeConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(config.status()), HasSubstr(path));
}

TEST(LoadConfigFileTest, ErrorsNameTheFile) {
  const std::string path = TempPath("bad.conf");
  WriteFile(path, "path: \"/ws\"\nlisten_address: \"x\"\n");
  const absl::StatusOr<BridgeConfig> config = LoadConfigFile(path);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(config.status()), StartsWith(path + ":2:"));
  EXPECT_THAT(Message(config.status()), HasSubstr("listen_address"));
}

}  // namespace
}  // namespace bridge::config

namespace bridge::config {
namespace {

TEST(ParseRoutesTest, ServicesAndTheDefault) {
  auto routes = ParseRoutes("demo.v1.Echo=127.0.0.1:50051, *=dns:///backend:50051");
  ASSERT_TRUE(routes.ok()) << routes.status();
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].service(), "demo.v1.Echo");
  EXPECT_EQ((*routes)[0].target(), "127.0.0.1:50051");
  EXPECT_EQ((*routes)[1].service(), "*");
  EXPECT_EQ((*routes)[1].target(), "dns:///backend:50051");
  EXPECT_FALSE(ParseRoutes("demo.v1.Echo").ok());
  EXPECT_FALSE(ParseRoutes("=x:1").ok());
  EXPECT_FALSE(ParseRoutes("a.B=").ok());
}

}  // namespace
}  // namespace bridge::config
