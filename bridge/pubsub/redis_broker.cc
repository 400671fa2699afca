#include "bridge/pubsub/redis_broker.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/log.h"
#include "bridge/common/random_id.h"
#include "bridge/common/strings.h"

namespace bridge::pubsub {
namespace {

// Commands taken from the queue at once, as one pipeline.
constexpr size_t kMaxBatch = 512;

// The Lua scripts; their index is a Command's `script`.
enum ScriptIndex {
  kPublishScript,
  kHistoryScript,
  kAddEntryScript,
  kRemoveEntryScript,
  kListEntriesScript,
  kScriptCount
};

// Values are netstrings, "<length>:<bytes>", one after another; the same in Lua (f).
//
// KEYS: meta, history. ARGV: topic, channel, data, exclude_session, history size, history ttl
// ms (0: none), meta ttl ms, now unix ms, a new epoch should the stream have none.
// Returns {offset, epoch}.
constexpr const char* kPublishLua = R"lua(
local offset = redis.call('hincrby', KEYS[1], 'offset', 1)
local epoch = redis.call('hget', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[9]
  redis.call('hset', KEYS[1], 'epoch', epoch)
end
redis.call('pexpire', KEYS[1], ARGV[7])
local offset_text = string.format('%d', offset)
local size = tonumber(ARGV[5])
if size > 0 then
  redis.call('rpush', KEYS[2], offset_text .. ' ' .. ARGV[8] .. ' ' .. ARGV[3])
  redis.call('ltrim', KEYS[2], -size, -1)
  if tonumber(ARGV[6]) > 0 then
    redis.call('pexpire', KEYS[2], ARGV[6])
  else
    redis.call('pexpire', KEYS[2], ARGV[7])
  end
else
  redis.call('del', KEYS[2])
end
local function f(s) return string.len(s) .. ':' .. s end
redis.call('publish', ARGV[1],
           f(ARGV[2]) .. f(offset_text) .. f(epoch) .. f(ARGV[3]) .. f(ARGV[4]))
return {offset, epoch}
)lua";

// KEYS: meta, history. ARGV: since offset (-1: none), a new epoch should the stream have none,
// meta ttl ms. Returns {offset, epoch, entries after `since` still held, oldest first}.
constexpr const char* kHistoryLua = R"lua(
local offset = tonumber(redis.call('hget', KEYS[1], 'offset') or '0')
local epoch = redis.call('hget', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[2]
  redis.call('hset', KEYS[1], 'epoch', epoch)
  redis.call('pexpire', KEYS[1], ARGV[3])
end
local since = tonumber(ARGV[1])
local entries = {}
if since >= 0 and since < offset then
  entries = redis.call('lrange', KEYS[2], since - offset, -1)
end
return {string.format('%d', offset), epoch, entries}
)lua";

// A presence or user-connection entry. KEYS: hash, expiry sorted set. ARGV: session id,
// encoded client, expires at unix ms, key ttl ms, now unix ms, "1" to drop expired entries and
// answer how many are left (else 0).
constexpr const char* kAddEntryLua = R"lua(
redis.call('zadd', KEYS[2], ARGV[3], ARGV[1])
redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
redis.call('pexpire', KEYS[1], ARGV[4])
redis.call('pexpire', KEYS[2], ARGV[4])
if ARGV[6] ~= '1' then return 0 end
local gone = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[5])
for _, s in ipairs(gone) do redis.call('hdel', KEYS[1], s) end
if #gone > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[5]) end
return redis.call('hlen', KEYS[1])
)lua";

// KEYS: hash, expiry sorted set. ARGV: session id.
constexpr const char* kRemoveEntryLua = R"lua(
redis.call('zrem', KEYS[2], ARGV[1])
redis.call('hdel', KEYS[1], ARGV[1])
return 0
)lua";

// KEYS: hash, expiry sorted set. ARGV: now unix ms. Drops expired entries, returns the rest.
constexpr const char* kListEntriesLua = R"lua(
local gone = redis.call('zrangebyscore', KEYS[2], '-inf', ARGV[1])
for _, s in ipairs(gone) do redis.call('hdel', KEYS[1], s) end
if #gone > 0 then redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1]) end
return redis.call('hvals', KEYS[1])
)lua";

constexpr const char* kScripts[kScriptCount] = {kPublishLua, kHistoryLua, kAddEntryLua,
                                                kRemoveEntryLua, kListEntriesLua};

absl::Status Stopped() { return absl::UnavailableError("the Redis broker is stopped"); }
absl::Status NotConnected() { return absl::UnavailableError("not connected to Redis"); }

int64_t Millis(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))));
}

void AppendField(std::string& out, std::string_view value) {
  absl::StrAppend(&out, value.size(), ":", Sv(value));
}

// Takes the next netstring off `in`.
bool ReadField(std::string_view& in, std::string_view* out) {
  const size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 19) return false;
  uint64_t length = 0;
  if (!absl::SimpleAtoi(Sv(in.substr(0, colon)), &length)) return false;
  if (in.size() - colon - 1 < length) return false;
  *out = in.substr(colon + 1, length);
  in.remove_prefix(colon + 1 + length);
  return true;
}

