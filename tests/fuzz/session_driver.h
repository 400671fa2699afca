// Whole client sessions driven by fuzz input, shared by session_fuzzer (a fake upstream that
// holds every call to gRPC's own rules) and session_grpc_fuzzer (the real gRPC client).
//
// One input is one Session (bridge/session/session.h) with the demo descriptors: a few bytes
// of options (encoding, batching, resume, rate limit, authentication, channels, forwarded
// metadata), then up to kMaxActions actions: frames sent by the client (built from the input
// in the session's encoding, sometimes the other one, sometimes raw bytes), time passing and
// timers firing, upstream events, tasks of the strand running, flow control, the connection
// closing, a new connection resuming the session, pings, drain and shutdown, publications,
// answers of an external authentication check.
//
// Every frame the session sends is checked as a client reads it: it decodes (JSON text frames
// are UTF-8 and JSON; binary frames parse as bridge.v1.Frame); before connect_confirm frames are
// unnumbered errors; from connect_confirm on, `seq` grows by exactly 1 on a connection (only the
// farewell of a slow-consumer close may skip the frames it drops), a resumed connection starts
// right after the lastSeq it claimed, and a frame sent again under a seq is the one first sent
// under it; an `error` answering a call frame (message, stream_send, stream_end, cancel) that
// had a messageId carries that messageId. Close reasons fit a WebSocket close frame. Release
// comes once, and nothing is sent after it. A failed check prints "MISMATCH ..." and aborts.
//
// The byte format (Input) is sequential and forgiving: a byte past the end reads as 0, so any
// input is a valid one, and the seeds in corpus/ are short hand-written programs
// (make_session_corpus.py).
#ifndef TESTS_FUZZ_SESSION_DRIVER_H_
#define TESTS_FUZZ_SESSION_DRIVER_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bridge/auth/checker.h"
#include "bridge/auth/jwt_verifier.h"
#include "bridge/common/clock.h"
#include "bridge/common/log.h"
#include "bridge/common/strings.h"
#include "bridge/config/config.h"
#include "bridge/metrics/metrics.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/pubsub/memory_broker.h"
#include "bridge/pubsub/node.h"
#include "bridge/session/session.h"
#include "bridge/transcode/descriptor_registry.h"
#include "bridge/transcode/json_text.h"
#include "bridge/transcode/json_transcoder.h"
#include "bridge/upstream/upstream.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "jwt.h"
#include "proto/bridge/v1/config.pb.h"
#include "proto/bridge/v1/frame.pb.h"
#include "proto/demo/v1/echo.pb.h"

namespace bridge::fuzz {

using v1::Frame;

inline constexpr int kMaxActions = 64;
// The longest string the input can ask for (a huge metadata value, a long clientId).
inline constexpr size_t kMaxText = 20000;

// `s` for a report: C escapes, cut after 300 bytes.
inline std::string Shown(std::string_view s) {
  std::string out = absl::CHexEscape(Sv(s.substr(0, 300)));
  if (s.size() > 300) absl::StrAppend(&out, "...(", s.size(), " bytes)");
  return out;
}

// With SESSION_FUZZ_TRACE set in the environment, what happens to each input is printed:
// frames both ways, calls and their events, the connection's fate. For replaying one input.
inline bool Tracing() {
  static const bool on = std::getenv("SESSION_FUZZ_TRACE") != nullptr;
  return on;
}
inline void Trace(const std::string& line) {
  if (Tracing()) std::fprintf(stderr, "%s\n", line.c_str());
}

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "MISMATCH %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// ------------------------------------------------------------------------------------------------
// The input, read front to back. Past the end every byte reads as 0.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  // In [0, n), n >= 1.
  size_t Pick(size_t n) { return Byte() % n; }
  bool Bool() { return Byte() & 1; }
  uint16_t U16() {
    const uint16_t lo = Byte();
    return static_cast<uint16_t>(lo | (Byte() << 8));
  }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(Byte()) << (8 * i);
    return v;
  }
  // A number of any magnitude: small ones most often.
  uint64_t Number() {
    switch (Byte() % 4) {
      case 0:
        return Byte();
      case 1:
        return U16();
      case 2:
        return U64();
      default: {
        static constexpr uint64_t kEdges[] = {0,          1,          2,          0x7f,
                                              0x80,       0xffff,     0x7fffffff, 0x80000000,
                                              0xffffffff, 1ULL << 32, 1ULL << 53, (1ULL << 53) + 1,
                                              ~0ULL >> 1, ~0ULL};
        return kEdges[Byte() % (sizeof(kEdges) / sizeof(kEdges[0]))];
      }
    }
  }
  // A length byte (255: two more bytes give it), then that many bytes.
  std::string Bytes(size_t max = kMaxText) {
    size_t n = Byte();
    if (n == 255) n = U16();
    n = std::min({n, max, size_ - std::min(pos_, size_)});
    std::string out(reinterpret_cast<const char*>(data_) + pos_, n);
    pos_ += n;
    return out;
  }

  // Text a client or an upstream could send: words that matter to the bridge (non-ASCII,
  // control characters, '%', invalid UTF-8), raw bytes, code points, long runs.
  std::string Text() {
    switch (Byte() % 8) {
      case 0:
      case 1:
      case 2:
        return Word();
      case 3:
        return Bytes(256);
      case 4: {
        std::string out = Word();
        out += Bytes(64);
        out += Word();
        return out;
      }
      case 5:
        return CodePoints();
      case 6: {
        const std::string unit = Word();
        const size_t times =
            std::min<size_t>(Number() % 4096, kMaxText / std::max<size_t>(unit.size(), 1));
        std::string out;
        for (size_t i = 0; i < times; ++i) out += unit;
        return out;
      }
      default:
        return "";
    }
  }
  // Text that is valid UTF-8 (what a protobuf string or a JSON library hands over).
  std::string Utf8Text() {
    std::string s = Text();
    return transcode::IsValidUtf8(s) ? s : CodePoints();
  }

  std::string Word() {
    static const std::string kWords[] = {
        "c-1",
        "J\xc3\xbcrgen",  // Jürgen
        "a\nb",
        "\r\n",
        "tab\there",
        std::string("nul\0x", 5),
        "\x7f",
        "\x01",
        "%",
        "%41%zz",
        "\xc3\xa9",                  // é
        "\xe6\x97\xa5\xe6\x9c\xac",  // 日本
        "\xf0\x9f\x98\x80",          // 😀
        "\xc3",                      // a cut sequence
        "\xff\xfe",                  // never UTF-8
        "\xed\xa0\x80",              // a surrogate
        "\xc0\xaf",                  // overlong
        "\xc2\x80",                  // C1 control
        " ",
        " lead and trail ",
        "-bin",
        "x-a",
        "x-b-bin",
        "grpc-timeout",
        "x-bridge-client-id",
        "\"",
        "\\",
        "{}",
        "null",
        "[1,{\"a\":null}]",
        "demo.v1.Echo/Say",
        "Zm9vYmFy",  // base64 of "foobar"
        "Zm9vYg",    // unpadded
        "not base64!",
        "s-test-1",
        "m-0",
        "news",
        "chat:room",
        "1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // a W3C traceparent
        "rojo=00f067aa0ba902b7",                                    // a tracestate
    };
    return kWords[Byte() % (sizeof(kWords) / sizeof(kWords[0]))];
  }

 private:
  std::string CodePoints() {
    std::string out;
    const size_t n = Byte() % 16;
    for (size_t i = 0; i < n; ++i) {
      uint32_t cp;
      const uint8_t b = Byte();
      switch (Byte() % 6) {
        case 0:
          cp = b % 0x20;  // C0 controls
          break;
        case 1:
          cp = 0x20 + b % 0x5f;  // printable ASCII
          break;
        case 2:
          cp = 0x7f + b % 0x21;  // DEL and C1 controls
          break;
        case 3:
          cp = 0xa0 + b;  // Latin-1 and beyond
          break;
        case 4:
          cp = 0x3000 + b * 37;  // BMP, clear of the surrogates
          break;
        default:
          cp = 0x1f600 + b;  // astral
          break;
      }
      AppendUtf8(cp, &out);
    }
    return out;
  }
  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// ------------------------------------------------------------------------------------------------
