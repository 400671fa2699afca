// load: a load generator for the bridge protocol, and for direct gRPC as its baseline.
//
//   load --target=ws://127.0.0.1:8080/ws --pid=<bridge pid> --connections=4 --inflight=16
//   load --target=grpc://127.0.0.1:50051 --connections=4 --inflight=16   # the gRPC ceiling
//   load --target=ws://... --rate=20000 ...        # open loop: 20k calls/s in all
//   load --target=ws://... --idle --connections=10000 --pid=<bridge pid>   # memory, setup rate
//   load --spawn='bazel-bin/bridge/bridge --config=...' ...   # start the bridge, read its port
//
// Prints a summary, or one JSON object with --json. The bridge's CPU is utime + stime from
// /proc/<pid>/stat over the measured window, divided by the round trips.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "bench/load/load.h"
#include "bench/load/proc_stats.h"

ABSL_FLAG(std::string, target, "", "ws://HOST:PORT/PATH (the bridge) or grpc://HOST:PORT.");
ABSL_FLAG(std::string, spawn, "",
          "A shell command starting the bridge; its stdout's first line with ws://HOST:PORT "
          "gives the target, its pid is measured, and it gets SIGTERM at the end.");
ABSL_FLAG(int, pid, 0, "The bridge's pid, for CPU and memory figures (0: none).");
ABSL_FLAG(int, connections, 1, "Connections.");
ABSL_FLAG(int, inflight, 1, "Calls in flight per connection (open loop: at most).");
ABSL_FLAG(double, rate, 0, "Open loop: calls per second in all. 0: closed loop.");
ABSL_FLAG(int, payload, 64, "Request text bytes.");
ABSL_FLAG(std::string, kind, "say", "say (unary), repeat (server stream), chat (bidi).");
ABSL_FLAG(int, repeat_count, 4, "Replies per Repeat call.");
ABSL_FLAG(double, warmup, 0.5, "Seconds of unmeasured load first.");
ABSL_FLAG(double, duration, 2, "Seconds measured.");
ABSL_FLAG(int, threads, 1, "Client io threads (WebSocket).");
ABSL_FLAG(bool, idle, false,
          "Hold idle sessions: report the bridge's RSS per connection and "
          "the setup rate.");
ABSL_FLAG(int, setup_concurrency, 256, "Idle mode: handshakes in progress at once per thread.");
ABSL_FLAG(int, per_source, 25000,
          "Idle mode: connections per source address (127.0.0.2, .3, ...); 0: the default one.");
ABSL_FLAG(double, hold, 0, "Idle mode: seconds to hold the connections after the sample.");
ABSL_FLAG(bool, json, false, "Print one JSON object.");

namespace {

using bench::load::CallKind;
using bench::load::LoadResult;
using bench::load::LoadSpec;

struct Target {
  bool grpc = false;
  std::string host;
  uint16_t port = 0;
  std::string path = "/ws";
};

bool ParseTarget(const std::string& url, Target* t) {
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("grpc://", 0) == 0) {
    t->grpc = true;
    rest = url.substr(7);
  } else {
    return false;
  }
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    t->path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  t->host = rest.substr(0, colon);
  t->port = static_cast<uint16_t>(std::stoi(rest.substr(colon + 1)));
  return true;
}

struct Spawned {
  pid_t pid = 0;
  std::string url;
};

// Starts `command` under /bin/sh and reads its stdout until a line names ws://HOST:PORT.
bool Spawn(const std::string& command, Spawned* out) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  out->pid = pid;
  FILE* in = fdopen(fds[0], "r");
  char line[4096];
  while (std::fgets(line, sizeof line, in) != nullptr) {
    std::string s(line);
    const size_t at = s.find("ws://");
    if (at == std::string::npos) continue;
    size_t end = at;
    while (end < s.size() && s[end] != ' ' && s[end] != '\n') ++end;
    out->url = s.substr(at, end - at);
    // Keep draining the child's stdout so it never blocks on a full pipe.
    std::thread([in] {
      char buf[4096];
      while (std::fgets(buf, sizeof buf, in) != nullptr) {
      }
      std::fclose(in);
    }).detach();
    return true;
  }
  std::fclose(in);
  return false;
}