bool ReadField(std::string_view& in, std::string* out) {
  std::string_view v;
  if (!ReadField(in, &v)) return false;
  out->assign(v.data(), v.size());
  return true;
}

template <typename Int>
bool ReadNumber(std::string_view& in, Int* out) {
  std::string_view v;
  return ReadField(in, &v) && absl::SimpleAtoi(Sv(v), out);
}

std::string EncodeClient(const ClientInfo& c) {
  std::string out;
  AppendField(out, c.session_id);
  AppendField(out, c.user_id);
  AppendField(out, c.client_id);
  AppendField(out, absl::StrCat(c.connected_at_unix_ms));
  return out;
}

bool DecodeClient(std::string_view in, ClientInfo* c) {
  return ReadField(in, &c->session_id) && ReadField(in, &c->user_id) &&
         ReadField(in, &c->client_id) && ReadNumber(in, &c->connected_at_unix_ms) && in.empty();
}

std::string_view ReplyText(const redisReply* r) {
  return r != nullptr && r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view();
}

bool IsText(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

absl::Status BadReply(std::string_view what) {
  return absl::InternalError(absl::StrCat("unexpected reply from Redis to ", Sv(what)));
}

// Waits until `fd` (if >= 0) or `wake_fd` is readable; the wake fd is drained. Bit 1: fd,
// bit 2: wake fd; 0: timeout.
// The I/O threads wait on sockets with poll(2), which sleeps in real time, so their deadlines
// are readings of the monotonic clock, never of options_.clock: a clock a test moves by hand
// would make poll wait for ever or not at all. options_.clock is for what the broker stores
// (history timestamps, presence expiry).
absl::Duration IoNow() { return RealClock::Get()->Monotonic(); }

int WaitReadable(int fd, int wake_fd, absl::Duration timeout) {
  pollfd fds[2] = {{wake_fd, POLLIN, 0}, {fd, POLLIN, 0}};
  const int timeout_ms = timeout == absl::InfiniteDuration()
                             ? -1
                             : static_cast<int>(std::min<int64_t>(
                                   Millis(std::max(timeout, absl::ZeroDuration())), 1 << 30));
  int n;
  do {
    n = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  int ready = 0;
  if (fds[0].revents != 0) {
    uint64_t count;
    while (read(wake_fd, &count, sizeof(count)) > 0) {
    }
    ready |= 2;
  }
  if (fd >= 0 && fds[1].revents != 0) ready |= 1;
  return ready;
}

}  // namespace

// One synchronous hiredis connection, used by one thread.
class RedisBroker::Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(const std::string& host, int port,
                                                          const RedisBrokerOptions& options) {
    redisContext* ctx =
        port == 0
            ? redisConnectUnixWithTimeout(host.c_str(), absl::ToTimeval(options.connect_timeout))
            : redisConnectWithTimeout(host.c_str(), port, absl::ToTimeval(options.connect_timeout));
    if (ctx == nullptr) return absl::UnavailableError("connecting to Redis: out of memory");
    auto conn = std::unique_ptr<Connection>(new Connection(ctx));
    if (ctx->err != 0) {
      return absl::UnavailableError(
          absl::StrCat("connecting to Redis at ", options.address, ": ", ctx->errstr));
    }
    // Bounds a write to a Redis that stopped reading; reads wait in poll.
    if (redisSetTimeout(ctx, absl::ToTimeval(options.command_timeout)) != REDIS_OK) {
      return absl::UnavailableError(absl::StrCat("connecting to Redis: ", ctx->errstr));
    }
    return conn;
  }
  ~Connection() { redisFree(ctx_); }

  int fd() const { return ctx_->fd; }

  void Append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }

  absl::Status Flush() {
    int done = 0;
    while (done == 0) {
      if (redisBufferWrite(ctx_, &done) != REDIS_OK) return Lost();
    }
    return absl::OkStatus();
  }

  // One read of what has arrived (call when readable).
  absl::Status Read() { return redisBufferRead(ctx_) == REDIS_OK ? absl::OkStatus() : Lost(); }

  // A complete reply if one has arrived, else null.
  absl::StatusOr<redisReply*> TakeReply() {
    void* reply = nullptr;
    if (redisGetReplyFromReader(ctx_, &reply) != REDIS_OK) return Lost();
    return static_cast<redisReply*>(reply);
  }

  std::string shas[kScriptCount];

 private:
  explicit Connection(redisContext* ctx) : ctx_(ctx) {}
  absl::Status Lost() {
    return absl::UnavailableError(
        absl::StrCat("lost the connection to Redis: ", ctx_->err != 0 ? ctx_->errstr : "closed"));
  }
  redisContext* ctx_;
};

RedisBrokerOptions RedisBrokerOptions::FromConfig(const v1::BrokerConfig& config) {
  RedisBrokerOptions options;
  options.address = config.redis_address();
  options.prefix = config.redis_prefix();
  options.presence_ttl = absl::Milliseconds(config.presence_ttl_ms());
  return options;
}