// The strand: tasks posted from any thread (gRPC's too), run on the fuzzer's thread.
class QueueExecutor final : public session::Executor {
 public:
  void Post(std::function<void()> task) override {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    tasks_.push_back(std::move(task));
  }
  // Runs up to `limit` tasks, oldest first, and those they post. Returns how many ran.
  int Run(int limit) {
    int n = 0;
    while (n < limit) {
      std::function<void()> task;
      {
        absl::MutexLock lock(&mu_);
        if (tasks_.empty()) break;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      ++n;
    }
    return n;
  }
  // Waits up to `timeout` for a task to be queued.
  bool Await(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !tasks_.empty(); };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  }
  // The connection is gone for good: what waits, and whatever is posted later, is dropped.
  void Close() {
    std::deque<std::function<void()>> dropped;
    absl::MutexLock lock(&mu_);
    closed_ = true;
    dropped.swap(tasks_);
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
};

class FuzzClock final : public Clock {
 public:
  absl::Time Now() override { return absl::FromUnixSeconds(1767225600) + Monotonic(); }
  absl::Duration Monotonic() override {
    absl::MutexLock lock(&mu_);
    return offset_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

// ------------------------------------------------------------------------------------------------
// A connection as the client sees it, with the protocol's promises checked on every frame.
class FuzzTransport final : public session::Transport {
 public:
  FuzzTransport(std::string name, protocol::Encoding encoding, FuzzClock* clock)
      : name_(std::move(name)), encoding_(encoding), clock_(clock) {}

  void Send(std::string data, protocol::Encoding encoding) override {
    if (released_ > 0) Fail(absl::StrCat(name_, ": a frame sent after Release"));
    if (encoding != encoding_) Fail(absl::StrCat(name_, ": a frame in the other encoding"));
    Frame frame;
    if (encoding == protocol::Encoding::kJson) {
      if (!transcode::IsValidUtf8(data)) {
        Fail(absl::StrCat(name_, ": a JSON text frame that is not UTF-8: ", Shown(data)));
      }
      const protocol::DecodeError error = protocol::DecodeJsonFrame(data, &frame);
      if (!error.ok()) {
        Fail(absl::StrCat(name_, ": a JSON frame the protocol cannot decode (", error.message,
                          "): ", Shown(data)));
      }
    } else {
      if (!frame.ParseFromString(data)) {
        Fail(absl::StrCat(name_, ": a binary frame that is not a bridge.v1.Frame: ", Shown(data)));
      }
      const protocol::DecodeError error = protocol::DecodeBinaryFrame(data, &frame);
      if (!error.ok()) {
        Fail(absl::StrCat(name_, ": a binary frame the protocol cannot decode (", error.message,
                          ")"));
      }
    }
    Trace(absl::StrCat("  < ", name_, ": ", frame.ShortDebugString().substr(0, 400)));
    if (frame.has_batch()) {
      if (frame.seq() != 0) Fail(absl::StrCat(name_, ": a numbered batch"));
      for (const Frame& inner : frame.batch().frames()) Received(inner);
    } else {
      Received(frame);
    }
    ++frames_sent_;
  }

  void Close(int code, std::string_view reason) override {
    if (released_ > 0) Fail(absl::StrCat(name_, ": Close after Release"));
    // A close frame holds a 2-byte code and at most 123 bytes of UTF-8 reason.
    if (reason.size() > 123 || !transcode::IsValidUtf8(reason)) {
      Fail(absl::StrCat(name_, ": close reason unfit for a close frame: ", Shown(reason)));
    }
    if (code < 1000 || code > 4999 || code == 1004 || code == 1005 || code == 1006 ||
        code == 1015) {
      Fail(absl::StrCat(name_, ": close code ", code, " cannot be sent"));
    }
    Trace(absl::StrCat("  < ", name_, ": close ", code, " ", Sv(reason)));
    closed_by_server_ = true;
    close_code_ = code;
  }

  void ArmTimer(session::SessionTimer timer, absl::Duration after) override {
    if (released_ > 0) Fail(absl::StrCat(name_, ": ArmTimer after Release"));
    timers_[timer] = clock_->Monotonic() + after;
  }
  void CancelTimer(session::SessionTimer timer) override { timers_.erase(timer); }
  std::shared_ptr<session::Executor> executor() override { return executor_; }
  size_t buffered_bytes() override { return buffered_; }
  void MeasureBuffered(std::function<void(size_t, size_t)> done) override {
    executor_->Post(
        [this, done = std::move(done)] { done(buffered_, std::max(buffered_, peak_)); });
  }
  void WhenBelow(size_t bytes, std::function<void()> room) override {
    if (released_ > 0) Fail(absl::StrCat(name_, ": WhenBelow after Release"));
    room_below_ = bytes;
    room_ = std::move(room);
    TellRoom();
  }
  void Release() override {
    if (++released_ > 1) Fail(absl::StrCat(name_, ": Release called twice"));
  }

  // The client is on a new connection. `first_seq`: the seq the session must send first on it
  // (a resume: right after the claimed lastSeq); 0 for a fresh session (connect_confirm, 1).
  void NewConnection(uint64_t first_seq) {
    numbered_ = false;
    last_seq_ = 0;
    expect_first_ = first_seq;
    closed_by_server_ = false;
    close_code_.reset();
    expectations_.clear();
    room_ = nullptr;  // the old connection took the request along
  }
  // An `error` with a seq in [lo, hi] answers a call frame with `message_id`.
  void Expect(uint64_t lo, uint64_t hi, std::string message_id) {
    expectations_.push_back({lo, hi, std::move(message_id)});
  }
  void CloseExpectation(uint64_t hi) {
    if (!expectations_.empty()) expectations_.back().hi = hi;
  }

  // The next timer due by now, if any; disarmed.
  std::optional<session::SessionTimer> TakeDueTimer() {
    const absl::Duration now = clock_->Monotonic();
    auto next = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->second <= now && (next == timers_.end() || it->second < next->second)) next = it;
    }
    if (next == timers_.end()) return std::nullopt;
    const session::SessionTimer timer = next->first;
    timers_.erase(next);
    return timer;
  }
  // How long until the earliest armed timer (zero when one is due).
  std::optional<absl::Duration> NextTimerIn() const {
    if (timers_.empty()) return std::nullopt;
    absl::Duration earliest = absl::InfiniteDuration();
    for (const auto& [timer, due] : timers_) earliest = std::min(earliest, due);
    return std::max(earliest - clock_->Monotonic(), absl::ZeroDuration());
  }

