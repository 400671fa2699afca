#include "bridge/upstream/channel_feeds.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "bridge/common/log.h"
#include "bridge/common/strings.h"
#include "bridge/upstream/metadata.h"

namespace bridge::upstream {
namespace {

// Reads the stream one reply at a time, turning each into JSON for the channel.
class FeedListener final : public CallListener {
 public:
  FeedListener(const transcode::JsonTranscoder* transcoder,
               const google::protobuf::Descriptor* reply_type, transcode::JsonMapping mapping,
               std::string channel, std::function<void(std::string)> on_message,
               std::function<void(absl::Status)> on_end)
      : transcoder_(transcoder),
        reply_type_(reply_type),
        mapping_(mapping),
        channel_(std::move(channel)),
        on_message_(std::move(on_message)),
        on_end_(std::move(on_end)) {}

  void set_call(std::shared_ptr<Call> call) {
    absl::MutexLock lock(&mu_);
    call_ = std::move(call);
  }

  void OnHeaders(Metadata) override {}
  void OnMessage(std::string bytes) override {
    absl::StatusOr<std::string> json = transcoder_->BinaryToJson(reply_type_, bytes, mapping_);
    if (json.ok()) {
      on_message_(*std::move(json));
    } else {
      log::Event(log::Level::kWarn, "channel_feed_bad_reply")
          .Str("channel", channel_)
          .Str("error", std::string(json.status().message()));
    }
    std::shared_ptr<Call> call;
    {
      absl::MutexLock lock(&mu_);
      call = call_;
    }
    if (call != nullptr) call->RequestRead();
  }
  void OnFinish(CallResult result) override {
    {
      absl::MutexLock lock(&mu_);
      call_.reset();  // the call holds this listener: let go of the cycle
    }
    on_end_(result.code == static_cast<int>(absl::StatusCode::kOk)
                ? absl::OkStatus()
                : absl::Status(static_cast<absl::StatusCode>(result.code), result.message));
  }

 private:
  const transcode::JsonTranscoder* const transcoder_;
  const google::protobuf::Descriptor* const reply_type_;
  const transcode::JsonMapping mapping_;
  const std::string channel_;
  std::function<void(std::string)> on_message_;
  std::function<void(absl::Status)> on_end_;
  absl::Mutex mu_;
  std::shared_ptr<Call> call_ ABSL_GUARDED_BY(mu_);
};

class UpstreamFeed final : public pubsub::ChannelFeeds::Feed {
 public:
  explicit UpstreamFeed(std::shared_ptr<Call> call) : call_(std::move(call)) {}
  void Cancel() override { call_->Cancel(); }

 private:
  const std::shared_ptr<Call> call_;
};

}  // namespace

UpstreamFeeds::UpstreamFeeds(const transcode::DescriptorRegistry* registry,
                             const transcode::JsonTranscoder* transcoder, Upstream* upstream,
                             transcode::JsonRules json_rules)
    : registry_(registry),
      transcoder_(transcoder),
      upstream_(upstream),
      json_rules_(std::move(json_rules)) {}

absl::Status UpstreamFeeds::CheckMethod(const std::string& method) const {
  absl::StatusOr<transcode::MethodInfo> info = registry_->FindMethod(method);
  if (!info.ok()) return info.status();
  if (!info->server_streaming || info->client_streaming) {
    return absl::InvalidArgumentError(
        absl::StrCat(method, " is not a server-streaming method (one request, a reply stream)"));
  }
  if (!upstream_->HasRoute(info->service)) {
    return absl::NotFoundError(absl::StrCat("service ", info->service, " has no route"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<pubsub::ChannelFeeds::Feed>> UpstreamFeeds::Open(
    const std::string& method, const std::string& channel, const std::string& params_json,
    std::function<void(std::string json)> on_message, std::function<void(absl::Status)> on_end) {
  if (absl::Status ok = CheckMethod(method); !ok.ok()) return ok;
  absl::StatusOr<transcode::MethodInfo> info = registry_->FindMethod(method);
  absl::StatusOr<std::string> request =
      transcoder_->JsonToBinary(info->descriptor->input_type(), params_json);
  if (!request.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("params: ", std::string(request.status().message())));
  }
  const transcode::JsonRule* rule = transcode::FindJsonRule(json_rules_, info->service);
  auto listener =
      std::make_shared<FeedListener>(transcoder_, info->descriptor->output_type(),
                                     rule != nullptr ? rule->mapping : transcode::JsonMapping{},
                                     channel, std::move(on_message), std::move(on_end));
  CallSpec spec;
  spec.method = *info;
  spec.metadata.emplace_back("x-bridge-channel", PercentEncodeMetadataValue(channel));
  std::shared_ptr<Call> call = upstream_->StartCall(spec, listener);
  listener->set_call(call);
  call->Write(*std::move(request));
  call->WritesDone();
  call->RequestRead();
  return std::unique_ptr<pubsub::ChannelFeeds::Feed>(new UpstreamFeed(std::move(call)));
}

}  // namespace bridge::upstream
