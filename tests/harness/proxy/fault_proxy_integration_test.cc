// Each fault of the fault proxy, seen by a real client: the real bridge and demo backend
// in-process on port 0, the fault proxy in front of the bridge (in-process, port 0), and an
// independent RFC 6455 client. Toxics are added to live connections through the registry,
// the HTTP JSON API and gRPC FaultControl; every wait has a deadline, and timing assertions
// are lower bounds only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bridge/app/bridge_app.h"
#include "bridge/config/config.h"
#include "bridge/protocol/error_table.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "harness/backend/backend_server.h"
#include "harness/proxy/fault_proxy_server.h"
#include "proto/demo/v1/echo.grpc.pb.h"
#include "proto/harness/v1/fault.grpc.pb.h"
#include "tests/support/ws_test_client.h"

namespace harness::proxy {
namespace {

using ::bridge::testing::kTestTimeout;
using ::bridge::testing::WsTestClient;
using ::testing::HasSubstr;

constexpr char kConnect[] = R"({"type":"connect","clientId":"c-1","version":"1"})";
constexpr char kPing[] = R"({"type":"ping"})";
// Long enough for a frame that was going to arrive to arrive: what it would answer was
// written before the frame the test waits for, in the same ordered stream.
constexpr absl::Duration kQuiet = absl::Milliseconds(300);

std::string Say(const std::string& id, const std::string& text = "hi") {
  return absl::StrCat(R"({"type":"message","messageId":")", id,
                      R"(","method":"demo.v1.Echo/Say","payload":{"text":")", text, R"("}})");
}

// A blocking TCP connection to 127.0.0.1, for what the WebSocket client cannot do: count raw
// bytes, speak plain HTTP.
class RawConnection {
 public:
  static std::unique_ptr<RawConnection> Open(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<RawConnection>(new RawConnection(fd));
  }
  ~RawConnection() { ::close(fd_); }

  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }

  // Everything until the peer closes; nullopt if it has not closed by the deadline.
  std::optional<std::string> ReadUntilClosed(absl::Duration timeout = kTestTimeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string data;
    while (true) {
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return data;
      data.append(buffer, static_cast<size_t>(n));
    }
  }

 private:
  explicit RawConnection(int fd) : fd_(fd) {}
  int fd_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
};