  const std::shared_ptr<QueueExecutor>& queue() const { return executor_; }
  protocol::Encoding encoding() const { return encoding_; }
  bool released() const { return released_ > 0; }
  bool closed_by_server() const { return closed_by_server_; }
  // The last seq the client received on its connections (what an honest resume claims).
  uint64_t client_last_seq() const { return client_last_seq_; }
  size_t frames_sent() const { return frames_sent_; }
  // The socket's figures change (writes completed, or more waits): a room request is answered
  // by a task, as a completed write answers it.
  void set_buffered(size_t now, size_t peak) {
    buffered_ = now;
    peak_ = peak;
    TellRoom();
  }

 private:
  struct Expectation {
    uint64_t lo;
    uint64_t hi;
    std::string message_id;
  };

  // One frame as the client reads it (a batch's frames one by one).
  void Received(const Frame& frame) {
    // Frames sent after the bridge started closing never reach the client.
    if (closed_by_server_) return;
    const std::string what =
        absl::StrCat(name_, ": ", Sv(protocol::FrameTypeName(frame)), " seq ", frame.seq());
    if (frame.seq() == 0) {
      if (numbered_) Fail(absl::StrCat(what, ": unnumbered after numbered frames"));
      if (!frame.has_error()) Fail(absl::StrCat(what, ": unnumbered and not an error"));
      return;
    }
    if (!numbered_) {
      const uint64_t want = expect_first_ != 0 ? expect_first_ : 1;
      if (frame.seq() != want)
        Fail(absl::StrCat(what, ": the first numbered frame must be ", want));
      if (expect_first_ == 0 && !frame.has_connect_confirm()) {
        Fail(absl::StrCat(what, ": a fresh session's first numbered frame is connect_confirm"));
      }
    } else if (frame.seq() != last_seq_ + 1) {
      // The farewell of a slow-consumer close goes ahead of frames it drops.
      const bool farewell = frame.has_error() &&
                            frame.error().category() == v1::ERROR_CATEGORY_SLOW_CONSUMER &&
                            frame.seq() > last_seq_;
      if (!farewell) Fail(absl::StrCat(what, ": seq after ", last_seq_));
    }
    numbered_ = true;
    last_seq_ = frame.seq();
    client_last_seq_ = frame.seq();
    // Under one seq there is only ever one frame (a replay sends the held one again).
    auto [it, inserted] = seen_.try_emplace(frame.seq(), frame);
    if (!inserted && !google::protobuf::util::MessageDifferencer::Equals(it->second, frame)) {
      Fail(absl::StrCat(what, ": differs from the frame first sent under this seq:\n",
                        it->second.ShortDebugString(), "\n", frame.ShortDebugString()));
    }
    if (seen_.size() > 256) seen_.erase(seen_.begin());
    if (frame.has_error()) {
      for (const Expectation& e : expectations_) {
        if (frame.seq() >= e.lo && frame.seq() <= e.hi &&
            frame.error().message_id() != e.message_id) {
          Fail(absl::StrCat(what, ": an error answering messageId \"", Shown(e.message_id),
                            "\" carries messageId \"", Shown(frame.error().message_id()),
                            "\": ", frame.error().ShortDebugString()));
        }
      }
    }
  }