RedisBroker::RedisBroker(RedisBrokerOptions options) : options_(std::move(options)) {
  if (options_.node_id.empty()) options_.node_id = RandomHex(8);
  if (options_.clock == nullptr) options_.clock = RealClock::Get();
  const std::string& a = options_.address;
  if (a.rfind("unix:", 0) == 0) {
    host_ = a.substr(5);
    if (host_.empty()) address_status_ = absl::InvalidArgumentError("redis address: no path");
  } else {
    const size_t colon = a.rfind(':');
    if (colon == std::string::npos || !absl::SimpleAtoi(Sv(a).substr(colon + 1), &port_) ||
        port_ <= 0 || port_ > 65535 || colon == 0) {
      address_status_ = absl::InvalidArgumentError(
          absl::StrCat("redis address \"", a, "\": want HOST:PORT or unix:/path"));
      port_ = 0;
    } else {
      host_ = a.substr(0, colon);
      if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') {
        host_ = host_.substr(1, host_.size() - 2);
      }
    }
  }
  command_wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  subscriber_wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

RedisBroker::~RedisBroker() {
  Stop();
  close(command_wake_fd_);
  close(subscriber_wake_fd_);
}

absl::Status RedisBroker::Start(BrokerEvents* events) {
  if (!address_status_.ok()) return address_status_;
  if (command_wake_fd_ < 0 || subscriber_wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  {
    absl::MutexLock lock(&mu_);
    if (started_ || stopping_) return absl::FailedPreconditionError("the broker was started");
    started_ = true;
    events_ = events;
  }
  command_thread_ = std::thread([this] { CommandLoop(); });
  subscriber_thread_ = std::thread([this] { SubscriberLoop(); });
  if (!WaitConnected(options_.connect_timeout)) {
    Stop();
    return absl::UnavailableError(absl::StrCat("no answer from Redis at ", options_.address,
                                               " within ",
                                               absl::FormatDuration(options_.connect_timeout)));
  }
  return absl::OkStatus();
}

void RedisBroker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake(command_wake_fd_);
  Wake(subscriber_wake_fd_);
  absl::MutexLock stop_lock(&stop_mu_);
  if (command_thread_.joinable()) command_thread_.join();
  if (subscriber_thread_.joinable()) subscriber_thread_.join();
  // Whatever was queued before Start, or by nobody's thread.
  FailQueued(Stopped());
  std::vector<std::pair<StatusDone, absl::Status>> ready;
  {
    absl::MutexLock lock(&mu_);
    events_ = nullptr;
    ready.swap(sub_ready_);
  }
  for (auto& [done, status] : ready) done(Stopped());
}

void RedisBroker::Wake(int fd) {
  const uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0) {
    // The counter is full: a wake-up is pending anyway.
  }
}

RedisBroker::Stats RedisBroker::stats() {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.connected = ConnectedLocked();
  return s;
}

bool RedisBroker::ConnectedLocked() const {
  if (!commands_up_ || !subscriber_up_) return false;
  for (const auto& [topic, t] : topics_) {
    if (t.listens > 0 && !t.confirmed) return false;
  }
  return true;
}

bool RedisBroker::AwaitStats(const std::function<bool(const Stats&)>& condition,
                             absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Stats s = stats_;
    s.connected = ConnectedLocked();
    return condition(s);
  };
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || holds(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return !stopping_ && holds();
}

std::string RedisBroker::Key(std::string_view kind, std::string_view name) const {
  return absl::StrCat(options_.prefix, ".", Sv(kind), ".", Sv(name));
}

std::string RedisBroker::Topic(const std::string& channel) const { return Key("ch", channel); }

std::string RedisBroker::ControlTopic() const { return absl::StrCat(options_.prefix, ".control"); }

// ---- Command thread ----------------------------------------------------------------------

void RedisBroker::Send(std::vector<std::string> args, int script, ReplyHandler handler) {
  absl::Status refused;
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = Stopped();
    } else if (queue_.size() + in_flight_ >= options_.max_pending_commands) {
      refused = absl::ResourceExhaustedError("too many Redis commands pending");
    } else {
      queue_.push_back(Command{std::move(args), script, false, std::move(handler)});
      wake = queue_.size() == 1;
    }
  }
  if (wake) {
    Wake(command_wake_fd_);
    return;
  }
  if (!refused.ok()) handler(refused, nullptr);
}

void RedisBroker::FailQueued(absl::Status status) {
  std::deque<Command> failed;
  {
    absl::MutexLock lock(&mu_);
    failed.swap(queue_);
  }
  for (Command& c : failed) c.handler(status, nullptr);
}

absl::Duration RedisBroker::NextBackoff(absl::Duration& backoff) {
  const absl::Duration wait = backoff;
  backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  return wait;
}