HttpAnswer Http(uint16_t port, const std::string& method, const std::string& path,
                const std::string& body = "") {
  std::unique_ptr<RawConnection> connection = RawConnection::Open(port);
  if (connection == nullptr) return {};
  connection->Send(absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                                "Content-Length: ", body.size(), "\r\n\r\n", body));
  const std::string response = connection->ReadUntilClosed().value_or("");
  HttpAnswer answer;
  (void)absl::SimpleAtoi(response.substr(9, 3), &answer.status);
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end != std::string::npos) answer.body = response.substr(head_end + 4);
  return answer;
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = harness::backend::StartBackend("127.0.0.1:0");
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::make_unique<harness::backend::RunningBackend>(*std::move(backend));
    auto config = bridge::config::ParseConfigText(
        absl::StrCat("listen: \"127.0.0.1:0\" routes { service: \"demo.v1.Echo\" "
                     "target: \"",
                     backend_->target(), "\" }"),
        "test");
    ASSERT_TRUE(config.ok()) << config.status();
    bridge::config::ApplyDefaults(&*config);
    ASSERT_TRUE(bridge::config::Validate(*config).ok());
    auto registry = std::make_unique<bridge::transcode::DescriptorRegistry>();
    ASSERT_TRUE(registry->AddGeneratedFile(demo::v1::SayRequest::descriptor()->file()).ok());
    auto next_id = std::make_shared<std::atomic<int>>(0);
    bridge::server::ServerOptions options;
    options.new_conversation_id = [next_id] { return absl::StrCat("s-", ++*next_id); };
    auto app = bridge::app::BridgeApp::Create(*config, std::move(registry), options);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    ASSERT_TRUE(app_->Start().ok());
  }

  // Starts the fault proxy with a proxy "bridge" in front of the bridge, plus `extra` text
  // inside that proxy's message (toxics present from the start).
  void StartProxy(const std::string& extra = "") {
    v1::FaultConfig config;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        absl::StrCat("proxies { name: \"bridge\" listen: \"127.0.0.1:0\" upstream: \"127.0.0.1:",
                     app_->server().port(), "\" ", extra, " }"),
        &config));
    FaultProxyOptions options;
    options.seed = 1;
    options.api_listen = "127.0.0.1:0";
    options.grpc_listen = "127.0.0.1:0";
    auto server = FaultProxyServer::Start(config, options);
    ASSERT_TRUE(server.ok()) << server.status();
    proxy_ = *std::move(server);
  }

  void TearDown() override {
    proxy_.reset();
    if (app_ != nullptr) {
      app_->Shutdown();
      app_->Wait();
    }
    if (backend_ != nullptr) backend_->server->Shutdown();
  }

  ProxyRegistry& registry() { return proxy_->registry(); }

  uint16_t ProxyPort(const std::string& name = "bridge") {
    absl::StatusOr<v1::Proxy> proxy = registry().Get(name);
    EXPECT_TRUE(proxy.ok()) << proxy.status();
    if (!proxy.ok()) return 0;
    return bridge::config::ParseHostPort(proxy->listen())->port;
  }

  void AddToxic(const std::string& text, const std::string& proxy = "bridge") {
    v1::Toxic toxic;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &toxic)) << text;
    absl::StatusOr<v1::Toxic> added = registry().AddToxic(proxy, toxic);
    ASSERT_TRUE(added.ok()) << added.status();
  }

  void RemoveToxic(const std::string& name) {
    ASSERT_TRUE(registry().RemoveToxic("bridge", name).ok());
  }

  // A client through the proxy, its session confirmed.
  std::unique_ptr<WsTestClient> OpenConfirmed() {
    auto client = WsTestClient::Connect(ProxyPort());
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    EXPECT_TRUE((*client)->SendText(kConnect).ok());
    absl::StatusOr<std::string> confirm = (*client)->ReceiveText();
    EXPECT_TRUE(confirm.ok()) << confirm.status();
    if (confirm.ok()) {
      EXPECT_THAT(*confirm, HasSubstr(R"("type":"connect_confirm")"));
    }
    return std::move(*client);
  }

  // Sends a JSON ping; true when its pong arrives within `timeout`.
  static bool PingPongs(WsTestClient& client, absl::Duration timeout = kTestTimeout) {
    if (!client.SendText(kPing).ok()) return false;
    absl::StatusOr<std::string> pong = client.ReceiveText(timeout);
    return pong.ok() && pong->find(R"("type":"pong")") != std::string::npos;
  }

  // The close code a client sees: the server's close frame, or 1006 when the connection ended
  // without one.
  static int CloseCode(WsTestClient& client) {
    absl::StatusOr<int> code = client.WaitForClose();
    if (code.ok()) return *code;
    EXPECT_THAT(code.status().message(), ::testing::AnyOf(HasSubstr("closed"), HasSubstr("recv")))
        << "the connection did not end: " << code.status();
    return bridge::protocol::close_code::kAbnormal;
  }

  std::unique_ptr<harness::backend::RunningBackend> backend_;
  std::unique_ptr<bridge::app::BridgeApp> app_;
  std::unique_ptr<FaultProxyServer> proxy_;
};

TEST_F(FaultProxyTest, WithoutToxicsCallsPassUnchanged) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(Say("1", "through the proxy")).ok());
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(R"("type":"response")"));
  EXPECT_THAT(*reply, HasSubstr("through the proxy"));
}

TEST_F(FaultProxyTest, ResetPeerDropsTheConnectionWithoutACloseFrame) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  AddToxic(R"(type: "reset_peer")");
  absl::StatusOr<std::string> next = client->ReceiveText();
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(next.status().message(), HasSubstr("reset by peer"));  // a TCP RST, not a FIN
  EXPECT_FALSE(client->close_code().has_value());
  const auto disposition = bridge::protocol::ClassifyClose(bridge::protocol::close_code::kAbnormal);
  EXPECT_EQ(disposition.category, bridge::v1::ERROR_CATEGORY_NETWORK_ERROR);
  EXPECT_TRUE(disposition.reconnect);
  // The bridge lost its side too.
  EXPECT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
}