  const std::string name_;
  const protocol::Encoding encoding_;
  FuzzClock* const clock_;
  std::shared_ptr<QueueExecutor> executor_ = std::make_shared<QueueExecutor>();
  std::map<session::SessionTimer, absl::Duration> timers_;  // by due time (monotonic)
  size_t buffered_ = 0;
  std::function<void()> room_;  // a WhenBelow request, while one is out
  size_t room_below_ = 0;
  void TellRoom() {
    if (room_ == nullptr || buffered_ >= room_below_) return;
    executor_->Post(std::move(room_));
    room_ = nullptr;
  }
  size_t peak_ = 0;
  int released_ = 0;
  size_t frames_sent_ = 0;

  bool numbered_ = false;
  uint64_t last_seq_ = 0;
  uint64_t expect_first_ = 0;
  uint64_t client_last_seq_ = 0;
  bool closed_by_server_ = false;
  std::optional<int> close_code_;
  std::vector<Expectation> expectations_;
  std::map<uint64_t, Frame> seen_;
};

// ------------------------------------------------------------------------------------------------
// What the session's upstream side does between the client's frames.
class UpstreamControl {
 public:
  virtual ~UpstreamControl() = default;
  virtual upstream::Upstream* upstream() = 0;
  // One upstream event chosen by the input (events are posted to `strand`).
  virtual void Act(Input& in, QueueExecutor& strand) = 0;
  // The session of this input is gone; its calls are forgotten.
  virtual void Reset() = 0;
};

// An external authentication check answered when the input says.
class FuzzChecker final : public auth::Checker {
 public:
  void Check(auth::CheckInput input, std::function<void(auth::CheckOutcome)> done) override {
    pending_.push_back(std::move(done));
  }
  bool Answer(Input& in) {
    if (pending_.empty()) return false;
    std::function<void(auth::CheckOutcome)> done = std::move(pending_.front());
    pending_.pop_front();
    auth::CheckOutcome outcome;
    switch (in.Pick(5)) {
      case 0:
      case 1:
        outcome.status = absl::OkStatus();
        break;
      case 2:
        outcome.status = absl::UnauthenticatedError(in.Utf8Text());
        break;
      case 3:
        outcome.status = absl::PermissionDeniedError(in.Utf8Text());
        break;
      default:
        outcome.status = absl::UnavailableError(in.Utf8Text());
        break;
    }
    // The auth service's answer is a protobuf message: its strings are UTF-8, any of it.
    outcome.identity.user_id = in.Utf8Text();
    if (in.Bool()) {
      outcome.identity.all_methods = false;
      outcome.identity.methods = {in.Bool() ? "demo.v1.Echo/*" : "demo.v1.Echo/Say"};
    }
    if (in.Bool()) outcome.valid_for = absl::Seconds(static_cast<int64_t>(in.Byte()));
    done(std::move(outcome));
    return true;
  }
  void Clear() { pending_.clear(); }
  size_t pending() const { return pending_.size(); }

 private:
  std::deque<std::function<void(auth::CheckOutcome)>> pending_;
};

// ------------------------------------------------------------------------------------------------
// What every input shares: descriptors, transcoder, metrics, the token verifier.
struct Services {
  Services() {
    absl::Status added = registry.AddGeneratedFile(demo::v1::SayRequest::descriptor()->file());
    if (!added.ok()) Fail(absl::StrCat("demo descriptors: ", added.message()));
    transcoder =
        std::make_unique<transcode::JsonTranscoder>(&registry, transcode::TranscodeOptions{});
    v1::JwtConfig jwt_config;
    jwt_config.set_hs256_secret(kSecret);
    jwt_config.set_allow_no_expiry(true);
    config::ApplyDefaults(&jwt_config);
    auto verifier = auth::JwtVerifier::Create(jwt_config);
    if (!verifier.ok()) Fail(absl::StrCat("jwt: ", verifier.status().message()));
    jwt = *std::move(verifier);
    config::ApplyDefaults(&node_config);
  }
  static constexpr char kSecret[] = "fuzz-secret-fuzz-secret-fuzz-secret!";

  transcode::DescriptorRegistry registry;
  std::unique_ptr<transcode::JsonTranscoder> transcoder;
  std::unique_ptr<auth::JwtVerifier> jwt;
  v1::BridgeConfig node_config;
  Metrics metrics;
};

// Quiet logs (still formatted, into /dev/null) and protobuf's complaints about invalid UTF-8.
inline void QuietLogs() {
  static std::FILE* sink = std::fopen("/dev/null", "w");
  log::Configure(log::Level::kDebug, log::Format::kJson, sink != nullptr ? sink : stderr);
  google::protobuf::SetLogHandler(nullptr);
}

// The services every input shares. With SESSION_FUZZ_METRICS set in the environment, the
// bridge's metrics over all inputs run are printed at exit: what a corpus reaches (calls by
// method and status, error frames by category, closes by code, resumes, ...).
inline Services* SharedServices() {
  static Services* services = [] {
    auto* s = new Services();
    if (std::getenv("SESSION_FUZZ_METRICS") != nullptr) {
      static Services* shown = s;
      std::atexit([] { std::fputs(shown->metrics.RenderPrometheus().c_str(), stderr); });
    }
    return s;
  }();
  return services;
}

// ------------------------------------------------------------------------------------------------
// One input: one session and everything the input does to it.
class SessionRun {
 public:
  SessionRun(Services* services, UpstreamControl* control, Input* in)
      : services_(*services), control_(*control), in_(*in) {
    ReadOptions();
  }

  ~SessionRun() {
    // The host lets go of a session only once it ended.
    if (session_ != nullptr && !transport_->released()) {
      session_->OnClosed(/*client_ended=*/true);
      if (!transport_->released()) session_->OnTimer(session::SessionTimer::kGrace);
      if (!transport_->released()) session_->Shutdown();
    }
    if (session_ != nullptr) transport_->queue()->Run(256);
    checker_.Clear();
    if (transport_ != nullptr) transport_->queue()->Close();
    session_.reset();
    control_.Reset();
    if (node_ != nullptr) node_->Stop();
  }

  void Run() {
    Start();
    for (int i = 0; i < kMaxActions && !in_.empty(); ++i) {
      Act();
      if (!lazy_strand_) transport_->queue()->Run(256);
      if (session_->active_calls() > options_.max_calls) {
        Fail(absl::StrCat("main: ", session_->active_calls(), " calls in flight, at most ",
                          options_.max_calls));
      }
    }
  }