bool RedisBroker::RunBatch(Connection& conn, std::vector<Command>& batch) {
  for (Command& c : batch) {
    if (c.script < 0) {
      conn.Append(c.args);
      continue;
    }
    std::vector<std::string> args;
    args.reserve(c.args.size() + 2);
    args.push_back(c.eval ? "EVAL" : "EVALSHA");
    args.push_back(c.eval ? kScripts[c.script] : conn.shas[c.script]);
    args.insert(args.end(), c.args.begin(), c.args.end());
    conn.Append(args);
  }
  size_t next = 0;
  auto fail_rest = [&](const absl::Status& status) {
    for (; next < batch.size(); ++next) batch[next].handler(status, nullptr);
  };
  absl::Status status = conn.Flush();
  if (!status.ok()) {
    fail_rest(status);
    return false;
  }
  std::vector<Command> retry;  // scripts Redis did not know (SCRIPT FLUSH): sent again as EVAL
  absl::Duration deadline = IoNow() + options_.command_timeout;
  while (next < batch.size()) {
    absl::StatusOr<redisReply*> reply = conn.TakeReply();
    if (!reply.ok()) {
      fail_rest(reply.status());
      return false;
    }
    if (*reply != nullptr) {
      redisReply* r = *reply;
      Command& c = batch[next++];
      if (r->type == REDIS_REPLY_ERROR) {
        const std::string_view text = ReplyText(r);
        if (c.script >= 0 && !c.eval && text.rfind("NOSCRIPT", 0) == 0) {
          c.eval = true;
          retry.push_back(std::move(c));
        } else {
          c.handler(absl::InternalError(absl::StrCat("Redis: ", Sv(text))), nullptr);
        }
      } else {
        c.handler(absl::OkStatus(), r);
      }
      freeReplyObject(r);
      deadline = IoNow() + options_.command_timeout;
      continue;
    }
    const int ready = WaitReadable(conn.fd(), command_wake_fd_, deadline - IoNow());
    if (ready == 0) {
      fail_rest(absl::UnavailableError(absl::StrCat(
          "no reply from Redis within ", absl::FormatDuration(options_.command_timeout))));
      for (Command& c : retry) c.handler(NotConnected(), nullptr);
      return false;
    }
    if ((ready & 2) != 0) {
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        stopping = stopping_;
      }
      if (stopping) {
        fail_rest(Stopped());
        for (Command& c : retry) c.handler(Stopped(), nullptr);
        return false;
      }
    }
    if ((ready & 1) != 0) {
      status = conn.Read();
      if (!status.ok()) {
        fail_rest(status);
        for (Command& c : retry) c.handler(status, nullptr);
        return false;
      }
    }
  }
  return retry.empty() || RunBatch(conn, retry);
}

void RedisBroker::QueueRefreshLocked() {
  const int64_t now_ms = absl::ToUnixMillis(options_.clock->Now());
  const std::string expires = absl::StrCat(now_ms + Millis(options_.presence_ttl));
  const std::string key_ttl = absl::StrCat(EntryKeyTtlMs());
  const std::string now = absl::StrCat(now_ms);
  auto queue = [&](const char* kind, const char* exp_kind,
                   const std::map<std::string, std::map<std::string, std::string>>& entries) {
    for (const auto& [name, sessions] : entries) {
      for (const auto& [session, encoded] : sessions) {
        queue_.push_back(Command{{"2", Key(kind, name), Key(exp_kind, name), session, encoded,
                                  expires, key_ttl, now, "0"},
                                 kAddEntryScript,
                                 false,
                                 [](absl::Status, const redisReply*) {}});
      }
    }
  };
  queue("presence", "presence_exp", own_presence_);
  queue("user", "user_exp", own_users_);
  ++stats_.refreshes;
}

int64_t RedisBroker::EntryKeyTtlMs() const {
  // The keys themselves go a minute after their last entry would have expired.
  return Millis(options_.presence_ttl * 2 + absl::Minutes(1));
}

