// The WebSocket driver: a minimal RFC 6455 client on standalone Asio, one io_context per
// thread, connections spread over the threads. Client frames are masked (a per-connection
// xorshift key, applied eight bytes at a time); frames a read brings are handled in one pass
// and the sends they cause go out in one write (coalesced), so a busy connection costs a
// read and a write per batch, not per call. Replies are matched by the digits of their
// messageId (call number × slots + slot), found by a substring search: the bridge writes
// "type" first and "messageId" before the payload.
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/load/load.h"
#include "bench/load/proc_stats.h"

namespace bench::load {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

using asio::ip::tcp;

constexpr uint8_t kOpText = 0x1;
constexpr uint8_t kOpClose = 0x8;
constexpr uint8_t kOpPing = 0x9;
constexpr uint8_t kOpPong = 0xA;

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Appends one masked client frame whose payload is the concatenation of `parts`.
void AppendMaskedFrame(std::string* out, uint8_t opcode,
                       std::initializer_list<std::string_view> parts, uint32_t key) {
  size_t len = 0;
  for (std::string_view p : parts) len += p.size();
  char header[14];
  size_t h = 0;
  header[h++] = static_cast<char>(0x80 | opcode);
  if (len < 126) {
    header[h++] = static_cast<char>(0x80 | len);
  } else if (len < 65536) {
    header[h++] = static_cast<char>(0x80 | 126);
    header[h++] = static_cast<char>(len >> 8);
    header[h++] = static_cast<char>(len & 0xff);
  } else {
    header[h++] = static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) header[h++] = static_cast<char>((len >> (8 * i)) & 0xff);
  }
  std::memcpy(header + h, &key, 4);
  h += 4;
  out->append(header, h);
  const size_t body = out->size();
  for (std::string_view p : parts) out->append(p.data(), p.size());
  char* data = out->data() + body;
  const uint64_t mask = static_cast<uint64_t>(key) | (static_cast<uint64_t>(key) << 32);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= mask;
    std::memcpy(data + i, &w, 8);
  }
  const auto* k = reinterpret_cast<const uint8_t*>(&key);
  for (; i < len; ++i) data[i] = static_cast<char>(data[i] ^ k[i & 3]);
}

// Digits of `v` into `buf` (at least 20 bytes); returns the view.
std::string_view Digits(uint64_t v, char* buf) {
  char* end = buf + 20;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return std::string_view(p, end - p);
}

// The string value after `key` ("\"type\":\"") in `text`, up to the next quote.
std::string_view FieldAfter(std::string_view text, std::string_view key) {
  const size_t at = text.find(key);
  if (at == std::string_view::npos) return {};
  const size_t from = at + key.size();
  const size_t end = text.find('"', from);
  if (end == std::string_view::npos) return {};
  return text.substr(from, end - from);
}

