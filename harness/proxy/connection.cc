#include "harness/proxy/connection.h"

#include <algorithm>
#include <array>
#include <deque>
#include <utility>

#include "harness/proxy/stream_decoder.h"
#include "harness/proxy/toxic.h"
#include "harness/proxy/toxic_kinds.h"

namespace harness::proxy {

using asio::ip::tcp;

// One direction: reads its source, cuts what it reads into chunks, passes them through its
// toxic stages, and writes them to its destination, one write in flight.
class Connection::Link final : public StageHost {
 public:
  Link(Connection& connection, Direction direction, tcp::socket& source, tcp::socket& destination)
      : connection_(connection),
        direction_(direction),
        source_(source),
        destination_(destination),
        decoder_(direction) {}

  // StageHost.
  void Emit(ToxicStage* from, Chunk chunk) override;
  void Release(size_t credit) override;
  Direction direction() const override { return direction_; }
  const asio::any_io_executor& executor() const override { return connection_.executor_; }
  Rng& rng() override { return connection_.rng_; }
  void CloseConnection() override { connection_.CloseNow(); }
  void ResetConnection() override { connection_.ResetNow(); }
  void SendCloseToClient(WsFrame close) override {
    connection_.SendCloseToClient(std::move(close));
  }

  // WebSocket toxics go after the other WebSocket toxics, transport toxics at the end.
  void Add(const std::string& name, bool websocket, std::shared_ptr<ToxicStage> stage);
  // Flushes the stage named `name` into the rest of the chain, then removes it.
  void Remove(const std::string& name);
  void DetachAll();
  void NotifyWebSocketOpen();

  void StartReading() { ReadNext(); }
  // Into the first stage (or the destination when there is none).
  void Push(Chunk chunk);
  // From now on what the source sends is dropped; the upstream link still watches for the
  // client's close frame.
  void Discard();
  // Queued chunks are dropped and nothing more is written.
  void StopWriting();
  // The source has ended and everything read from it has been written or dropped.
  bool Finished() const { return source_ended_ && pending_ == 0 && out_.empty() && !writing_; }

 private:
  struct Entry {
    std::string name;
    bool websocket;
    std::shared_ptr<ToxicStage> stage;
  };

  void ReadNext();
  void OnRead(const std::error_code& error, size_t size);
  void Accept(Chunk chunk);
  void Write(Chunk chunk);
  void WriteNext();
  void OnWritten(const std::error_code& error);
  void AfterWrite(Chunk::Then then);

  Connection& connection_;
  Direction direction_;
  tcp::socket& source_;
  tcp::socket& destination_;
  StreamDecoder decoder_;
  std::vector<Entry> entries_;
  std::array<char, 16 * 1024> read_buffer_;
  std::deque<Chunk> out_;  // the front is being written while writing_
  size_t pending_ = 0;     // credit of the chunks read and not yet written or dropped
  bool writing_ = false;
  bool writes_stopped_ = false;
  bool read_paused_ = false;
  bool source_ended_ = false;
  bool discarding_ = false;
};

void Connection::Link::Add(const std::string& name, bool websocket,
                           std::shared_ptr<ToxicStage> stage) {
  auto at = entries_.end();
  if (websocket) {
    at =
        std::find_if(entries_.begin(), entries_.end(), [](const Entry& e) { return !e.websocket; });
  }
  entries_.insert(at, Entry{name, websocket, stage});
  stage->Attach(this);
}

void Connection::Link::Remove(const std::string& name) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.name == name; });
  if (it == entries_.end()) return;
  std::shared_ptr<ToxicStage> stage = it->stage;
  stage->Flush();
  // Flushing may have changed the chain (or closed the connection): find the stage again.
  it = std::find_if(entries_.begin(), entries_.end(),
                    [&](const Entry& e) { return e.stage == stage; });
  if (it != entries_.end()) entries_.erase(it);
  stage->Detach();
}

void Connection::Link::DetachAll() {
  std::vector<Entry> entries = std::move(entries_);
  entries_.clear();
  for (Entry& entry : entries) entry.stage->Detach();
}

void Connection::Link::NotifyWebSocketOpen() {
  std::vector<Entry> entries = entries_;
  for (Entry& entry : entries) entry.stage->OnWebSocketOpen();
}

void Connection::Link::Emit(ToxicStage* from, Chunk chunk) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.stage.get() == from; });
  if (it == entries_.end()) {
    Release(chunk.credit);
  } else if (++it == entries_.end()) {
    Write(std::move(chunk));
  } else {
    std::shared_ptr<ToxicStage> next = it->stage;
    next->OnChunk(std::move(chunk));
  }
}