 private:
  static constexpr const char* kMethods[] = {"demo.v1.Echo/Say",    "/demo.v1.Echo/Say",
                                             "demo.v1.Echo/Repeat", "demo.v1.Echo/Collect",
                                             "demo.v1.Echo/Chat",   "demo.v1.Echo/Nope",
                                             "demo.v1.Other/Say",   "",
                                             "demo.v1.Echo/Say/x",  "/"};

  void ReadOptions() {
    const uint8_t a = in_.Byte();
    const uint8_t b = in_.Byte();
    const uint8_t c = in_.Byte();
    encoding_ = (a & 1) ? protocol::Encoding::kBinary : protocol::Encoding::kJson;
    options_.batch_max_frames = (a & 2) ? 2 + (a >> 6) : 0;
    options_.session_grace = (a & 4) ? absl::ZeroDuration() : absl::Seconds(30);
    options_.resume_buffer_frames = (a & 8) ? 4 : 1024;
    lazy_strand_ = (a & 16) != 0;
    if (a & 32) {
      options_.message_burst = 8;
      options_.rate_limit_strikes = 3;
    }
    switch (b & 3) {
      case 0:
        break;
      case 1:
        options_.forward_response_metadata = {"x-*"};
        break;
      case 2:
        options_.forward_response_metadata = {"*"};
        break;
      default:
        options_.forward_response_metadata = {"x-a", "x-b-bin", "grpc-status-details-bin"};
        break;
    }
    switch ((b >> 2) & 3) {
      case 0:
        break;
      case 1:
        options_.jwt = services_.jwt.get();
        break;
      case 2:
        options_.jwt = services_.jwt.get();
        options_.auth_required = true;
        break;
      default:
        options_.auth_checker = &checker_;
        break;
    }
    if (b & 16) options_.default_method = (b & 32) ? "demo.v1.Echo/Chat" : "demo.v1.Echo/Say";
    if (b & 64) options_.max_calls = 2;
    if (b & 128) {
      options_.max_outbound_buffer = 512;
      options_.max_outbound_queue = 4096;
    }
    with_node_ = (c & 1) != 0;
    // Upgrade headers the server forwards (forward_request_headers): lower-case header names,
    // values percent-encoded to printable ASCII.
    const size_t forwarded = (c >> 1) & 3;
    for (size_t i = 0; i < forwarded; ++i) {
      static const char* kHeaders[] = {"x-forwarded-for", "x-request-id", "x-tenant", "x-real-ip"};
      std::string value;
      for (char ch : in_.Text()) {
        const auto u = static_cast<unsigned char>(ch);
        if (u >= 0x20 && u <= 0x7e && ch != '%') {
          value.push_back(ch);
        } else {
          static constexpr char kHex[] = "0123456789ABCDEF";
          value.push_back('%');
          value.push_back(kHex[u >> 4]);
          value.push_back(kHex[u & 15]);
        }
      }
      upgrade_metadata_.emplace_back(kHeaders[in_.Pick(4)], value);
    }
    if (c & 8) upgrade_token_ = Token();
  }

  std::unique_ptr<session::Session> NewSession(const session::SessionOptions& options,
                                               FuzzTransport* transport) {
    session::CallServices services;
    services.registry = &services_.registry;
    services.transcoder = services_.transcoder.get();
    services.upstream = control_.upstream();
    auto session = std::make_unique<session::Session>(
        options, transport->encoding(), transport, &clock_, &services_.metrics,
        [this] { return absl::StrCat("s-fuzz-", ++conversations_); }, services, upgrade_metadata_);
    if (!upgrade_token_.empty()) session->set_upgrade_token(upgrade_token_);
    return session;
  }

  void Start() {
    if (with_node_) {
      node_ = std::make_unique<pubsub::Node>(
          services_.node_config, std::make_unique<pubsub::MemoryBroker>(&clock_), nullptr, &clock_);
      if (!node_->Start().ok()) Fail("node did not start");
      options_.node = node_.get();
    }
    transport_ = std::make_unique<FuzzTransport>("main", encoding_, &clock_);
    session_ = NewSession(options_, transport_.get());
    session_->Start();
  }

  void Act() {
    switch (in_.Pick(16)) {
      case 0:
      case 1:
      case 2:
        SendFrame(BuildFrame(0));
        return;
      case 3: {
        Frame frame;
        const size_t n = 1 + in_.Pick(4);
        for (size_t i = 0; i < n; ++i) *frame.mutable_batch()->add_frames() = BuildFrame(1);
        SendFrame(frame);
        return;
      }
      case 4: {
        const std::string data = in_.Bytes();
        const bool binary = in_.Bool();
        Trace(absl::StrCat("> raw ", binary ? "binary " : "text ", Shown(data)));
        if (connected_) session_->OnMessage(data, binary);
        return;
      }
      case 5:
        PassTime();
        return;
      case 6:
      case 7:
        control_.Act(in_, *transport_->queue());
        return;
      case 8:
        transport_->queue()->Run(1 + in_.Pick(8));
        return;
      case 9: {
        static constexpr size_t kSizes[] = {0, 100, 511, 512, 4096, 4097, 1 << 20, 8 << 20};
        const size_t now = kSizes[in_.Pick(8)];
        transport_->set_buffered(now, std::max(now, kSizes[in_.Pick(8)]));
        return;
      }
      case 10: {
        const bool client_ended = in_.Bool();
        Trace(absl::StrCat("connection closed", client_ended ? " by the client" : ", dropped"));
        if (connected_) {
          connected_ = false;
          session_->OnClosed(client_ended);
        }
        return;
      }
      case 11:
        Resume();
        return;
      case 12:
        if (connected_) session_->OnControlPing();
        return;
      case 13:
        switch (in_.Pick(8)) {
          case 0:
            session_->Drain();
            return;
          case 1:
            session_->Shutdown();
            return;
          default:
            Publish();
            return;
        }
      case 14:
        checker_.Answer(in_);
        return;
      default:
        if (std::optional<absl::Duration> next = transport_->NextTimerIn()) {
          clock_.Advance(*next);
          FireDueTimers();
        }
        return;
    }
  }

