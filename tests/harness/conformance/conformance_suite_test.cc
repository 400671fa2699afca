// The conformance binary itself, run as a user runs it: against the in-process bridge (exit 0,
// both reports written), against a broken server (exit 1), and with bad flags (exit 2).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/conformance/broken_server.h"
#include "tests/support/test_bridge.h"

extern char** environ;

namespace harness::conformance {
namespace {

using ::testing::HasSubstr;

constexpr char kBinary[] = "harness/conformance/conformance";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct BinaryRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

// Runs the binary with `args` and waits for it to exit.
BinaryRun RunBinary(const std::vector<std::string>& args, const std::string& name) {
  const std::string out_path = absl::StrCat(::testing::TempDir(), "/", name, ".out");
  std::vector<std::string> argv_storage = {kBinary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  BinaryRun run;
  const int rc = posix_spawn(&pid, kBinary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    run.out = absl::StrCat("posix_spawn: ", rc);
    return run;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) == pid && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  run.out = ReadFile(out_path);
  return run;
}

TEST(ConformanceSuiteTest, TheBridgeConformsAndBothReportsAreWritten) {
  auto bridge = bridge::testing::TestBridge::Start(
      "heartbeat_interval_ms: 500 heartbeat_timeout_ms: 1000 handshake_timeout_ms: 1000 "
      "control_listen: \"127.0.0.1:0\"");
  ASSERT_TRUE(bridge.ok()) << bridge.status();
  const std::string url = absl::StrCat("ws://127.0.0.1:", (*bridge)->port(), "/ws");
  const std::string control = absl::StrCat("127.0.0.1:", (*bridge)->app().control_port());
  const std::string dir = absl::StrCat(::testing::TempDir(), "/suite-report");
  BinaryRun run = RunBinary(
      {"--url=" + url, "--report_dir=" + dir, "--max_wait_ms=5000", "--control=" + control},
      "bridge");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("Conformance of ", url)));
  EXPECT_THAT(run.out, HasSubstr(" 0 fail, 0 skipped"));
  const std::string json = ReadFile(dir + "/conformance.json");
  const std::string html = ReadFile(dir + "/conformance.html");
  EXPECT_THAT(json, HasSubstr(R"("id":"8.1")"));
  EXPECT_THAT(json, HasSubstr(R"("fail":0)"));
  EXPECT_THAT(html, HasSubstr(R"(id="case-8.1")"));
  EXPECT_THAT(json, HasSubstr(R"("id":"9.8")"));
  EXPECT_THAT(html, HasSubstr(R"(id="case-9.8")"));
}

TEST(ConformanceSuiteTest, AFailingCaseExitsOne) {
  auto server = testing::BrokenServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string url = absl::StrCat("ws://127.0.0.1:", (*server)->port(), "/ws");
  BinaryRun run = RunBinary({"--url=" + url, "--cases=1.1,5.1"}, "broken");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr("1.1    Fail"));
  EXPECT_THAT(run.out, HasSubstr("seq absent"));
  EXPECT_THAT(run.out, HasSubstr("5.1    Skipped"));
  EXPECT_THAT(run.out, HasSubstr("2 cases: 0 pass, 0 non-strict, 1 fail, 1 skipped"));
}

TEST(ConformanceSuiteTest, BadFlagsExitTwo) {
  EXPECT_EQ(RunBinary({}, "no-url").exit_code, 2);
  EXPECT_EQ(RunBinary({"--url=http://127.0.0.1:1/ws"}, "http").exit_code, 2);
  EXPECT_EQ(RunBinary({"--url=ws://127.0.0.1:1/ws", "--cases=99."}, "no-case").exit_code, 2);
  EXPECT_EQ(RunBinary({"--url=ws://127.0.0.1:1/ws", "--max_wait_ms=0"}, "wait").exit_code, 2);
  BinaryRun unknown = RunBinary({"--url=ws://127.0.0.1:1/ws", "--no_such_flag=1"}, "unknown");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.out, HasSubstr("unknown flag --no_such_flag"));
  EXPECT_EQ(RunBinary({"--url=ws://127.0.0.1:1/ws", "--message_burst=-1"}, "burst").exit_code, 2);
  EXPECT_EQ(RunBinary({"--url=ws://127.0.0.1:1/ws", "--rate_limit_strikes=0"}, "strikes").exit_code,
            2);
}

TEST(ConformanceSuiteTest, AServerThatIsNotThereFailsEveryCaseItRuns) {
  // Port 1 on loopback: nothing listens there.
  BinaryRun run = RunBinary({"--url=ws://127.0.0.1:1/ws", "--cases=1.1,3.1"}, "down");
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr("connect: Connection refused"));
}

TEST(ConformanceSuiteTest, ListPrintsTheCases) {
  BinaryRun run = RunBinary({"--list", "--cases=4."}, "list");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("4.11"));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("5.1 ")));
}

}  // namespace
}  // namespace harness::conformance