uint64_t ParseU64(std::string_view s, bool* ok) {
  uint64_t v = 0;
  *ok = !s.empty();
  for (char c : s) {
    if (c < '0' || c > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  int pending_setup = 0;  // connections not yet confirmed or failed
  uint64_t failures = 0;
  std::string first_error;
  int64_t first_start = 0;
  int64_t last_ready = 0;

  void SetupDone(bool ok, const std::string& error) {
    std::lock_guard<std::mutex> lock(mu);
    if (!ok) {
      ++failures;
      if (first_error.empty()) first_error = error;
    }
    last_ready = NowNs();
    if (--pending_setup == 0) cv.notify_all();
  }
};

class Worker;

class Conn {
 public:
  Conn(Worker* worker, int index);
  void Connect(const tcp::endpoint& to, const asio::ip::address_v4* source);
  void Go();  // start the load (closed loop: fill the slots)
  void Pace(int64_t now);
  int64_t next_due() const { return next_due_; }
  void set_next_due(int64_t t) { next_due_ = t; }
  void Close() {
    asio::error_code ec;
    socket_.close(ec);
  }

 private:
  enum class State { kConnecting, kUpgrading, kConfirming, kReady, kDead };

  void Fail(const std::string& what);
  void ReadMore();
  void OnRead(size_t n);
  bool HandleFrame(uint8_t opcode, std::string_view payload);
  void HandleReply(std::string_view text);
  void SendCall(int slot, int64_t scheduled);
  void SlotDone(int slot, bool ok);
  void Send(uint8_t opcode, std::initializer_list<std::string_view> parts);
  void Flush();
  uint32_t NextKey() {
    key_ ^= key_ << 13;
    key_ ^= key_ >> 17;
    key_ ^= key_ << 5;
    return key_;
  }

  Worker* const worker_;
  const int index_;
  tcp::socket socket_;
  State state_ = State::kConnecting;
  std::vector<char> rbuf_;
  size_t rbeg_ = 0, rend_ = 0;
  std::string active_, pending_;
  bool writing_ = false;
  bool corked_ = false;
  uint32_t key_;
  // Calls: slot i's send time (scheduled, in the open loop), free slots, and waiting sends.
  std::vector<int64_t> slot_sent_;
  std::vector<int> free_;
  std::deque<int64_t> backlog_;
  int64_t next_due_ = 0;
  uint64_t calls_ = 0;
};

class Worker {
 public:
  Worker(const LoadSpec& spec, Shared* shared, bool idle)
      : spec_(spec), shared_(shared), idle_(idle), io_(1), pace_(io_), stop_(io_) {
    // The request text: payload bytes of 'x'.
    const std::string text(spec.payload, 'x');
    switch (spec.kind) {
      case CallKind::kSay:
        prefix_ = "{\"type\":\"message\",\"messageId\":\"";
        suffix_ = "\",\"method\":\"demo.v1.Echo/Say\",\"payload\":{\"text\":\"" + text + "\"}}";
        break;
      case CallKind::kRepeat:
        prefix_ = "{\"type\":\"message\",\"messageId\":\"";
        suffix_ = "\",\"method\":\"demo.v1.Echo/Repeat\",\"payload\":{\"text\":\"" + text +
                  "\",\"count\":" + std::to_string(spec.repeat_count) + "}}";
        break;
      case CallKind::kChat:
        prefix_ = "{\"type\":\"stream_send\",\"messageId\":\"";
        suffix_ = "\",\"payload\":{\"user\":\"load\",\"text\":\"" + text + "\"}}";
        break;
    }
  }

  const LoadSpec& spec() const { return spec_; }
  asio::io_context& io() { return io_; }
  bool idle() const { return idle_; }
  const std::string& prefix() const { return prefix_; }
  const std::string& suffix() const { return suffix_; }
  bool sending() const { return sending_; }
  bool open_loop() const { return spec_.rate > 0; }
  int64_t pace_interval() const { return pace_interval_; }

  void Add(std::unique_ptr<Conn> c) { conns_.push_back(std::move(c)); }
  size_t size() const { return conns_.size(); }

  // Idle mode: starts the first `concurrency` handshakes; each confirmed one starts the next.
  void StartIdle(const tcp::endpoint& to, int concurrency, int per_source, int first_index) {
    to_ = to;
    per_source_ = per_source;
    first_index_ = first_index;
    for (int i = 0; i < concurrency && next_ < conns_.size(); ++i) StartNext();
  }
  void StartNext() {
    if (next_ >= conns_.size()) return;
    const int global = first_index_ + static_cast<int>(next_);
    if (per_source_ <= 0) return conns_[next_++]->Connect(to_, nullptr);
    const asio::ip::address_v4 source(0x7f000002u + static_cast<uint32_t>(global / per_source_));
    conns_[next_++]->Connect(to_, &source);
  }

  void SetupDone(bool ok, const std::string& error) {
    shared_->SetupDone(ok, error);
    if (idle_) StartNext();
  }

  // Load mode: sends from `start`, measures completions in [window_start, window_end), stops
  // at window_end.
  void Go(int64_t start, int64_t window_start, int64_t window_end) {
    window_start_ = window_start;
    window_end_ = window_end;
    sending_ = true;
    if (open_loop()) {
      pace_interval_ = static_cast<int64_t>(1e9 * spec_.connections / spec_.rate);
      for (size_t i = 0; i < conns_.size(); ++i) {
        conns_[i]->set_next_due(start + pace_interval_ * static_cast<int64_t>(i) /
                                            static_cast<int64_t>(conns_.size()));
      }
      OnPace();
    } else {
      for (auto& c : conns_) c->Go();
    }
    stop_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(window_end)));
    stop_.async_wait([this](const asio::error_code&) {
      sending_ = false;
      for (auto& c : conns_) c->Close();
      io_.stop();
    });
  }
  void StopIdle() {
    asio::post(io_, [this] {
      for (auto& c : conns_) c->Close();
      io_.stop();
    });
  }

  void OnPace() {
    if (!sending_) return;
    const int64_t now = NowNs();
    int64_t next = INT64_MAX;
    for (auto& c : conns_) {
      c->Pace(now);
      next = std::min(next, c->next_due());
    }
    pace_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)));
    pace_.async_wait([this](const asio::error_code& ec) {
      if (!ec) OnPace();
    });
  }

  void Completed(int64_t sent, bool ok) {
    const int64_t now = NowNs();
    if (now < window_start_ || now >= window_end_) return;
    if (ok) {
      ++result_.round_trips;
      result_.latency.Record(now - sent);
    } else {
      ++result_.errors;
    }
  }
  void Reply() {
    const int64_t now = NowNs();
    if (now >= window_start_ && now < window_end_) ++result_.replies;
  }
  void Late() { ++result_.late; }
  void Error(const std::string& what) {
    const int64_t now = NowNs();
    // From the first send on, warm-up included: an error there (a refused call) can stall the
    // window without an error of its own.
    if (window_end_ != 0 && now < window_end_) ++result_.errors;
    if (result_.first_error.empty()) result_.first_error = what;
  }

  LoadResult& result() { return result_; }

  void Run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    asio::error_code ec;
    io_.run(ec);
  }

 private:
  const LoadSpec& spec_;
  Shared* const shared_;
  const bool idle_;
  asio::io_context io_;  // before conns_: connections go first
  asio::steady_timer pace_, stop_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::string prefix_, suffix_;
  bool sending_ = false;
  int64_t window_start_ = 0, window_end_ = 0;
  int64_t pace_interval_ = 0;
  LoadResult result_;
  tcp::endpoint to_;
  int per_source_ = 0;
  int first_index_ = 0;
  size_t next_ = 0;
};