void RedisBroker::CommandLoop() {
  absl::Duration backoff = options_.reconnect_backoff_min;
  std::unique_ptr<Connection> conn;
  absl::Duration next_attempt = -absl::InfiniteDuration();
  absl::Duration next_refresh = absl::InfiniteDuration();
  const absl::Duration refresh_every = options_.presence_ttl / 3;
  while (true) {
    if (conn == nullptr && IoNow() >= next_attempt) {
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
      }
      absl::StatusOr<std::unique_ptr<Connection>> opened = Connection::Open(host_, port_, options_);
      absl::Status status = opened.status();
      if (opened.ok()) {
        std::vector<Command> setup;
        setup.push_back(Command{{"CLIENT", "SETNAME", absl::StrCat("bridge-", options_.node_id)},
                                -1,
                                false,
                                [](absl::Status, const redisReply*) {}});
        for (int i = 0; i < kScriptCount; ++i) {
          std::string* sha = &(*opened)->shas[i];
          setup.push_back(Command{{"SCRIPT", "LOAD", kScripts[i]},
                                  -1,
                                  false,
                                  [sha, &status](absl::Status s, const redisReply* r) {
                                    if (s.ok() && !IsText(r)) s = BadReply("SCRIPT LOAD");
                                    if (s.ok()) {
                                      *sha = std::string(ReplyText(r));
                                    } else if (status.ok()) {
                                      status = s;
                                    }
                                  }});
        }
        if (!RunBatch(**opened, setup) && status.ok()) status = NotConnected();
      }
      if (status.ok()) {
        conn = std::move(*opened);
        backoff = options_.reconnect_backoff_min;
        absl::MutexLock lock(&mu_);
        // This node's entries again first (Redis may be a new one), before anything sent once
        // the connection shows as up.
        QueueRefreshLocked();
        next_refresh = IoNow() + refresh_every;
        commands_up_ = true;
        ++stats_.connects;
      } else {
        // The first failure in a row is told; the retries are not.
        if (backoff == options_.reconnect_backoff_min) {
          log::Warn("redis_connect_failed").Str("error", std::string(status.message()));
        }
        next_attempt = IoNow() + NextBackoff(backoff);
        FailQueued(status.code() == absl::StatusCode::kUnavailable ? status : NotConnected());
      }
    }

    std::vector<Command> batch;
    std::deque<Command> failed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      if (conn == nullptr) {
        failed.swap(queue_);
      } else {
        if (IoNow() >= next_refresh) {
          QueueRefreshLocked();
          next_refresh = IoNow() + refresh_every;
        }
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        in_flight_ = batch.size();
      }
    }
    for (Command& c : failed) c.handler(NotConnected(), nullptr);
    bool lost = false;
    if (!batch.empty()) {
      lost = !RunBatch(*conn, batch);
    } else {
      // Idle: wait for work (Send wakes us), the next refresh or connection attempt, or the
      // connection closing under us.
      const absl::Duration until = conn != nullptr ? next_refresh : next_attempt;
      const int ready =
          WaitReadable(conn != nullptr ? conn->fd() : -1, command_wake_fd_, until - IoNow());
      if ((ready & 1) != 0) {
        // Nothing is due from Redis on an idle connection: an end, or data to drop.
        lost = !conn->Read().ok();
        while (!lost) {
          absl::StatusOr<redisReply*> stray = conn->TakeReply();
          if (!stray.ok()) lost = true;
          if (!stray.ok() || *stray == nullptr) break;
          freeReplyObject(*stray);
        }
      }
    }
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = 0;
      stopping = stopping_;
      if (lost) {
        conn.reset();
        commands_up_ = false;
        ++stats_.disconnects;
        next_attempt = IoNow() + NextBackoff(backoff);
      }
    }
    if (lost && !stopping) log::Warn("redis_connection_lost").Str("connection", "commands");
  }
  {
    absl::MutexLock lock(&mu_);
    commands_up_ = false;
  }
  FailQueued(Stopped());
}

// ---- Subscriber thread -------------------------------------------------------------------

void RedisBroker::FailListenWaitersLocked(absl::Status status, std::vector<StatusDone>& out) {
  for (auto it = topics_.begin(); it != topics_.end();) {
    TopicState& t = it->second;
    for (auto& batch : t.waiting) {
      for (StatusDone& d : batch) out.push_back(std::move(d));
    }
    t.waiting.clear();
    t.confirmed = false;
    if (t.listens <= 0) {
      topics_.erase(it++);
    } else {
      ++it;
    }
  }
}