void Connection::Link::Push(Chunk chunk) {
  if (entries_.empty()) {
    Write(std::move(chunk));
    return;
  }
  std::shared_ptr<ToxicStage> first = entries_.front().stage;
  first->OnChunk(std::move(chunk));
}

void Connection::Link::Release(size_t credit) {
  pending_ -= std::min(credit, pending_);
  if (connection_.closed_) return;
  if (read_paused_ && pending_ <= kMaxPendingBytes / 2) {
    read_paused_ = false;
    ReadNext();
  }
  connection_.MaybeFinish();
}

void Connection::Link::Discard() {
  discarding_ = true;
  pending_ = 0;
  if (read_paused_ && !connection_.closed_) {
    read_paused_ = false;
    ReadNext();
  }
}

void Connection::Link::StopWriting() {
  writes_stopped_ = true;
  while (out_.size() > (writing_ ? 1 : 0)) out_.pop_back();
}

void Connection::Link::ReadNext() {
  source_.async_read_some(asio::buffer(read_buffer_),
                          [self = connection_.shared_from_this(), this](
                              const std::error_code& error, size_t size) { OnRead(error, size); });
}

void Connection::Link::OnRead(const std::error_code& error, size_t size) {
  if (connection_.closed_) return;
  if (error) {
    // End of stream or an error: what the decoder holds goes on as it is, then a half-close.
    source_ended_ = true;
    Chunk rest;
    rest.bytes = decoder_.TakeRest();
    if (!rest.bytes.empty()) Accept(std::move(rest));
    if (!connection_.closed_ && !discarding_) Push(Signal(Chunk::Then::kHalfClose));
    if (!connection_.closed_) connection_.MaybeFinish();
    return;
  }
  decoder_.Feed(std::string_view(read_buffer_.data(), size));
  Chunk chunk;
  while (!connection_.closed_ && decoder_.Next(&chunk)) Accept(std::move(chunk));
  if (connection_.closed_) return;
  if (pending_ > kMaxPendingBytes) {
    read_paused_ = true;
    return;
  }
  ReadNext();
}

void Connection::Link::Accept(Chunk chunk) {
  if (discarding_) {
    if (direction_ == Direction::kUpstream && chunk.frame && chunk.frame->opcode == kWsClose) {
      connection_.CloseNow();  // the client answered the proxy's close
    }
    return;
  }
  chunk.credit = chunk.bytes.size();
  pending_ += chunk.credit;
  Push(std::move(chunk));
}

void Connection::Link::Write(Chunk chunk) {
  if (writes_stopped_ || connection_.closed_) {
    Release(chunk.credit);
    return;
  }
  out_.push_back(std::move(chunk));
  WriteNext();
}

void Connection::Link::WriteNext() {
  while (!writing_ && !out_.empty() && !connection_.closed_) {
    if (out_.front().bytes.empty()) {
      Chunk chunk = std::move(out_.front());
      out_.pop_front();
      AfterWrite(chunk.then);
      Release(chunk.credit);
      continue;
    }
    writing_ = true;
    asio::async_write(destination_, asio::buffer(out_.front().bytes),
                      [self = connection_.shared_from_this(), this](const std::error_code& error,
                                                                    size_t) { OnWritten(error); });
  }
}

void Connection::Link::OnWritten(const std::error_code& error) {
  writing_ = false;
  if (connection_.closed_) return;
  Chunk chunk = std::move(out_.front());
  out_.pop_front();
  if (error) {
    // A destination the proxy closed on purpose fails its last write; any other failure ends
    // the connection.
    if (!writes_stopped_) connection_.CloseNow();
    return;
  }
  AfterWrite(chunk.then);
  Release(chunk.credit);
  WriteNext();
}