Conn::Conn(Worker* worker, int index)
    : worker_(worker),
      index_(index),
      socket_(worker->io()),
      key_(0x9e3779b9u ^ static_cast<uint32_t>(index * 2654435761u)) {
  if (key_ == 0) key_ = 1;
  rbuf_.resize(worker->idle() ? 1024 : 65536);
  const int k = worker->spec().inflight;
  slot_sent_.assign(k, 0);
  for (int i = k - 1; i >= 0; --i) free_.push_back(i);
}

void Conn::Fail(const std::string& what) {
  const State was = state_;
  state_ = State::kDead;
  asio::error_code ec;
  socket_.close(ec);
  if (was == State::kDead) return;
  if (was != State::kReady) {
    worker_->SetupDone(false, what);
  } else if (worker_->sending()) {
    worker_->Error(what);
  }
}

void Conn::Connect(const tcp::endpoint& to, const asio::ip::address_v4* source) {
  asio::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec && source != nullptr) {
    // Let connect() pick the port per 4-tuple, so each source address has the whole range.
    int one = 1;
    setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket_.bind(tcp::endpoint(*source, 0), ec);
  }
  if (ec) return Fail("socket: " + ec.message());
  socket_.async_connect(to, [this](const asio::error_code& ec) {
    if (ec) return Fail("connect: " + ec.message());
    asio::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    state_ = State::kUpgrading;
    const LoadSpec& spec = worker_->spec();
    pending_ = "GET " + spec.path + " HTTP/1.1\r\nHost: " + spec.host + ":" +
               std::to_string(spec.port) +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bridge.v1.json\r\n\r\n";
    Flush();
    ReadMore();
  });
}