TEST_F(FaultProxyTest, ResetPeerWaitsItsTimeout) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const absl::Time added = absl::Now();
  AddToxic(R"(type: "reset_peer" attributes { timeout: 200 })");
  EXPECT_TRUE(PingPongs(*client));  // still forwarding meanwhile
  EXPECT_EQ(CloseCode(*client), 1006);
  EXPECT_GE(absl::Now() - added, absl::Milliseconds(200));
}

TEST_F(FaultProxyTest, WsCloseSends1011WhichMeansServiceUnavailableAndReconnect) {
  StartProxy(R"(toxics { type: "ws_close" attributes { code: 1011 reason: "injected" )"
             R"(after_frames: 1 } })");
  auto client = WsTestClient::Connect(ProxyPort());
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->SendText(kConnect).ok());
  absl::StatusOr<std::string> confirm = (*client)->ReceiveText();  // the one frame let through
  ASSERT_TRUE(confirm.ok()) << confirm.status();
  EXPECT_THAT(*confirm, HasSubstr("connect_confirm"));
  EXPECT_EQ(CloseCode(**client), 1011);
  EXPECT_EQ((*client)->close_reason(), "injected");
  const auto disposition = bridge::protocol::ClassifyClose(1011);
  EXPECT_EQ(disposition.category, bridge::v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE);
  EXPECT_TRUE(disposition.reconnect);
  EXPECT_EQ(disposition.min_delay_ms, 1000);
  // The proxy closed the bridge's side: its session waits for a resume.
  EXPECT_TRUE(app_->server().AwaitOpenConnections(0, kTestTimeout));
}

TEST_F(FaultProxyTest, WsCloseUpstreamCountsClientFramesAndCarriesAnApplicationCode) {
  StartProxy(R"(toxics { type: "ws_close" stream: "upstream" attributes { code: 4029 } })");
  auto client = WsTestClient::Connect(ProxyPort());
  ASSERT_TRUE(client.ok()) << client.status();
  // after_frames 0, after_ms 0: the close goes out as the WebSocket opens.
  EXPECT_EQ(CloseCode(**client), 4029);
  EXPECT_EQ(bridge::protocol::ClassifyClose(4029).category,
            bridge::v1::ERROR_CATEGORY_RATE_LIMITED);
}

TEST_F(FaultProxyTest, WsCloseAfterMsClosesThatLongAfterTheUpgrade) {
  StartProxy(R"(toxics { type: "ws_close" attributes { code: 1012 after_ms: 250 } })");
  const absl::Time start = absl::Now();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(CloseCode(*client), 1012);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(250));
}

TEST_F(FaultProxyTest, DroppedPongsNeverReachTheClientWhileCallsStillDo) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  AddToxic(R"(type: "ws_drop_heartbeat")");
  ASSERT_TRUE(client->SendText(kPing).ok());
  ASSERT_TRUE(client->SendPing("control").ok());
  ASSERT_TRUE(client->SendText(Say("after-pings")).ok());
  // The bridge answers in order, so both pongs would have come before this reply.
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(R"("type":"response")"));
  EXPECT_FALSE(client->NextPong(kQuiet).ok());
  RemoveToxic("ws_drop_heartbeat_downstream");
  EXPECT_TRUE(PingPongs(*client));
  ASSERT_TRUE(client->SendPing("again").ok());
  EXPECT_EQ(client->NextPong().value_or(""), "again");
}

TEST_F(FaultProxyTest, DroppedPingsUpstreamNeverReachTheBridge) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  AddToxic(R"(type: "ws_drop_heartbeat" stream: "upstream")");
  ASSERT_TRUE(client->SendText(kPing).ok());
  ASSERT_TRUE(client->SendText(Say("1")).ok());
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(R"("type":"response")"));
}

TEST_F(FaultProxyTest, BlackHoleLetsNoDataThroughUntilRemoved) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  AddToxic(R"(type: "timeout")");
  ASSERT_TRUE(client->SendText(Say("swallowed")).ok());
  absl::StatusOr<std::string> nothing = client->ReceiveText(kQuiet);
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kDeadlineExceeded) << nothing.status();
  RemoveToxic("timeout_downstream");
  EXPECT_TRUE(PingPongs(*client));
}