  // ---- Frames from the client.
  void SendFrame(const Frame& frame) {
    if (!connected_) return;
    const bool wrong = in_.Pick(16) == 0;
    const protocol::Encoding encoding =
        wrong ? (encoding_ == protocol::Encoding::kJson ? protocol::Encoding::kBinary
                                                        : protocol::Encoding::kJson)
              : encoding_;
    const std::string data = Encode(frame, encoding);
    // An error answering a call frame carries its messageId: those sent from here on, up to the
    // last seq once the frame is handled.
    Frame decoded;
    const bool expect = !wrong && session_->state() == session::Session::State::kConfirmed &&
                        protocol::DecodeFrame(encoding, data, &decoded).ok() &&
                        !CallMessageId(decoded).empty();
    if (expect) transport_->Expect(session_->last_seq() + 1, UINT64_MAX, CallMessageId(decoded));
    Trace(absl::StrCat("> ", wrong ? "(other encoding) " : "",
                       frame.ShortDebugString().substr(0, 400)));
    session_->OnMessage(data, encoding == protocol::Encoding::kBinary);
    if (expect) transport_->CloseExpectation(session_->last_seq());
  }

  static std::string CallMessageId(const Frame& frame) {
    return std::string(protocol::MessageIdOf(frame));
  }

  std::string Encode(const Frame& frame, protocol::Encoding encoding) {
    if (encoding == protocol::Encoding::kBinary) {
      std::string data = frame.SerializeAsString();
      if (in_.Pick(8) == 0) data += std::string("\x98\x06\x01", 3);  // unknown field 99
      return data;
    }
    std::string text = protocol::EncodeJsonFrame(frame);
    switch (in_.Pick(12)) {
      case 0:  // an unknown field holding nested JSON
        if (!text.empty()) text.insert(1, R"("zz":{"a":[1,{"b":null,"c":[[]]}],"d":"\u00fc"},)");
        return text;
      case 1:  // the original (snake_case) field names
        return absl::StrReplaceAll(text, {{"\"messageId\"", "\"message_id\""},
                                          {"\"clientId\"", "\"client_id\""},
                                          {"\"lastSeq\"", "\"last_seq\""},
                                          {"\"conversationId\"", "\"conversation_id\""},
                                          {"\"timeoutMs\"", "\"timeout_ms\""}});
      case 2: {  // deep nesting in an unknown field
        const size_t depth = 1 + in_.Byte() * 4;
        if (!text.empty()) {
          text.insert(
              1, absl::StrCat("\"deep\":", std::string(depth, '['), std::string(depth, ']'), ","));
        }
        return text;
      }
      case 3:  // cut short
        return text.substr(0, in_.Pick(text.size() + 1));
      case 4:  // integers as strings
        return QuoteNumbers(text);
      default:
        return text;
    }
  }

  // `text` with the integers of a few fields written as JSON strings, which the protocol takes.
  static std::string QuoteNumbers(const std::string& text) {
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
      size_t hit = std::string::npos;
      size_t key_size = 0;
      for (std::string_view key : {"\"lastSeq\":", "\"timeoutMs\":", "\"offset\":", "\"seq\":"}) {
        const size_t at = text.find(key, i);
        if (at < hit) {
          hit = at;
          key_size = key.size();
        }
      }
      if (hit == std::string::npos) break;
      size_t end = hit + key_size;
      out.append(text, i, end - i);
      size_t digits = end;
      while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
      if (digits > end) {
        absl::StrAppend(&out, "\"", Sv(std::string_view(text).substr(end, digits - end)), "\"");
      }
      i = digits;
    }
    out.append(text, std::min(i, text.size()), std::string::npos);
    return out;
  }

