// TLS from the bridge to an upstream (routes.tls): a demo backend that requires mutual TLS, a
// CA and certificates made for the test with the openssl command, calls through the real bridge
// from a real WebSocket client; a certificate from another CA is refused (service_unavailable);
// a CA file replaced while the bridge runs is picked up without a restart.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "harness/backend/demo_bridge.h"
#include "tests/support/ws_test_client.h"

namespace bridge {
namespace {

using ::bridge::testing::WsTestClient;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A CA, and certificates it signs, in `dir`.
class Pki {
 public:
  explicit Pki(std::string dir) : dir_(std::move(dir)) {}
  void MakeCa(const std::string& name) {
    Run(
        absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                     "-days 36500 -subj /CN=",
                     name, " -keyout ", Path(name + ".key"), " -out ", Path(name + ".pem")));
  }
  // A certificate for `name`, signed by `ca`, valid for localhost and 127.0.0.1.
  void MakeCert(const std::string& name, const std::string& ca) {
    const std::string ext = Path(name + ".ext");
    std::ofstream(ext) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    Run(absl::StrCat(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=", name,
        " -keyout ", Path(name + ".key"), " -out ", Path(name + ".csr")));
    Run(absl::StrCat("openssl x509 -req -days 36500 -in ", Path(name + ".csr"), " -CA ",
                     Path(ca + ".pem"), " -CAkey ", Path(ca + ".key"), " -CAcreateserial -extfile ",
                     ext, " -out ", Path(name + ".pem")));
  }
  std::string Path(const std::string& file) const { return absl::StrCat(dir_, "/", file); }

 private:
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system(absl::StrCat(command, " >/dev/null 2>&1").c_str()), 0) << command;
  }
  std::string dir_;
};

class UpstreamTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.MakeCa("ca");
    pki_.MakeCa("other-ca");
    pki_.MakeCert("server", "ca");
    pki_.MakeCert("client", "ca");
    pki_.MakeCert("stranger", "other-ca");
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.pem_root_certs = Read(pki_.Path("ca.pem"));
    tls.pem_key_cert_pairs.push_back(
        {Read(pki_.Path("server.key")), Read(pki_.Path("server.pem"))});
    auto backend = harness::backend::StartBackend("127.0.0.1:0", grpc::SslServerCredentials(tls));
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = *std::move(backend);
  }
  void TearDown() override {
    ws_.reset();  // gone before the drain waits for it
    if (bridge_ != nullptr) {
      bridge_->Shutdown();
      bridge_->Wait();
    }
    bridge_.reset();
    backend_.server->Shutdown();
  }

  void StartBridge(const std::string& ca, const std::string& cert, bool wait_for_ready = false) {
    auto config = harness::backend::DemoBridgeConfig(backend_.target(), "");
    ASSERT_TRUE(config.ok()) << config.status();
    v1::RouteTls* tls = config->mutable_routes(0)->mutable_tls();
    tls->set_ca_file(ca_file_ = pki_.Path("bridge-ca.pem"));
    std::ofstream(ca_file_) << Read(pki_.Path(ca + ".pem"));
    tls->set_cert_file(pki_.Path(cert + ".pem"));
    tls->set_key_file(pki_.Path(cert + ".key"));
    tls->set_server_name("localhost");
    tls->set_reload_interval_s(1);
    config->mutable_routes(0)->set_wait_for_ready(wait_for_ready);
    auto bridge = harness::backend::StartDemoBridge(*config);
    ASSERT_TRUE(bridge.ok()) << bridge.status();
    bridge_ = *std::move(bridge);
    auto ws = WsTestClient::Connect(bridge_->server().port());
    ASSERT_TRUE(ws.ok()) << ws.status();
    ws_ = *std::move(ws);
    ASSERT_TRUE(ws_->SendText(R"({"type":"connect","clientId":"c"})").ok());
    ASSERT_THAT(ws_->ReceiveText().value_or(""), HasSubstr("connect_confirm"));
  }

  // One Say through the bridge: the frame it answered with.
  std::string Say(int timeout_ms = 2000) {
    const std::string id = std::to_string(++calls_);
    EXPECT_TRUE(ws_->SendText(absl::StrCat(R"({"type":"message","messageId":")", id,
                                           R"(","method":"demo.v1.Echo/Say","timeoutMs":)",
                                           timeout_ms, R"(,"payload":{"text":"over tls"}})"))
                    .ok());
    return ws_->ReceiveText(absl::Milliseconds(timeout_ms) + absl::Seconds(5)).value_or("");
  }

  Pki pki_{::testing::TempDir()};
  harness::backend::RunningBackend backend_;
  std::unique_ptr<app::BridgeApp> bridge_;
  std::unique_ptr<WsTestClient> ws_;
  std::string ca_file_;
  int calls_ = 0;
};

TEST_F(UpstreamTlsTest, CallsGoOverMutualTls) {
  StartBridge("ca", "client");
  const std::string reply = Say();
  EXPECT_THAT(reply, HasSubstr(R"("type":"response")"));
  EXPECT_THAT(reply, HasSubstr("over tls"));
}

TEST_F(UpstreamTlsTest, AClientCertificateOfAnotherCaIsRefused) {
  StartBridge("ca", "stranger");
  EXPECT_THAT(Say(), HasSubstr(R"("category":"service_unavailable")"));
}

TEST_F(UpstreamTlsTest, AReplacedCaFileIsPickedUpWithoutARestart) {
  // The bridge starts trusting the wrong CA: the server's certificate does not verify.
  StartBridge("other-ca", "client", /*wait_for_ready=*/true);
  EXPECT_THAT(Say(/*timeout_ms=*/500), HasSubstr(R"("category":"timeout")"));
  std::ofstream(ca_file_, std::ios::trunc) << Read(pki_.Path("ca.pem"));
  // The file is checked every second and the channel reconnects with backoff; with
  // wait_for_ready the next call waits for that, up to its deadline.
  const std::string reply = Say(/*timeout_ms=*/30000);
  EXPECT_THAT(reply, HasSubstr(R"("type":"response")"));
}

}  // namespace
}  // namespace bridge