TEST_F(FaultProxyTest, BlackHoleWithATimeoutClosesTheConnectionAfterIt) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const absl::Time added = absl::Now();
  AddToxic(R"(type: "timeout" stream: "upstream" attributes { timeout: 200 })");
  EXPECT_EQ(CloseCode(*client), 1006);
  EXPECT_GE(absl::Now() - added, absl::Milliseconds(200));
}

TEST_F(FaultProxyTest, LatencyDelaysEachDirection) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  AddToxic(R"(type: "latency" attributes { latency: 150 })");
  AddToxic(R"(type: "latency" stream: "upstream" attributes { latency: 100 jitter: 20 })");
  for (int i = 0; i < 2; ++i) {
    const absl::Time sent = absl::Now();
    ASSERT_TRUE(PingPongs(*client));
    EXPECT_GE(absl::Now() - sent, absl::Milliseconds(150 + 100 - 20));
  }
}

TEST_F(FaultProxyTest, BandwidthLimitsHowFastAReplyArrives) {
  StartProxy(R"(toxics { type: "bandwidth" attributes { rate: 10 } })");
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const absl::Time sent = absl::Now();
  ASSERT_TRUE(client->SendText(Say("1", std::string(3000, 'b'))).ok());
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(std::string(3000, 'b')));
  EXPECT_GE(absl::Now() - sent, absl::Milliseconds(300));  // 3000 bytes at 10 KB/s at least
}

TEST_F(FaultProxyTest, SlicerCutsWritesIntoDelayedPiecesTheClientReassembles) {
  StartProxy(R"(toxics { type: "slicer" attributes { average_size: 2 size_variation: 1 )"
             R"(delay: 1000 } })");
  const absl::Time start = absl::Now();
  auto client = OpenConfirmed();  // the 101 answer and connect_confirm, a few bytes a piece
  ASSERT_NE(client, nullptr);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(100));
  ASSERT_TRUE(client->SendText(Say("1", "sliced")).ok());
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr("sliced"));
}

TEST_F(FaultProxyTest, LimitDataClosesAfterExactlyThatManyBytes) {
  StartProxy(R"(toxics { type: "limit_data" attributes { bytes: 50 } })");
  std::unique_ptr<RawConnection> raw = RawConnection::Open(ProxyPort());
  ASSERT_NE(raw, nullptr);
  ASSERT_TRUE(
      raw->Send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"));
  std::optional<std::string> received = raw->ReadUntilClosed();
  ASSERT_TRUE(received.has_value()) << "the proxy did not close";
  EXPECT_EQ(received->size(), 50u);
  EXPECT_EQ(received->substr(0, 12), "HTTP/1.1 101");
}

TEST_F(FaultProxyTest, LimitDataCutsAWebSocketMidStream) {
  StartProxy(R"(toxics { type: "limit_data" attributes { bytes: 400 } })");
  auto client = OpenConfirmed();  // about 130 bytes of upgrade and 230 of connect_confirm
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(Say("1", std::string(200, 'x'))).ok());
  EXPECT_EQ(CloseCode(*client), 1006);
}

TEST_F(FaultProxyTest, DownRefusesConnectionsAndClosesOpenOnesUntilEnabled) {
  StartProxy();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  const uint16_t port = ProxyPort();
  v1::Proxy down;
  down.set_name("bridge");
  down.set_enabled(false);
  ASSERT_TRUE(registry().Update(down).ok());
  absl::StatusOr<std::unique_ptr<WsTestClient>> refused = WsTestClient::Connect(port);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("refused"));
  EXPECT_EQ(CloseCode(*client), 1006);

  down.set_enabled(true);
  ASSERT_TRUE(registry().Update(down).ok());
  EXPECT_EQ(ProxyPort(), port);
  auto again = OpenConfirmed();
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(PingPongs(*again));
}

TEST_F(FaultProxyTest, BadUtf8UpstreamMakesTheBridgeClose1007) {
  StartProxy(R"(toxics { type: "ws_corrupt" stream: "upstream" )"
             R"(attributes { after_frames: 1 corruption: "bad_utf8" } })");
  auto client = OpenConfirmed();  // the connect frame passes untouched
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(Say("1")).ok());
  EXPECT_EQ(CloseCode(*client), 1007);
  EXPECT_EQ(bridge::protocol::ClassifyClose(1007).category,
            bridge::v1::ERROR_CATEGORY_PROTOCOL_ERROR);
}