void Connection::Link::AfterWrite(Chunk::Then then) {
  if (connection_.closed_) return;
  switch (then) {
    case Chunk::Then::kNothing:
      return;
    case Chunk::Then::kWebSocketOpen:
      connection_.OnWebSocketOpen();
      return;
    case Chunk::Then::kHalfClose: {
      std::error_code ignored;
      destination_.shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    case Chunk::Then::kCloseConnection:
      connection_.CloseNow();
      return;
    case Chunk::Then::kCloseSentToClient:
      connection_.OnCloseSentToClient();
      return;
  }
}

Connection::Connection(tcp::socket client, std::string upstream_host, uint16_t upstream_port,
                       uint64_t seed)
    : executor_(client.get_executor()),
      client_(std::move(client)),
      server_(executor_),
      resolver_(executor_),
      close_timer_(executor_),
      upstream_host_(std::move(upstream_host)),
      upstream_port_(upstream_port),
      rng_(seed),
      upstream_(std::make_unique<Link>(*this, Direction::kUpstream, client_, server_)),
      downstream_(std::make_unique<Link>(*this, Direction::kDownstream, server_, client_)) {}

Connection::~Connection() = default;

void Connection::Start(std::vector<v1::Toxic> toxics) {
  asio::post(executor_, [self = shared_from_this(), toxics = std::move(toxics)] {
    for (const v1::Toxic& toxic : toxics) self->AttachToxic(toxic);
    if (self->closed_) return;
    // An address needs no lookup (and no resolver thread, which asio starts for a lookup).
    std::error_code not_an_address;
    const asio::ip::address address = asio::ip::make_address(self->upstream_host_, not_an_address);
    if (!not_an_address) {
      self->server_.async_connect(
          tcp::endpoint(address, self->upstream_port_),
          [self](const std::error_code& error) { self->OnUpstreamConnected(error); });
      return;
    }
    self->resolver_.async_resolve(
        self->upstream_host_, std::to_string(self->upstream_port_),
        [self](const std::error_code& error, const tcp::resolver::results_type& endpoints) {
          if (error) {
            self->OnUpstreamConnected(error);
            return;
          }
          asio::async_connect(self->server_, endpoints,
                              [self](const std::error_code& error, const tcp::endpoint&) {
                                self->OnUpstreamConnected(error);
                              });
        });
  });
}

void Connection::OnUpstreamConnected(const std::error_code& error) {
  if (closed_) return;
  if (error) {
    CloseNow();  // the client sees its connection closed, as with Toxiproxy
    return;
  }
  std::error_code ignored;
  client_.set_option(tcp::no_delay(true), ignored);
  server_.set_option(tcp::no_delay(true), ignored);
  upstream_->StartReading();
  downstream_->StartReading();
}

void Connection::AddToxic(v1::Toxic toxic, std::function<void()> done) {
  asio::post(executor_, [self = shared_from_this(), toxic = std::move(toxic), done] {
    self->AttachToxic(toxic);
    done();
  });
}

void Connection::RemoveToxic(std::string name, std::function<void()> done) {
  asio::post(executor_, [self = shared_from_this(), name = std::move(name), done] {
    if (!self->closed_) {
      self->upstream_->Remove(name);
      self->downstream_->Remove(name);
    }
    done();
  });
}

void Connection::Close() {
  asio::post(executor_, [self = shared_from_this()] { self->CloseNow(); });
}

void Connection::AttachToxic(const v1::Toxic& toxic) {
  // The draw comes first, so a connection's sequence of draws does not depend on its state.
  if (!ToxicApplies(toxic.toxicity(), rng_) || closed_ || closing_websocket_) return;
  Link& link = toxic.stream() == "upstream" ? *upstream_ : *downstream_;
  std::shared_ptr<ToxicStage> stage = MakeToxicStage(toxic);
  link.Add(toxic.name(), IsWebSocketToxic(toxic), stage);
  if (websocket_open_ && !closed_) stage->OnWebSocketOpen();
}

void Connection::OnWebSocketOpen() {
  websocket_open_ = true;
  upstream_->NotifyWebSocketOpen();
  downstream_->NotifyWebSocketOpen();
}

void Connection::SendCloseToClient(WsFrame close) {
  if (closed_ || closing_websocket_) return;
  Chunk chunk;
  chunk.bytes = EncodeFrame(close);
  chunk.frame = std::move(close);
  chunk.then = Chunk::Then::kCloseSentToClient;
  downstream_->Discard();
  downstream_->Push(std::move(chunk));
}

void Connection::OnCloseSentToClient() {
  if (closed_ || closing_websocket_) return;
  closing_websocket_ = true;
  // Nothing more goes either way: the server's connection is closed, and the client's is
  // read only for its answering close frame.
  for (Link* link : {upstream_.get(), downstream_.get()}) {
    link->StopWriting();
    link->DetachAll();
    link->Discard();
  }
  std::error_code ignored;
  server_.shutdown(tcp::socket::shutdown_both, ignored);
  server_.close(ignored);
  close_timer_.expires_after(kCloseReplyTimeout);
  close_timer_.async_wait([self = shared_from_this()](const std::error_code& error) {
    if (!error) self->CloseNow();
  });
}

void Connection::ResetNow() {
  if (closed_) return;
  std::error_code ignored;
  for (tcp::socket* socket : {&client_, &server_}) {
    if (socket->is_open()) socket->set_option(asio::socket_base::linger(true, 0), ignored);
  }
  CloseNow();
}

void Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  upstream_->DetachAll();
  downstream_->DetachAll();
  std::error_code ignored;
  client_.close(ignored);
  server_.close(ignored);
  resolver_.cancel();
  close_timer_.cancel();
}

void Connection::MaybeFinish() {
  if (!closed_ && upstream_->Finished() && downstream_->Finished()) CloseNow();
}

}  // namespace harness::proxy