void Conn::ReadMore() {
  if (rend_ == rbuf_.size()) {
    if (rbeg_ > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, rend_ - rbeg_);
      rend_ -= rbeg_;
      rbeg_ = 0;
    } else {
      rbuf_.resize(rbuf_.size() * 2);
    }
  }
  socket_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                          [this](const asio::error_code& ec, size_t n) {
                            if (ec) return Fail("read: " + ec.message());
                            OnRead(n);
                          });
}

void Conn::OnRead(size_t n) {
  rend_ += n;
  corked_ = true;
  if (state_ == State::kUpgrading) {
    std::string_view have(rbuf_.data() + rbeg_, rend_ - rbeg_);
    const size_t end = have.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      corked_ = false;
      return ReadMore();
    }
    if (have.substr(0, 12) != "HTTP/1.1 101") {
      return Fail("upgrade refused: " + std::string(have.substr(0, have.find('\r'))));
    }
    rbeg_ += end + 4;
    state_ = State::kConfirming;
    char buf[20];
    Send(kOpText, {"{\"type\":\"connect\",\"clientId\":\"load-", Digits(index_, buf),
                   "\",\"version\":\"1\"}"});
  }
  // Frames: the server does not mask.
  while (rend_ - rbeg_ >= 2) {
    const auto* p = reinterpret_cast<const uint8_t*>(rbuf_.data() + rbeg_);
    const size_t avail = rend_ - rbeg_;
    const uint8_t opcode = p[0] & 0x0f;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = (static_cast<uint64_t>(p[2]) << 8) | p[3];
      h = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      h = 10;
    }
    if (avail < h + len) {
      if (h + len > rbuf_.size()) {  // room for the whole frame
        std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, avail);
        rend_ = avail;
        rbeg_ = 0;
        rbuf_.resize(h + len + 4096);
      }
      break;
    }
    if (!HandleFrame(opcode, std::string_view(rbuf_.data() + rbeg_ + h, len))) return;
    rbeg_ += h + len;
  }
  if (rbeg_ == rend_) rbeg_ = rend_ = 0;
  corked_ = false;
  Flush();
  ReadMore();
}

bool Conn::HandleFrame(uint8_t opcode, std::string_view payload) {
  if (opcode == kOpPing) {
    Send(kOpPong, {payload});
    return true;
  }
  if (opcode == kOpClose) {
    Fail("closed by the bridge");
    return false;
  }
  if (opcode != kOpText) return true;
  if (state_ == State::kConfirming) {
    if (FieldAfter(payload, "\"type\":\"") != "connect_confirm") {
      Fail("expected connect_confirm, got " + std::string(payload.substr(0, 200)));
      return false;
    }
    state_ = State::kReady;
    if (worker_->idle()) {
      rbuf_.resize(256);
      rbuf_.shrink_to_fit();
    }
    worker_->SetupDone(true, "");
    return true;
  }
  if (state_ == State::kReady) HandleReply(payload);
  return true;
}

void Conn::Go() {
  if (state_ != State::kReady) return;
  if (worker_->spec().kind == CallKind::kChat) {
    // One bidi call per slot, its messageId the slot number.
    char buf[20];
    for (size_t slot = 0; slot < slot_sent_.size(); ++slot) {
      Send(kOpText, {"{\"type\":\"message\",\"messageId\":\"", Digits(slot, buf),
                     "\",\"method\":\"demo.v1.Echo/Chat\"}"});
    }
  }
  if (worker_->open_loop()) return;
  corked_ = true;
  while (!free_.empty()) {
    const int slot = free_.back();
    free_.pop_back();
    SendCall(slot, NowNs());
  }
  corked_ = false;
  Flush();
}

void Conn::Pace(int64_t now) {
  if (state_ != State::kReady) {
    next_due_ = INT64_MAX;
    return;
  }
  corked_ = true;
  while (next_due_ <= now) {
    if (!free_.empty()) {
      const int slot = free_.back();
      free_.pop_back();
      SendCall(slot, next_due_);
    } else {
      backlog_.push_back(next_due_);
      worker_->Late();
    }
    next_due_ += worker_->pace_interval();
  }
  corked_ = false;
  Flush();
}