// Stops the spawned server with SIGTERM (it drains and exits). Returns its exit status, 128 +
// the signal if a signal ended it, or -1 if nothing was spawned.
int Stop(const Spawned& s) {
  if (s.pid <= 0) return -1;
  kill(s.pid, SIGTERM);
  int status = 0;
  if (waitpid(s.pid, &status, 0) != s.pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

double Us(uint64_t ns) { return ns / 1000.0; }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Load generator for the bridge protocol; see load_main.cc.");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);

  Spawned spawned;
  std::string url = absl::GetFlag(FLAGS_target);
  int pid = absl::GetFlag(FLAGS_pid);
  if (const std::string cmd = absl::GetFlag(FLAGS_spawn); !cmd.empty()) {
    if (!Spawn(cmd, &spawned)) {
      std::fprintf(stderr, "load: %s printed no ws:// address\n", cmd.c_str());
      Stop(spawned);
      return 2;
    }
    if (url.empty()) url = spawned.url;
    if (pid == 0) pid = spawned.pid;
  }
  Target target;
  if (!ParseTarget(url, &target)) {
    std::fprintf(stderr, "load: --target must be ws://HOST:PORT/PATH or grpc://HOST:PORT\n");
    Stop(spawned);
    return 2;
  }

  LoadSpec spec;
  spec.host = target.host;
  spec.port = target.port;
  spec.path = target.path;
  spec.connections = absl::GetFlag(FLAGS_connections);
  spec.inflight = absl::GetFlag(FLAGS_inflight);
  spec.rate = absl::GetFlag(FLAGS_rate);
  spec.payload = static_cast<size_t>(absl::GetFlag(FLAGS_payload));
  spec.repeat_count = absl::GetFlag(FLAGS_repeat_count);
  spec.warmup_s = absl::GetFlag(FLAGS_warmup);
  spec.duration_s = absl::GetFlag(FLAGS_duration);
  spec.threads = absl::GetFlag(FLAGS_threads);
  const std::string kind = absl::GetFlag(FLAGS_kind);
  if (kind == "say") {
    spec.kind = CallKind::kSay;
  } else if (kind == "repeat") {
    spec.kind = CallKind::kRepeat;
  } else if (kind == "chat") {
    spec.kind = CallKind::kChat;
  } else {
    std::fprintf(stderr, "load: --kind must be say, repeat or chat\n");
    Stop(spawned);
    return 2;
  }
  const bool json = absl::GetFlag(FLAGS_json);

  if (absl::GetFlag(FLAGS_idle)) {
    bench::load::IdleResult r;
    const bool ok = bench::load::RunIdleConnections(spec, absl::GetFlag(FLAGS_setup_concurrency),
                                                    absl::GetFlag(FLAGS_per_source),
                                                    absl::GetFlag(FLAGS_hold), pid, &r);
    const int spawned_exit = Stop(spawned);
    const double per_conn = r.established > 0 && r.rss_before >= 0 && r.rss_after >= 0
                                ? static_cast<double>(r.rss_after - r.rss_before) / r.established
                                : -1;
    const double rate = r.setup_seconds > 0 ? r.established / r.setup_seconds : 0;
    if (json) {
      std::printf(
          "{\"mode\":\"idle\",\"connections\":%d,\"threads\":%d,\"established\":%llu,"
          "\"failures\":%llu,\"setup_s\":%.4f,\"setup_per_s\":%.0f,\"rss_before\":%lld,"
          "\"rss_after\":%lld,\"rss_per_connection\":%.1f,\"spawned_exit\":%d,"
          "\"first_error\":\"%s\"}\n",
          spec.connections, spec.threads, static_cast<unsigned long long>(r.established),
          static_cast<unsigned long long>(r.failures), r.setup_seconds, rate,
          static_cast<long long>(r.rss_before), static_cast<long long>(r.rss_after), per_conn,
          spawned_exit, absl::CEscape(r.first_error).c_str());
    } else {
      std::printf("idle: %llu of %d sessions established (%llu failed) in %.3f s: %.0f/s\n",
                  static_cast<unsigned long long>(r.established), spec.connections,
                  static_cast<unsigned long long>(r.failures), r.setup_seconds, rate);
      std::printf("bridge RSS: %.1f MB before, %.1f MB after: %.0f bytes per connection\n",
                  r.rss_before / 1e6, r.rss_after / 1e6, per_conn);
      if (!r.first_error.empty()) std::printf("first error: %s\n", r.first_error.c_str());
      if (spawned_exit > 0) std::printf("spawned server exited with %d\n", spawned_exit);
    }
    return ok && r.failures == 0 && spawned_exit <= 0 ? 0 : 1;
  }

  double cpu_start = -1, cpu_end = -1;
  auto on_window = [&](bool start) {
    (start ? cpu_start : cpu_end) = bench::load::ProcessCpuSeconds(pid);
  };
  LoadResult r;
  const bool ok = target.grpc ? bench::load::RunGrpcLoad(spec, on_window, &r)
                              : bench::load::RunWebSocketLoad(spec, on_window, &r);
  const int spawned_exit = Stop(spawned);
  const double rps = r.seconds > 0 ? r.round_trips / r.seconds : 0;
  const double bridge_cpu = cpu_start >= 0 && cpu_end >= 0 ? cpu_end - cpu_start : -1;
  const double cpu_per_rt = bridge_cpu >= 0 && r.round_trips > 0
                                ? bridge_cpu * 1e6 / static_cast<double>(r.round_trips)
                                : -1;
  const auto& h = r.latency;
  if (json) {
    std::printf(
        "{\"mode\":\"%s\",\"kind\":\"%s\",\"connections\":%d,\"inflight\":%d,\"rate\":%.0f,"
        "\"payload\":%zu,\"threads\":%d,\"seconds\":%.3f,\"round_trips\":%llu,\"rps\":%.1f,"
        "\"replies\":%llu,\"errors\":%llu,\"late\":%llu,\"connect_failures\":%llu,"
        "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
        "\"mean_us\":%.1f,\"bridge_cpu_s\":%.3f,\"bridge_cpu_us_per_rt\":%.2f,"
        "\"client_cpu_s\":%.3f,\"ok\":%s,\"spawned_exit\":%d,\"first_error\":\"%s\"}\n",
        target.grpc ? "grpc" : "ws", kind.c_str(), spec.connections, spec.inflight, spec.rate,
        spec.payload, spec.threads, r.seconds, static_cast<unsigned long long>(r.round_trips), rps,
        static_cast<unsigned long long>(r.replies), static_cast<unsigned long long>(r.errors),
        static_cast<unsigned long long>(r.late),
        static_cast<unsigned long long>(r.connect_failures), Us(h.Percentile(0.5)),
        Us(h.Percentile(0.9)), Us(h.Percentile(0.99)), Us(h.Percentile(0.999)), Us(h.max()),
        h.mean() / 1000, bridge_cpu, cpu_per_rt, r.client_cpu_s, ok ? "true" : "false",
        spawned_exit, absl::CEscape(r.first_error).c_str());
  } else {
    std::printf("%s %s: %d connections x %d in flight%s, %zu B, %.2f s measured\n",
                target.grpc ? "grpc" : "ws", kind.c_str(), spec.connections, spec.inflight,
                spec.rate > 0 ? absl::StrFormat(", open loop %.0f/s", spec.rate).c_str() : "",
                spec.payload, r.seconds);
    std::printf("round trips: %llu (%.0f/s), replies %llu, errors %llu, late sends %llu\n",
                static_cast<unsigned long long>(r.round_trips), rps,
                static_cast<unsigned long long>(r.replies),
                static_cast<unsigned long long>(r.errors), static_cast<unsigned long long>(r.late));
    std::printf("latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
                Us(h.Percentile(0.5)), Us(h.Percentile(0.9)), Us(h.Percentile(0.99)),
                Us(h.Percentile(0.999)), Us(h.max()), h.mean() / 1000);
    if (bridge_cpu >= 0) {
      std::printf("bridge CPU: %.3f s, %.1f us per round trip\n", bridge_cpu, cpu_per_rt);
    }
    std::printf("load generator CPU: %.3f s\n", r.client_cpu_s);
    if (!r.first_error.empty()) std::printf("first error: %s\n", r.first_error.c_str());
    if (spawned_exit > 0) std::printf("spawned server exited with %d\n", spawned_exit);
  }
  return ok && spawned_exit <= 0 ? 0 : 1;
}