  Frame BuildFrame(int depth) {
    Frame f;
    switch (in_.Pick(20)) {
      case 0: {
        v1::Connect* c = f.mutable_connect();
        c->set_client_id(in_.Text());
        static const char* kVersions[] = {"", "1", "1", "2", "1.0"};
        c->set_version(kVersions[in_.Pick(5)]);
        if (in_.Bool()) c->set_token(Token());
        if (in_.Pick(4) == 0) {
          c->mutable_resume()->set_conversation_id(in_.Bool() ? session_->conversation_id()
                                                              : in_.Text());
          c->mutable_resume()->set_last_seq(in_.Number());
        }
        return f;
      }
      case 1:
      case 2:
      case 3:
      case 4: {
        v1::Message* m = f.mutable_message();
        m->set_message_id(MessageId());
        const size_t method = in_.Pick(12);
        if (method < 10) {
          m->set_method(kMethods[method]);
        } else if (method == 10) {
          m->set_method(in_.Text());
        }
        if (m->method().empty() && in_.Bool()) {
          m->set_content(in_.Text());
        } else {
          m->set_payload(Payload(m->method()));
        }
        const size_t entries = in_.Pick(8) == 0 ? 8 + in_.Byte() : in_.Pick(4);
        for (size_t i = 0; i < entries; ++i) {
          std::string key = MetadataKey();
          std::string value = in_.Text();
          if (key.size() > 4 && key.substr(key.size() - 4) == "-bin" && in_.Bool()) {
            value = absl::Base64Escape(value);
          }
          (*m->mutable_metadata())[key] = std::move(value);
        }
        if (in_.Bool()) m->set_timeout_ms(static_cast<uint32_t>(in_.Number()));
        return f;
      }
      case 5:
      case 6: {
        v1::StreamSend* s = f.mutable_stream_send();
        s->set_message_id(MessageId());
        static const char* kStreaming[] = {"demo.v1.Echo/Chat", "demo.v1.Echo/Collect"};
        s->set_payload(Payload(kStreaming[in_.Pick(2)]));
        return f;
      }
      case 7:
        f.mutable_stream_end()->set_message_id(MessageId());
        if (in_.Pick(4) == 0) f.mutable_stream_end()->mutable_status()->set_code(in_.Byte());
        return f;
      case 8:
        f.mutable_cancel()->set_message_id(MessageId());
        return f;
      case 9: {
        v1::Subscribe* s = f.mutable_subscribe();
        s->set_channel(Channel());
        if (in_.Bool()) s->set_params(in_.Bool() ? "{\"a\":1}" : in_.Text());
        if (in_.Bool()) {
          s->mutable_since()->set_offset(in_.Number());
          s->mutable_since()->set_epoch(in_.Text());
        }
        return f;
      }
      case 10:
        f.mutable_unsubscribe()->set_channel(Channel());
        return f;
      case 11: {
        const uint64_t last = transport_->client_last_seq();
        switch (in_.Pick(4)) {
          case 0:
            f.mutable_ack()->set_seq(last);
            break;
          case 1:
            f.mutable_ack()->set_seq(last > 0 ? last - 1 - in_.Pick(std::min<uint64_t>(last, 8))
                                              : 0);
            break;
          case 2:
            f.mutable_ack()->set_seq(last + 1 + in_.Byte());
            break;
          default:
            f.mutable_ack()->set_seq(in_.Number());
            break;
        }
        return f;
      }
      case 12:
      case 13:
        f.mutable_ping();
        if (in_.Bool()) f.mutable_ping()->mutable_timestamp()->set_seconds(in_.Number() >> 34);
        return f;
      case 14:
        f.mutable_refresh()->set_token(Token());
        return f;
      case 15:
        if (depth == 0) {
          const size_t n = in_.Pick(4);
          for (size_t i = 0; i < n; ++i) *f.mutable_batch()->add_frames() = BuildFrame(1);
        } else {
          f.mutable_batch();  // a batch in a batch
        }
        return f;
      case 16: {  // frames only the server sends
        switch (in_.Pick(4)) {
          case 0:
            f.mutable_pong();
            break;
          case 1:
            f.mutable_response()->set_message_id(MessageId());
            break;
          case 2:
            f.mutable_connect_confirm()->set_client_id(in_.Text());
            break;
          default:
            f.mutable_error()->set_message(in_.Text());
            break;
        }
        return f;
      }
      case 17:
        return f;  // no kind
      default: {
        v1::Message* m = f.mutable_message();  // a call with its payload right
        m->set_message_id(MessageId());
        const size_t method = in_.Pick(5);
        m->set_method(kMethods[method]);
        m->set_payload(Payload(kMethods[method]));
        if (in_.Bool()) {
          std::string key = MetadataKey();
          (*m->mutable_metadata())[key] = in_.Text();
        }
        return f;
      }
    }
  }

  std::string MessageId() {
    static const char* kIds[] = {"m-0", "m-1", "m-2", "m-3", ""};
    const size_t i = in_.Pick(6);
    return i < 5 ? kIds[i] : in_.Text();
  }
  std::string Channel() {
    static const char* kChannels[] = {"news", "chat:1", "", "a b", "ch\xc3\xa4nnel"};
    const size_t i = in_.Pick(6);
    return i < 5 ? kChannels[i] : in_.Text();
  }
  std::string MetadataKey() {
    static const char* kKeys[] = {"x-a",     "x-b",        "authorization", "x-trace-bin",
                                  "x-b-bin", "-bin",       "grpc-timeout",  "x-bridge-client-id",
                                  "te",      "host",       "content-type",  "X-Upper",
                                  "a b",     "",           "x-\xc3\xbc",    ":path",
                                  "x.y_z-0", "user-agent", "traceparent",   "tracestate"};
    const size_t i = in_.Pick(22);
    return i < 20 ? kKeys[i] : in_.Text();
  }

  // A request payload for `method` in the session's encoding: a message of its request type
  // (or another type), or anything.
  std::string Payload(const std::string& method) {
    const bool json = encoding_ == protocol::Encoding::kJson;
    const size_t kind = in_.Pick(8);
    if (kind == 6) return json ? in_.Word() : in_.Bytes(256);
    if (kind == 7) return "";
    std::unique_ptr<google::protobuf::Message> message;
    if (method.find("Repeat") != std::string::npos || kind == 5) {
      auto r = std::make_unique<demo::v1::RepeatRequest>();
      r->set_text(in_.Utf8Text());
      r->set_count(static_cast<int32_t>(in_.Number()));
      if (in_.Bool()) r->mutable_interval()->set_nanos(in_.Byte() * 1000000);
      message = std::move(r);
    } else if (method.find("Chat") != std::string::npos || kind == 4) {
      auto c = std::make_unique<demo::v1::ChatMessage>();
      c->set_user(in_.Utf8Text());
      c->set_text(in_.Utf8Text());
      message = std::move(c);
    } else {
      auto s = std::make_unique<demo::v1::SayRequest>();
      s->set_text(in_.Utf8Text());
      if (in_.Bool()) FillSample(s->mutable_sample());
      message = std::move(s);
    }
    if (!json) return message->SerializeAsString();
    std::string out;
    if (!google::protobuf::util::MessageToJsonString(*message, &out).ok()) return "{}";
    return out;
  }
  void FillSample(demo::v1::Sample* s) {
    s->set_i64(static_cast<int64_t>(in_.Number()));
    s->set_u64(in_.Number());
    s->set_str(in_.Utf8Text());
    s->set_raw(in_.Bytes(64));
    s->set_db(static_cast<double>(in_.Number()) / 3);
    std::string key = in_.Utf8Text();
    (*s->mutable_map_str_str())[key] = in_.Utf8Text();
    demo::v1::Sample::Inner* inner = s->mutable_inner();
    const size_t levels = 1 + in_.Pick(8);
    for (size_t d = 0; d < levels; ++d) {
      inner->set_name(in_.Utf8Text());
      inner = inner->add_children();
    }
    if (in_.Bool()) s->mutable_attrs();
  }