TEST_F(FaultProxyTest, ReservedBitsUpstreamAreAProtocolError) {
  StartProxy(R"(toxics { type: "ws_corrupt" stream: "upstream" )"
             R"(attributes { after_frames: 1 corruption: "reserved_bits" } })");
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(kPing).ok());
  EXPECT_EQ(CloseCode(*client), 1002);
}

TEST_F(FaultProxyTest, StallHoldsFramesAfterTheFirstNUntilRemoved) {
  StartProxy(R"(toxics { type: "ws_stall" attributes { after_frames: 1 } })");
  auto client = OpenConfirmed();  // connect_confirm is the one frame let through
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->SendText(Say("held")).ok());
  absl::StatusOr<std::string> nothing = client->ReceiveText(kQuiet);
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kDeadlineExceeded) << nothing.status();
  RemoveToxic("ws_stall_downstream");
  absl::StatusOr<std::string> reply = client->ReceiveText();  // held, not lost
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(R"("messageId":"held")"));
}

TEST_F(FaultProxyTest, ToxicityZeroNeverAppliesToAConnection) {
  StartProxy(R"(toxics { type: "timeout" toxicity: 0 })");
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(PingPongs(*client));
}

TEST_F(FaultProxyTest, TheHttpApiAddsAndRemovesAToxic) {
  StartProxy();
  const uint16_t api = proxy_->api_port();
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);

  HttpAnswer added = Http(api, "POST", "/proxies/bridge/toxics",
                          R"({"name":"no_pongs","type":"ws_drop_heartbeat"})");
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_THAT(added.body, HasSubstr(R"("name":"no_pongs")"));
  ASSERT_TRUE(client->SendText(kPing).ok());
  ASSERT_TRUE(client->SendText(Say("1")).ok());
  absl::StatusOr<std::string> reply = client->ReceiveText();
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_THAT(*reply, HasSubstr(R"("type":"response")"));  // not the pong

  EXPECT_EQ(Http(api, "DELETE", "/proxies/bridge/toxics/no_pongs").status, 204);
  EXPECT_TRUE(PingPongs(*client));

  HttpAnswer bad = Http(api, "POST", "/proxies/bridge/toxics", R"({"type":"latancy"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("field type: unknown toxic type"));
  EXPECT_EQ(Http(api, "GET", "/proxies/elsewhere").status, 404);
  EXPECT_THAT(Http(api, "GET", "/proxies").body, HasSubstr(R"({"bridge":{"name":"bridge")"));
}

TEST_F(FaultProxyTest, TheHttpApiTakesTheProxyDownAndUp) {
  StartProxy();
  const uint16_t api = proxy_->api_port();
  EXPECT_EQ(Http(api, "POST", "/proxies/bridge", R"({"enabled":false})").status, 200);
  EXPECT_FALSE(WsTestClient::Connect(ProxyPort()).ok());
  EXPECT_EQ(Http(api, "POST", "/reset").status, 204);
  EXPECT_NE(OpenConfirmed(), nullptr);
}

TEST_F(FaultProxyTest, TheGrpcApiAddsAndRemovesAToxic) {
  StartProxy();
  auto stub = v1::FaultControl::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", proxy_->grpc_port()), grpc::InsecureChannelCredentials()));
  auto client = OpenConfirmed();
  ASSERT_NE(client, nullptr);

  v1::AddToxicRequest add;
  add.set_proxy("bridge");
  add.mutable_toxic()->set_type("ws_stall");
  v1::Toxic added;
  grpc::ClientContext add_context;
  ASSERT_TRUE(stub->AddToxic(&add_context, add, &added).ok());
  EXPECT_EQ(added.name(), "ws_stall_downstream");
  EXPECT_FALSE(PingPongs(*client, kQuiet));

  v1::RemoveToxicRequest remove;
  remove.set_proxy("bridge");
  remove.set_toxic("ws_stall_downstream");
  v1::RemoveToxicResponse removed;
  grpc::ClientContext remove_context;
  ASSERT_TRUE(stub->RemoveToxic(&remove_context, remove, &removed).ok());
  absl::StatusOr<std::string> held_pong = client->ReceiveText();
  ASSERT_TRUE(held_pong.ok()) << held_pong.status();
  EXPECT_THAT(*held_pong, HasSubstr(R"("type":"pong")"));
  EXPECT_TRUE(PingPongs(*client));

  v1::ListProxiesResponse list;
  grpc::ClientContext list_context;
  ASSERT_TRUE(stub->ListProxies(&list_context, v1::ListProxiesRequest(), &list).ok());
  ASSERT_EQ(list.proxies_size(), 1);
  EXPECT_EQ(list.proxies(0).toxics_size(), 0);
}

