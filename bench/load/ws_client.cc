#include "bench/load/ws_client.h"

#include <netinet/in.h>
#include <sys/resource.h>

#include <cctype>
#include <cstring>

#include "bench/load/clock.h"
#include "bridge/common/ws_frame.h"

namespace bench::load {

using asio::ip::tcp;

void AppendMaskedFrame(std::string* out, uint8_t opcode,
                       std::initializer_list<std::string_view> parts, uint32_t key) {
  bridge::ws::Header header;
  header.opcode = opcode;
  for (std::string_view p : parts) header.payload_size += p.size();
  bridge::ws::Mask mask;
  std::memcpy(mask.data(), &key, 4);
  header.mask = mask;
  bridge::ws::AppendHeader(header, out);
  const size_t body = out->size();
  for (std::string_view p : parts) out->append(p.data(), p.size());
  bridge::ws::ApplyMask(mask, out->data() + body, out->size() - body);
}

std::string_view Digits(uint64_t v, char* buf) {
  char* end = buf + 20;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return std::string_view(p, end - p);
}

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

std::string_view LeadingDigits(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  return s.substr(0, n);
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

void SetupTally::Done(bool ok, const std::string& error) {
  std::lock_guard<std::mutex> lock(mu);
  if (!ok) {
    ++failures;
    if (first_error.empty()) first_error = error;
  }
  last_ready = NowNs();
  if (--pending == 0) cv.notify_all();
}

WsClient::WsClient(asio::io_context& io, const WsTarget* target, int index,
                   size_t read_buffer_bytes, std::string_view client_id_prefix)
    : target_(target),
      index_(index),
      client_id_prefix_(client_id_prefix),
      socket_(io),
      key_(0x9e3779b9u ^ static_cast<uint32_t>(index * 2654435761u)) {
  if (key_ == 0) key_ = 1;
  rbuf_.resize(read_buffer_bytes);
}

void WsClient::Close() {
  asio::error_code ec;
  socket_.close(ec);
}

void WsClient::ShrinkReadBuffer(size_t bytes) { shrink_to_ = bytes; }

void WsClient::Fail(const std::string& what) {
  const State was = state_;
  state_ = State::kDead;
  asio::error_code ec;
  socket_.close(ec);
  if (was == State::kDead) return;
  OnFailed(was == State::kReady, what);
}

void WsClient::Connect(const asio::ip::address_v4* source) {
  asio::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec && source != nullptr) {
    // Let connect() pick the port per 4-tuple, so each source address has the whole range.
    int one = 1;
    setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    socket_.bind(tcp::endpoint(*source, 0), ec);
  }
  if (ec) return Fail("socket: " + ec.message());
  socket_.async_connect(target_->to, [this](const asio::error_code& ec) {
    if (ec) return Fail("connect: " + ec.message());
    asio::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    state_ = State::kUpgrading;
    pending_ = "GET " + target_->path + " HTTP/1.1\r\nHost: " + target_->host + ":" +
               std::to_string(target_->port) +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bridge.v1.json\r\n" +
               (target_->offer_deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "") +
               "\r\n";
    Flush();
    ReadMore();
  });
}

void WsClient::ReadMore() {
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

void WsClient::OnRead(size_t n) {
  OnBytesRead(n);
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
    if (target_->offer_deflate) AcceptExtensions(have.substr(0, end));
    rbeg_ += end + 4;
    state_ = State::kConfirming;
    char buf[20];
    Send(kOpText, {"{\"type\":\"connect\",\"clientId\":\"", client_id_prefix_, Digits(index_, buf),
                   "\",\"version\":\"1\"}"});
  }
  // Frames: the server does not mask.
  while (rend_ - rbeg_ >= 2) {
    const size_t avail = rend_ - rbeg_;
    bridge::ws::Header header;
    const bridge::ws::ParseResult parsed =
        bridge::ws::ParseHeader(std::string_view(rbuf_.data() + rbeg_, avail), &header);
    if (parsed == bridge::ws::ParseResult::kTooBig) return Fail("a frame over 64 MiB");
    if (parsed == bridge::ws::ParseResult::kNeedMore) break;
    const uint8_t opcode = header.opcode;
    const bool compressed = (header.rsv & 0x4) != 0;  // RSV1: permessage-deflate
    const size_t h = header.size;
    const uint64_t len = header.payload_size;
    if (avail < h + len) {
      if (h + len > rbuf_.size()) {  // room for the whole frame
        std::memmove(rbuf_.data(), rbuf_.data() + rbeg_, avail);
        rend_ = avail;
        rbeg_ = 0;
        rbuf_.resize(h + len + 4096);
      }
      break;
    }
    std::string_view payload(rbuf_.data() + rbeg_ + h, len);
    if (compressed) {
      if (!Inflate(payload)) return Fail("inflate failed");
      payload = inflated_;
    }
    if (!HandleFrame(opcode, payload)) return;
    rbeg_ += h + len;
  }
  if (rbeg_ == rend_) rbeg_ = rend_ = 0;
  if (shrink_to_ > 0 && rbeg_ == 0 && rend_ <= shrink_to_) {  // after the pass, not inside it
    rbuf_.resize(shrink_to_);
    rbuf_.shrink_to_fit();
    shrink_to_ = 0;
  }
  corked_ = false;
  Flush();
  ReadMore();
}

void WsClient::AcceptExtensions(std::string_view headers) {
  std::string lower(headers);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("\r\nsec-websocket-extensions:");
  if (at == std::string::npos) return;
  const size_t eol = lower.find("\r\n", at + 2);
  const std::string line = lower.substr(at, eol == std::string::npos ? eol : eol - at);
  if (line.find("permessage-deflate") == std::string::npos) return;
  inflater_.reset(new z_stream{});
  if (inflateInit2(inflater_.get(), -15) != Z_OK) {  // raw deflate, any window up to 32 KiB
    delete inflater_.release();
    return;
  }
  inflate_reset_ = line.find("server_no_context_takeover") != std::string::npos;
}

bool WsClient::Inflate(std::string_view compressed) {
  if (inflater_ == nullptr) return false;
  // The sender removed the final empty block's 00 00 ff ff (RFC 7692 7.2.1); put it back.
  static constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
  inflated_.clear();
  z_stream* z = inflater_.get();
  char out[16384];
  for (int part = 0; part < 2; ++part) {
    z->next_in = part == 0 ? reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()))
                           : const_cast<Bytef*>(kTail);
    z->avail_in = part == 0 ? static_cast<uInt>(compressed.size()) : 4;
    do {
      z->next_out = reinterpret_cast<Bytef*>(out);
      z->avail_out = sizeof out;
      const int rc = inflate(z, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR) return false;
      inflated_.append(out, sizeof out - z->avail_out);
      if (rc == Z_BUF_ERROR && z->avail_in == 0) break;
    } while (z->avail_in > 0 || z->avail_out == 0);
  }
  if (inflate_reset_) inflateReset(z);
  return true;
}

bool WsClient::HandleFrame(uint8_t opcode, std::string_view payload) {
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
    OnConfirmed();
    return state_ != State::kDead;
  }
  if (state_ == State::kReady) OnText(payload);
  return state_ != State::kDead;
}

void WsClient::Send(uint8_t opcode, std::initializer_list<std::string_view> parts) {
  AppendMaskedFrame(&pending_, opcode, parts, NextKey());
  if (!corked_) Flush();
}

void WsClient::Flush() {
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

}  // namespace bench::load