void Conn::SendCall(int slot, int64_t scheduled) {
  slot_sent_[slot] = scheduled;
  char buf[20];
  const uint64_t id = worker_->spec().kind == CallKind::kChat
                          ? static_cast<uint64_t>(slot)
                          : calls_++ * slot_sent_.size() + static_cast<uint64_t>(slot);
  Send(kOpText, {worker_->prefix(), Digits(id, buf), worker_->suffix()});
}

void Conn::SlotDone(int slot, bool ok) {
  worker_->Completed(slot_sent_[slot], ok);
  if (!worker_->sending()) return;
  if (!worker_->open_loop()) return SendCall(slot, NowNs());
  if (!backlog_.empty()) {
    const int64_t scheduled = backlog_.front();
    backlog_.pop_front();
    return SendCall(slot, scheduled);
  }
  free_.push_back(slot);
}

void Conn::HandleReply(std::string_view text) {
  const std::string_view type = FieldAfter(text.substr(0, 40), "\"type\":\"");
  bool ok = false;
  const uint64_t id = ParseU64(FieldAfter(text, "\"messageId\":\""), &ok);
  if (!ok) {
    if (type == "error") worker_->Error("session error: " + std::string(text.substr(0, 300)));
    return;  // pong and the like
  }
  const int slot = static_cast<int>(id % slot_sent_.size());
  const CallKind kind = worker_->spec().kind;
  if (type == "response") {
    worker_->Reply();
    SlotDone(slot, true);
  } else if (type == "stream_message") {
    worker_->Reply();
    if (kind == CallKind::kChat) SlotDone(slot, true);
  } else if (type == "stream_end") {
    const size_t code = text.find("\"code\":");
    const bool clean = code == std::string_view::npos || text.substr(code + 7, 1) == "0";
    if (!clean) worker_->Error("stream_end: " + std::string(text.substr(0, 300)));
    if (kind == CallKind::kRepeat) SlotDone(slot, clean);
  } else if (type == "error") {
    worker_->Error("call error: " + std::string(text.substr(0, 300)));
    if (kind != CallKind::kChat) SlotDone(slot, false);
  }
}

void Conn::Send(uint8_t opcode, std::initializer_list<std::string_view> parts) {
  AppendMaskedFrame(&pending_, opcode, parts, NextKey());
  if (!corked_) Flush();
}

void Conn::Flush() {
  if (writing_ || pending_.empty() || state_ == State::kDead) return;
  writing_ = true;
  active_.swap(pending_);
  asio::async_write(socket_, asio::buffer(active_), [this](const asio::error_code& ec, size_t) {
    writing_ = false;
    if (ec) return Fail("write: " + ec.message());
    active_.clear();
    Flush();
  });
}

void RaiseFdLimit(uint64_t want) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_max < want) rl.rlim_max = want;  // root may raise the hard limit
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

struct Workers {
  Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  tcp::endpoint to;