TEST_F(FaultProxyTest, TheGrpcApiRefusesBadRequestsWithTheirCodes) {
  StartProxy();
  auto stub = v1::FaultControl::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", proxy_->grpc_port()), grpc::InsecureChannelCredentials()));
  v1::AddToxicRequest add;
  add.set_proxy("bridge");
  add.mutable_toxic()->set_type("latency");
  add.mutable_toxic()->mutable_attributes()->set_code(1000);
  v1::Toxic toxic;
  grpc::ClientContext bad_context;
  const grpc::Status bad = stub->AddToxic(&bad_context, add, &toxic);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("field attributes.code"));

  add.set_proxy("nope");
  grpc::ClientContext missing_context;
  EXPECT_EQ(stub->AddToxic(&missing_context, add, &toxic).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(FaultProxyTest, TheGrpcApiOffersPopulateToxicUpdatesAndTheVersion) {
  StartProxy();
  auto stub = v1::FaultControl::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", proxy_->grpc_port()), grpc::InsecureChannelCredentials()));
  v1::PopulateRequest populate;
  v1::Proxy* extra = populate.add_proxies();
  extra->set_name("extra");
  extra->set_listen("127.0.0.1:0");
  extra->set_upstream(backend_->target());
  v1::PopulateResponse populated;
  grpc::ClientContext populate_context;
  ASSERT_TRUE(stub->Populate(&populate_context, populate, &populated).ok());
  ASSERT_EQ(populated.proxies_size(), 1);
  EXPECT_EQ(populated.proxies(0).name(), "extra");
  EXPECT_TRUE(registry().Get("extra").ok());

  AddToxic(R"(name: "slow" type: "latency" attributes { latency: 10 })", "extra");
  v1::UpdateToxicRequest update;
  update.set_proxy("extra");
  update.mutable_toxic()->set_name("slow");
  update.mutable_toxic()->mutable_attributes()->set_latency(20);
  v1::Toxic updated;
  grpc::ClientContext update_context;
  ASSERT_TRUE(stub->UpdateToxic(&update_context, update, &updated).ok());
  EXPECT_EQ(updated.attributes().latency(), 20u);
  EXPECT_EQ(registry().GetToxic("extra", "slow")->attributes().latency(), 20u);

  v1::GetVersionResponse version;
  grpc::ClientContext version_context;
  ASSERT_TRUE(stub->GetVersion(&version_context, {}, &version).ok());
  EXPECT_EQ(version.version(), kToxiproxyApiVersion);
}

TEST_F(FaultProxyTest, ProxiesGrpcToTheBackendAsPlainBytes) {
  StartProxy();
  v1::Proxy backend;
  backend.set_name("backend");
  backend.set_listen("127.0.0.1:0");
  backend.set_upstream(backend_->target());
  ASSERT_TRUE(registry().Create(backend).ok());
  AddToxic(R"(type: "latency" attributes { latency: 100 })", "backend");
  auto stub = demo::v1::Echo::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", ProxyPort("backend")), grpc::InsecureChannelCredentials()));
  demo::v1::SayRequest request;
  request.set_text("over http/2");
  demo::v1::SayResponse response;
  grpc::ClientContext context;
  const absl::Time sent = absl::Now();
  const grpc::Status status = stub->Say(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), "over http/2");
  EXPECT_GE(absl::Now() - sent, absl::Milliseconds(100));
}

}  // namespace
}  // namespace harness::proxy