void RedisBroker::SubscriberLoop() {
  absl::Duration backoff = options_.reconnect_backoff_min;
  BrokerEvents* events;
  {
    absl::MutexLock lock(&mu_);
    events = events_;
  }
  auto run_ready = [this] {
    std::vector<std::pair<StatusDone, absl::Status>> ready;
    {
      absl::MutexLock lock(&mu_);
      ready.swap(sub_ready_);
    }
    for (auto& [done, status] : ready) done(status);
  };
  // Waits out the next reconnect delay, still answering what is posted meanwhile, unless the
  // broker stops first.
  auto wait_out_backoff = [&] {
    const absl::Duration until = IoNow() + NextBackoff(backoff);
    while (IoNow() < until) {
      WaitReadable(-1, subscriber_wake_fd_, until - IoNow());
      run_ready();
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
  };
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    absl::StatusOr<std::unique_ptr<Connection>> opened = Connection::Open(host_, port_, options_);
    if (!opened.ok()) {
      if (backoff == options_.reconnect_backoff_min) {
        log::Warn("redis_connect_failed").Str("error", std::string(opened.status().message()));
      }
      wait_out_backoff();
      continue;
    }
    Connection& conn = **opened;
    // Every channel listened to, then the control topic: its confirmation, the last, means all
    // are subscribed.
    std::vector<std::string> subscribe = {"SUBSCRIBE"};
    {
      absl::MutexLock lock(&mu_);
      subscriber_connected_ = true;
      sub_ops_.clear();
      for (auto& [topic, t] : topics_) {
        if (t.listens <= 0) continue;
        subscribe.push_back(topic);
        t.waiting.emplace_back();
        t.confirmed = false;
      }
      ++stats_.connects;
      ++subscriber_connects_;
    }
    subscribe.push_back(ControlTopic());
    conn.Append(subscribe);
    absl::Status status = conn.Flush();
    bool ping_sent = false;
    while (status.ok()) {
      std::vector<std::pair<bool, std::string>> ops;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) break;
        ops.swap(sub_ops_);
      }
      run_ready();
      // Consecutive operations of one kind go as one command, in order.
      for (size_t i = 0; i < ops.size();) {
        std::vector<std::string> command = {ops[i].first ? "SUBSCRIBE" : "UNSUBSCRIBE"};
        size_t j = i;
        for (; j < ops.size() && ops[j].first == ops[i].first; ++j)
          command.push_back(ops[j].second);
        conn.Append(command);
        i = j;
      }
      if (!ops.empty()) {
        status = conn.Flush();
        if (!status.ok()) break;
      }
      // Replies already read first; then wait for more, or for work from other threads.
      while (status.ok()) {
        absl::StatusOr<redisReply*> reply = conn.TakeReply();
        if (!reply.ok()) {
          status = reply.status();
        } else if (*reply != nullptr) {
          ping_sent = false;
          HandleSubscriberReply(*reply, events);
          freeReplyObject(*reply);
        } else {
          break;
        }
      }
      if (!status.ok()) break;
      const int ready = WaitReadable(conn.fd(), subscriber_wake_fd_, options_.command_timeout);
      if (ready == 0) {
        // Quiet for a while: is Redis still there?
        if (ping_sent) {
          status = absl::UnavailableError("Redis stopped answering the subscriber connection");
          break;
        }
        conn.Append({"PING"});
        status = conn.Flush();
        ping_sent = true;
      }
      if ((ready & 1) != 0) {
        status = conn.Read();
        if (status.ok()) ping_sent = false;
      }
    }
    std::vector<StatusDone> failed;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      subscriber_connected_ = false;
      subscriber_up_ = false;
      sub_ops_.clear();
      ++stats_.disconnects;
      FailListenWaitersLocked(stopping ? Stopped() : NotConnected(), failed);
    }
    opened->reset();
    for (StatusDone& d : failed) d(stopping ? Stopped() : NotConnected());
    if (stopping) break;
    log::Warn("redis_connection_lost")
        .Str("connection", "subscriber")
        .Str("error", std::string(status.message()));
    backoff = options_.reconnect_backoff_min;
    wait_out_backoff();
  }
  std::vector<StatusDone> failed;
  {
    absl::MutexLock lock(&mu_);
    FailListenWaitersLocked(Stopped(), failed);
  }
  for (StatusDone& d : failed) d(Stopped());
  run_ready();
}

void RedisBroker::HandleSubscriberReply(const redisReply* r, BrokerEvents* events) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !IsText(r->element[0])) return;
  const std::string_view kind = ReplyText(r->element[0]);
  const std::string topic(ReplyText(r->element[1]));
  if (kind == "message" && r->elements >= 3) {
    const std::string_view payload = ReplyText(r->element[2]);
    if (topic == ControlTopic()) {
      DeliverControl(payload, events);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      auto it = topics_.find(topic);
      if (it == topics_.end() || it->second.listens <= 0) return;
    }
    Publication p;
    std::string_view in = payload;
    if (!ReadField(in, &p.channel) || !ReadNumber(in, &p.offset) || !ReadField(in, &p.epoch) ||
        !ReadField(in, &p.data) || !ReadField(in, &p.exclude_session)) {
      log::Warn("redis_bad_message").Str("topic", topic);
      return;
    }
    if (events != nullptr) events->OnPublication(p);
    return;
  }
  if (kind != "subscribe" && kind != "unsubscribe") return;
  std::vector<StatusDone> confirmed;
  bool resumed = false;
  {
    absl::MutexLock lock(&mu_);
    if (topic == ControlTopic()) {
      if (kind == "subscribe") {
        subscriber_up_ = true;
        resumed = subscriber_connects_ > 1;  // every topic subscribed again after an outage
      }
    }
  }
  if (topic == ControlTopic()) {
    if (resumed && events != nullptr) events->OnDeliveryResumed();
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    TopicState& t = it->second;
    if (kind == "subscribe" && !t.waiting.empty()) {
      confirmed = std::move(t.waiting.front());
      t.waiting.pop_front();
      if (t.waiting.empty() && t.listens > 0) t.confirmed = true;
    }
    if (t.listens <= 0 && t.waiting.empty()) topics_.erase(it);
  }
  for (StatusDone& d : confirmed) d(absl::OkStatus());
}

void RedisBroker::DeliverControl(std::string_view payload, BrokerEvents* events) {
  std::string_view in = payload;
  std::string_view kind;
  int target = 0;
  bool ok = ReadField(in, &kind) && ReadNumber(in, &target) && target >= 0 &&
            target <= static_cast<int>(Target::kAll);
  if (ok && kind == "push") {
    Push push;
    push.target = static_cast<Target>(target);
    ok = ReadField(in, &push.id) && ReadField(in, &push.data);
    if (ok && events != nullptr) events->OnPush(push);
  } else if (ok && kind == "disconnect") {
    DisconnectOrder order;
    order.target = static_cast<Target>(target);
    ok = ReadField(in, &order.id) && ReadNumber(in, &order.code) && ReadField(in, &order.reason);
    if (ok && events != nullptr) events->OnDisconnect(order);
  } else {
    ok = false;
  }
  if (!ok) log::Warn("redis_bad_message").Str("topic", ControlTopic());
}