  bool Build(const LoadSpec& spec, bool idle, std::string* error) {
    RaiseFdLimit(static_cast<uint64_t>(spec.connections) + 1024);
    asio::error_code ec;
    const auto address = asio::ip::make_address(spec.host, ec);
    if (ec) {
      *error = "bad host " + spec.host;
      return false;
    }
    to = tcp::endpoint(address, spec.port);
    const int threads = std::max(1, std::min(spec.threads, spec.connections));
    for (int t = 0; t < threads; ++t) {
      workers.push_back(std::make_unique<Worker>(spec, &shared, idle));
    }
    for (int i = 0; i < spec.connections; ++i) {
      Worker* w = workers[i % threads].get();
      w->Add(std::make_unique<Conn>(w, i));
    }
    shared.pending_setup = spec.connections;
    return true;
  }
  void StartThreads() {
    for (auto& w : workers) threads.emplace_back([wp = w.get()] { wp->Run(); });
  }
  // Waits until every connection is confirmed or failed.
  bool AwaitSetup(double timeout_s) {
    std::unique_lock<std::mutex> lock(shared.mu);
    return shared.cv.wait_for(lock, std::chrono::duration<double>(timeout_s),
                              [&] { return shared.pending_setup == 0; });
  }
  void Join() {
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

void SleepUntil(int64_t t) {
  const int64_t now = NowNs();
  if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
}

}  // namespace

bool RunWebSocketLoad(const LoadSpec& spec, const WindowHook& on_window, LoadResult* result) {
  Workers ws;
  if (!ws.Build(spec, /*idle=*/false, &result->first_error)) return false;
  // Connect all, through each worker's loop.
  for (size_t t = 0; t < ws.workers.size(); ++t) {
    Worker* wp = ws.workers[t].get();
    asio::post(wp->io(), [wp, to = ws.to] { wp->StartIdle(to, 1 << 30, 0, 0); });
  }
  ws.StartThreads();
  const bool setup = ws.AwaitSetup(30);
  result->connect_failures = ws.shared.failures;
  if (!setup || ws.shared.failures > 0) {
    result->first_error = setup ? ws.shared.first_error : "connection setup timed out";
    for (auto& w : ws.workers) w->StopIdle();
    ws.Join();
    return false;
  }
  const int64_t start = NowNs() + 5000000;  // 5 ms from now, for every worker alike
  const int64_t window_start = start + static_cast<int64_t>(spec.warmup_s * 1e9);
  const int64_t window_end = window_start + static_cast<int64_t>(spec.duration_s * 1e9);
  for (auto& w : ws.workers) {
    Worker* wp = w.get();
    asio::post(wp->io(), [wp, start, window_start, window_end] {
      SleepUntil(start);
      wp->Go(start, window_start, window_end);
    });
  }
  SleepUntil(window_start);
  const double cpu0 = ThreadCpuSeconds();
  if (on_window) on_window(true);
  SleepUntil(window_end);
  if (on_window) on_window(false);
  const double cpu1 = ThreadCpuSeconds();
  ws.Join();
  for (auto& w : ws.workers) {
    const LoadResult& r = w->result();
    result->round_trips += r.round_trips;
    result->replies += r.replies;
    result->errors += r.errors;
    result->late += r.late;
    result->latency.Merge(r.latency);
    if (result->first_error.empty()) result->first_error = r.first_error;
  }
  result->seconds = (window_end - window_start) / 1e9;
  result->client_cpu_s = cpu1 - cpu0;
  return true;
}

bool RunIdleConnections(const LoadSpec& spec, int setup_concurrency, int per_source, double hold_s,
                        int bridge_pid, IdleResult* result) {
  Workers ws;
  if (!ws.Build(spec, /*idle=*/true, &result->first_error)) return false;
  result->rss_before = ProcessRssBytes(bridge_pid);
  ws.shared.first_start = NowNs();
  // Worker t owns connections t, t + threads, ...: give each its own source-address block by
  // numbering its connections contiguously.
  const int threads = static_cast<int>(ws.workers.size());
  int first = 0;
  for (int t = 0; t < threads; ++t) {
    Worker* wp = ws.workers[t].get();
    const int concurrency = std::max(1, setup_concurrency);
    asio::post(wp->io(), [wp, to = ws.to, concurrency, per_source, first] {
      wp->StartIdle(to, concurrency, per_source, first);
    });
    first += static_cast<int>(wp->size());
  }
  ws.StartThreads();
  ws.AwaitSetup(600);
  result->failures = ws.shared.failures;
  result->established = spec.connections - ws.shared.failures;
  result->setup_seconds = (ws.shared.last_ready - ws.shared.first_start) / 1e9;
  result->first_error = ws.shared.first_error;
  // Let the bridge settle (allocator caches, the last frames), then sample its memory.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  result->rss_after = ProcessRssBytes(bridge_pid);
  if (hold_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold_s));
  for (auto& w : ws.workers) w->StopIdle();
  ws.Join();
  return true;
}

}  // namespace bench::load