  // A token for connect or refresh: signed with the bridge's secret (a `sub` of any text, an
  // expiry around now or none, methods allowed), signed with another key, or not a token.
  std::string Token() {
    const size_t kind = in_.Pick(4);
    if (kind == 3) return in_.Text();
    jwt_t* jwt = nullptr;
    if (jwt_new(&jwt) != 0) return "";
    const std::string sub = in_.Text();
    if (sub.find('\0') == std::string::npos) jwt_add_grant(jwt, "sub", sub.c_str());
    if (in_.Bool()) {
      const int64_t now = absl::ToUnixSeconds(clock_.Now());
      jwt_add_grant_int(jwt, "exp", static_cast<long>(now - 60 + in_.Byte() * 4));
    }
    if (in_.Pick(4) == 0) jwt_add_grants_json(jwt, R"({"methods":["demo.v1.Echo/Say"]})");
    const std::string key =
        kind == 2 ? std::string("another-secret-another-secret-12345") : Services::kSecret;
    jwt_set_alg(jwt, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<int>(key.size()));
    char* encoded = jwt_encode_str(jwt);
    std::string token = encoded != nullptr ? encoded : "";
    std::free(encoded);
    jwt_free(jwt);
    return token;
  }

  // ---- Time, the connection, the node.
  void PassTime() {
    static const absl::Duration kSteps[] = {
        absl::ZeroDuration(), absl::Milliseconds(1), absl::Milliseconds(5), absl::Milliseconds(100),
        absl::Seconds(1),     absl::Seconds(10),     absl::Seconds(31),     absl::Seconds(61),
        absl::Minutes(5),     absl::Hours(2)};
    const absl::Duration step = kSteps[in_.Pick(10)];
    Trace(absl::StrCat("time passes: ", absl::FormatDuration(step)));
    clock_.Advance(step);
    FireDueTimers();
  }
  void FireDueTimers() {
    for (int i = 0; i < 16; ++i) {
      std::optional<session::SessionTimer> timer = transport_->TakeDueTimer();
      if (!timer.has_value()) return;
      Trace(absl::StrCat("timer ", static_cast<int>(*timer), " fires"));
      session_->OnTimer(*timer);
    }
  }

  void Publish() {
    if (node_ == nullptr) return;
    static const char* kData[] = {"1", "\"\\u00fc\"", "{\"a\":[1,2]}", "null", "\"J\xc3\xbcrgen\""};
    node_->Publish(Channel(), kData[in_.Pick(5)], "", [](absl::StatusOr<pubsub::Position>) {});
  }

  // A new connection sends connect with resume; the host hands it this session when the
  // session can be claimed (Session::TryClaim), as the server's TryResume does.
  void Resume() {
    Frame connect;
    v1::Connect* c = connect.mutable_connect();
    c->set_client_id(in_.Text());
    if (in_.Bool()) c->set_token(Token());
    c->mutable_resume()->set_conversation_id(in_.Pick(4) != 0 ? session_->conversation_id()
                                                              : in_.Text());
    const uint64_t honest = transport_->client_last_seq();
    uint64_t last_seq = honest;
    switch (in_.Pick(6)) {
      case 0:
        last_seq = honest > 0 ? honest - 1 : 0;
        break;
      case 1:
        last_seq = honest + 1;
        break;
      case 2:
        last_seq = in_.Number();
        break;
      default:
        break;
    }
    c->mutable_resume()->set_last_seq(last_seq);
    const protocol::Encoding encoding =
        in_.Pick(8) != 0 ? encoding_
                         : (encoding_ == protocol::Encoding::kJson ? protocol::Encoding::kBinary
                                                                   : protocol::Encoding::kJson);

    FuzzTransport probe_transport("probe", encoding, &clock_);
    FuzzChecker probe_checker;
    session::SessionOptions probe_options = options_;
    if (probe_options.auth_checker != nullptr) probe_options.auth_checker = &probe_checker;
    std::unique_ptr<session::Session> probe = NewSession(probe_options, &probe_transport);
    bool claimed = false;
    uint64_t claimed_seq = 0;
    v1::Connect claimed_connect;
    std::optional<auth::Identity> claimed_identity;
    probe->set_resume_hook([&](const std::string& id, uint64_t seq, const v1::Connect& connect,
                               const std::optional<auth::Identity>& identity) {
      if (transport_->released() || id.empty() || id != session_->conversation_id()) return false;
      if (!session_->TryClaim(encoding, seq, identity.has_value() ? identity->user_id : "")) {
        return false;
      }
      claimed = true;
      claimed_seq = seq;
      claimed_connect = connect;
      claimed_identity = identity;
      return true;
    });
    probe->Start();
    probe->OnMessage(protocol::EncodeFrame(encoding, connect),
                     encoding == protocol::Encoding::kBinary);
    // An external check answers the new connection at once.
    for (int i = 0; i < 4 && probe_checker.pending() > 0; ++i) {
      probe_checker.Answer(in_);
      probe_transport.queue()->Run(16);
    }
    probe_transport.queue()->Run(64);
    Trace(absl::StrCat("resume with lastSeq ", last_seq, claimed ? ": claimed" : ": refused"));
    if (claimed) {
      // The old connection, if the host still had it, is closed; the new one takes its place.
      transport_->NewConnection(claimed_seq + 1);
      connected_ = true;
      session_->Reattach(claimed_connect, std::move(claimed_identity));
    } else {
      probe->OnClosed(/*client_ended=*/true);
    }
    probe_transport.queue()->Run(64);
    probe_checker.Clear();
    probe_transport.queue()->Close();
    probe.reset();
  }

  Services& services_;
  UpstreamControl& control_;
  Input& in_;

  session::SessionOptions options_;
  protocol::Encoding encoding_ = protocol::Encoding::kJson;
  bool lazy_strand_ = false;
  bool with_node_ = false;
  upstream::Metadata upgrade_metadata_;
  std::string upgrade_token_;
  FuzzClock clock_;
  FuzzChecker checker_;
  std::unique_ptr<pubsub::Node> node_;
  std::unique_ptr<FuzzTransport> transport_;
  std::unique_ptr<session::Session> session_;
  bool connected_ = true;
  int conversations_ = 0;
};

}  // namespace bridge::fuzz

// libFuzzer's start-up hook, the same for every session fuzzer. Defined here, not inline, so
// that it is emitted: each fuzzer is a single translation unit that includes this header once.
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  bridge::fuzz::QuietLogs();
  return 0;
}

#endif  // TESTS_FUZZ_SESSION_DRIVER_H_