// ---- Broker ------------------------------------------------------------------------------

void RedisBroker::Publish(Publication publication, const HistoryOptions& history,
                          Done<Position> done) {
  const std::string& channel = publication.channel;
  const int64_t meta_ttl = Millis(std::max(options_.meta_ttl, history.ttl));
  std::vector<std::string> args = {
      "2",
      Key("meta", channel),
      Key("history", channel),
      Topic(channel),
      channel,
      std::move(publication.data),
      std::move(publication.exclude_session),
      absl::StrCat(history.size),
      absl::StrCat(history.ttl > absl::ZeroDuration() ? Millis(history.ttl) : 0),
      absl::StrCat(meta_ttl),
      absl::StrCat(absl::ToUnixMillis(options_.clock->Now())),
      RandomHex(8)};
  Send(std::move(args), kPublishScript,
       [done = std::move(done)](absl::Status status, const redisReply* r) {
         if (!status.ok()) return done(status);
         if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
             r->element[0]->type != REDIS_REPLY_INTEGER || !IsText(r->element[1])) {
           return done(BadReply("publish"));
         }
         done(Position{static_cast<uint64_t>(r->element[0]->integer),
                       std::string(ReplyText(r->element[1]))});
       });
}

void RedisBroker::Listen(const std::string& channel, StatusDone done) {
  const std::string topic = Topic(channel);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      TopicState& t = topics_[topic];
      t.channel = channel;
      ++t.listens;
      if (!subscriber_connected_) {
        // Still counted: the subscription comes with the connection.
        sub_ready_.emplace_back(std::move(done), NotConnected());
      } else if (t.confirmed) {
        sub_ready_.emplace_back(std::move(done), absl::OkStatus());
      } else if (t.listens > 1 && !t.waiting.empty()) {
        t.waiting.back().push_back(std::move(done));
      } else {
        sub_ops_.emplace_back(true, topic);
        t.waiting.emplace_back();
        t.waiting.back().push_back(std::move(done));
      }
      done = nullptr;
    }
  }
  if (done != nullptr) {
    done(Stopped());
    return;
  }
  Wake(subscriber_wake_fd_);
}

void RedisBroker::Unlisten(const std::string& channel) {
  const std::string topic = Topic(channel);
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end() || it->second.listens <= 0) return;
    TopicState& t = it->second;
    if (--t.listens > 0) return;
    t.confirmed = false;
    if (subscriber_connected_) sub_ops_.emplace_back(false, topic);
    if (t.waiting.empty()) topics_.erase(it);
  }
  Wake(subscriber_wake_fd_);
}

void RedisBroker::History(const std::string& channel, std::optional<Position> since,
                          const HistoryOptions& history, Done<HistoryResult> done) {
  const int64_t since_offset = since.has_value() ? static_cast<int64_t>(since->offset) : -1;
  std::vector<std::string> args = {"2",
                                   Key("meta", channel),
                                   Key("history", channel),
                                   absl::StrCat(since_offset),
                                   RandomHex(8),
                                   absl::StrCat(Millis(std::max(options_.meta_ttl, history.ttl)))};
  Clock* clock = options_.clock;
  Send(std::move(args), kHistoryScript,
       [channel, since = std::move(since), history, clock, done = std::move(done)](
           absl::Status status, const redisReply* r) {
         if (!status.ok()) return done(status);
         HistoryResult result;
         if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !IsText(r->element[0]) ||
             !IsText(r->element[1]) || r->element[2]->type != REDIS_REPLY_ARRAY ||
             !absl::SimpleAtoi(Sv(ReplyText(r->element[0])), &result.top.offset)) {
           return done(BadReply("history"));
         }
         result.top.epoch = std::string(ReplyText(r->element[1]));
         if (!since.has_value() || since->epoch != result.top.epoch ||
             since->offset > result.top.offset) {
           return done(std::move(result));
         }
         const uint64_t missed = result.top.offset - since->offset;
         const redisReply* entries = r->element[2];
         if (missed > history.size || entries->elements != missed) return done(std::move(result));
         const int64_t now_ms = absl::ToUnixMillis(clock->Now());
         std::vector<Publication> publications;
         publications.reserve(entries->elements);
         for (size_t i = 0; i < entries->elements; ++i) {
           // "<offset> <unix ms> <data>"
           const std::string_view entry = ReplyText(entries->element[i]);
           const size_t a = entry.find(' ');
           const size_t b = a == std::string_view::npos ? a : entry.find(' ', a + 1);
           Publication p;
           int64_t at_ms = 0;
           if (b == std::string_view::npos ||
               !absl::SimpleAtoi(Sv(entry.substr(0, a)), &p.offset) ||
               !absl::SimpleAtoi(Sv(entry.substr(a + 1, b - a - 1)), &at_ms)) {
             return done(BadReply("history (an entry)"));
           }
           if (p.offset != since->offset + 1 + i) return done(std::move(result));
           if (history.ttl > absl::ZeroDuration() &&
               absl::Milliseconds(now_ms - at_ms) > history.ttl) {
             return done(std::move(result));  // expired
           }
           p.channel = channel;
           p.epoch = result.top.epoch;
           p.data = std::string(entry.substr(b + 1));
           publications.push_back(std::move(p));
         }
         result.recovered = true;
         result.publications = std::move(publications);
         done(std::move(result));
       });
}

void RedisBroker::SendPush(Push push, StatusDone done) {
  std::string message;
  AppendField(message, "push");
  AppendField(message, absl::StrCat(static_cast<int>(push.target)));
  AppendField(message, push.id);
  AppendField(message, push.data);
  Send({"PUBLISH", ControlTopic(), std::move(message)}, -1,
       [done = std::move(done)](absl::Status status, const redisReply*) { done(status); });
}

void RedisBroker::SendDisconnect(DisconnectOrder order, StatusDone done) {
  std::string message;
  AppendField(message, "disconnect");
  AppendField(message, absl::StrCat(static_cast<int>(order.target)));
  AppendField(message, order.id);
  AppendField(message, absl::StrCat(order.code));
  AppendField(message, order.reason);
  Send({"PUBLISH", ControlTopic(), std::move(message)}, -1,
       [done = std::move(done)](absl::Status status, const redisReply*) { done(status); });
}

std::vector<std::string> RedisBroker::AddEntryArgs(const char* kind, const char* exp_kind,
                                                   const std::string& name,
                                                   const std::string& session,
                                                   const std::string& encoded, bool count) {
  const int64_t now_ms = absl::ToUnixMillis(options_.clock->Now());
  return {"2",
          Key(kind, name),
          Key(exp_kind, name),
          session,
          encoded,
          absl::StrCat(now_ms + Millis(options_.presence_ttl)),
          absl::StrCat(EntryKeyTtlMs()),
          absl::StrCat(now_ms),
          count ? "1" : "0"};
}

void RedisBroker::AddPresence(const std::string& channel, const ClientInfo& client) {
  std::string encoded = EncodeClient(client);
  {
    absl::MutexLock lock(&mu_);
    own_presence_[channel][client.session_id] = encoded;
  }
  Send(AddEntryArgs("presence", "presence_exp", channel, client.session_id, encoded, false),
       kAddEntryScript, [](absl::Status, const redisReply*) {});
}

void RedisBroker::RemovePresence(const std::string& channel, const std::string& session_id) {
  RemoveEntry(&RedisBroker::own_presence_, "presence", "presence_exp", channel, session_id);
}

void RedisBroker::RemoveEntry(OwnEntries RedisBroker::*own, const char* kind, const char* exp_kind,
                              const std::string& name, const std::string& session_id) {
  {
    absl::MutexLock lock(&mu_);
    OwnEntries& entries = this->*own;
    auto it = entries.find(name);
    if (it != entries.end()) {
      it->second.erase(session_id);
      if (it->second.empty()) entries.erase(it);
    }
  }
  Send({"2", Key(kind, name), Key(exp_kind, name), session_id}, kRemoveEntryScript,
       [](absl::Status, const redisReply*) {});
}

void RedisBroker::Presence(const std::string& channel, Done<std::vector<ClientInfo>> done) {
  ListEntries("presence", "presence_exp", channel, std::move(done));
}

void RedisBroker::UserConnections(const std::string& user_id, Done<std::vector<ClientInfo>> done) {
  ListEntries("user", "user_exp", user_id, std::move(done));
}

void RedisBroker::ListEntries(std::string_view kind, std::string_view exp_kind,
                              const std::string& name, Done<std::vector<ClientInfo>> done) {
  Send(
      {"2", Key(kind, name), Key(exp_kind, name),
       absl::StrCat(absl::ToUnixMillis(options_.clock->Now()))},
      kListEntriesScript,
      [done = std::move(done), kind = std::string(kind)](absl::Status status, const redisReply* r) {
        if (!status.ok()) return done(status);
        if (r->type != REDIS_REPLY_ARRAY) return done(BadReply(kind));
        std::vector<ClientInfo> clients;
        clients.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i) {
          ClientInfo c;
          if (DecodeClient(ReplyText(r->element[i]), &c)) clients.push_back(std::move(c));
        }
        done(std::move(clients));
      });
}

void RedisBroker::AddUserConnection(const ClientInfo& client, Done<size_t> done) {
  std::string encoded = EncodeClient(client);
  {
    absl::MutexLock lock(&mu_);
    own_users_[client.user_id][client.session_id] = encoded;
  }
  Send(AddEntryArgs("user", "user_exp", client.user_id, client.session_id, encoded, true),
       kAddEntryScript, [done = std::move(done)](absl::Status status, const redisReply* r) {
         if (!status.ok()) return done(status);
         if (r->type != REDIS_REPLY_INTEGER || r->integer < 0) return done(BadReply("user"));
         done(static_cast<size_t>(r->integer));
       });
}

void RedisBroker::RemoveUserConnection(const std::string& user_id, const std::string& session_id) {
  RemoveEntry(&RedisBroker::own_users_, "user", "user_exp", user_id, session_id);
}

}  // namespace bridge::pubsub
