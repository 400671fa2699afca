// Whole sessions (tests/fuzz/session_driver.h) over a fake upstream that holds every call to
// the rules gRPC itself enforces, checked with gRPC core's own predicates: each metadata key is
// legal (grpc_header_key_is_legal) and each value of a key that is not binary
// (grpc_is_binary_header) is legal (grpc_header_nonbin_value_is_legal). gRPC refuses a call
// that breaks them and grpc++ turns that refusal into an assertion, so the fake aborts the same
// way. The method path must be "/package.Service/Method" of a method of the demo pool, every
// request message must parse as that method's request type, and the bridge's own x-bridge-*
// entries must be its own (once each, none a client wrote). The fake also holds the session to
// upstream.h's contract (one read at a time).
//
// Upstream events come when the input says: response headers, replies (valid ones or any
// bytes), the end of the call with any status code, message (any bytes) and trailers (any
// bytes under legal keys, as gRPC hands over what an upstream sends), writes draining.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bridge/upstream/upstream.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpc/grpc.h"
#include "grpc/slice.h"
#include "tests/fuzz/session_driver.h"

namespace bridge::fuzz {
namespace {

// gRPC core's verdict on a metadata key or value, by one of its own predicates
// (grpc_header_key_is_legal, grpc_is_binary_header, grpc_header_nonbin_value_is_legal).
bool GrpcSays(int (*predicate)(grpc_slice), const std::string& text) {
  grpc_slice slice = grpc_slice_from_copied_buffer(text.data(), text.size());
  const bool verdict = predicate(slice) != 0;
  grpc_slice_unref(slice);
  return verdict;
}

// What grpc++ asserts on (GPR_ASSERT(GRPC_CALL_OK == ...)) when gRPC refuses a call's metadata.
void CheckCallMetadata(const upstream::CallSpec& spec) {
  for (const auto& [key, value] : spec.metadata) {
    if (!GrpcSays(grpc_header_key_is_legal, key)) {
      Fail(absl::StrCat("gRPC refuses the call ", spec.method.path, ": metadata key \"", Shown(key),
                        "\" is not legal (grpc_header_key_is_legal); grpc++ aborts"));
    }
    if (!GrpcSays(grpc_is_binary_header, key) &&
        !GrpcSays(grpc_header_nonbin_value_is_legal, value)) {
      Fail(absl::StrCat("gRPC refuses the call ", spec.method.path, ": the value of metadata \"",
                        key, "\" is \"", Shown(value),
                        "\", not legal for a non-binary key (grpc_header_nonbin_value_is_legal); "
                        "grpc++ aborts"));
    }
  }
}

// The bridge's own entries (docs/protocol.md, 7.2) are its own: x-bridge-client-id and
// x-bridge-session-id once each, x-bridge-user-id at most once, no other x-bridge-* key (a
// client's are refused), so an upstream never reads an identity a client wrote.
void CheckBridgeEntries(const upstream::CallSpec& spec) {
  int client_id = 0;
  int session_id = 0;
  int user_id = 0;
  for (const auto& [key, value] : spec.metadata) {
    if (key.rfind("x-bridge-", 0) != 0) continue;
    if (key == "x-bridge-client-id") {
      ++client_id;
    } else if (key == "x-bridge-session-id") {
      ++session_id;
    } else if (key == "x-bridge-user-id") {
      ++user_id;
    } else {
      Fail(absl::StrCat("the call ", spec.method.path, " carries ", key, " = \"", Shown(value),
                        "\", which the bridge never sets"));
    }
  }
  if (client_id != 1 || session_id != 1 || user_id > 1) {
    Fail(absl::StrCat("the call ", spec.method.path, " carries x-bridge-client-id ", client_id,
                      " times, x-bridge-session-id ", session_id, " times, x-bridge-user-id ",
                      user_id, " times"));
  }
}

const google::protobuf::MethodDescriptor* CheckMethod(const upstream::CallSpec& spec) {
  const google::protobuf::MethodDescriptor* method = spec.method.descriptor;
  if (method == nullptr) Fail("a call without a method descriptor");
  const std::string want = absl::StrCat("/", method->service()->full_name(), "/", method->name());
  if (spec.method.path != want) {
    Fail(absl::StrCat("a call to path \"", Shown(spec.method.path), "\" for method ", want));
  }
  const auto* generated =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(method->full_name());
  if (generated == nullptr) Fail(absl::StrCat("a call to ", want, ", not in the demo pool"));
  if (spec.method.client_streaming != method->client_streaming() ||
      spec.method.server_streaming != method->server_streaming()) {
    Fail(absl::StrCat("a call to ", want, " of the wrong kind"));
  }
  if (spec.timeout < absl::ZeroDuration()) Fail(absl::StrCat("a call to ", want, " timed < 0"));
  return generated;
}

std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

class FakeCall final : public upstream::Call {
 public:
  FakeCall(const google::protobuf::MethodDescriptor* method,
           std::shared_ptr<upstream::CallListener> listener, size_t max_pending_writes,
           bool one_event)
      : method_(method),
        listener_(std::move(listener)),
        max_pending_(max_pending_writes),
        one_event_(one_event) {
    if (one_event && method->server_streaming()) {
      Fail(absl::StrCat("one_event asked of /", method->service()->full_name(), "/", method->name(),
                        ", a method with a reply stream (upstream.h)"));
    }
  }

  bool Write(std::string bytes) override {
    if (!NewMessage(method_->input_type())->ParseFromString(bytes)) {
      Fail(absl::StrCat("a request to /", method_->service()->full_name(), "/", method_->name(),
                        " that is not a ", method_->input_type()->full_name(), ": ", Shown(bytes)));
    }
    if (finished_ || writes_done_) return true;  // dropped, as gRPC drops it
    if (pending_writes_ >= max_pending_) return false;
    ++pending_writes_;
    return true;
  }
  void WritesDone() override { writes_done_ = true; }
  void RequestRead() override {
    if (finished_) return;
    if (read_pending_) {
      Fail(absl::StrCat("a second RequestRead on /", method_->service()->full_name(), "/",
                        method_->name(), " with one outstanding (upstream.h: one at a time)"));
    }
    read_pending_ = true;
  }
  void Cancel() override { cancelled_ = true; }

  // One event of this call, chosen by the input.
  void Act(Input& in) {
    if (finished_) return;
    switch (in.Pick(8)) {
      case 0:
        if (!headers_sent_ && !message_sent_) {
          headers_sent_ = true;
          Trace("upstream:   headers");
          if (one_event_) {
            collected_.headers = Metadata(in);  // for OnFinish (upstream.h: one_event)
          } else {
            listener_->OnHeaders(Metadata(in));
          }
        }
        return;
      case 1:
      case 2:
      case 3:
        if (read_pending_ && !cancelled_) {
          message_sent_ = true;
          std::string reply = Reply(in);
          Trace(absl::StrCat("upstream:   reply ", Shown(reply)));
          if (one_event_) {
            collected_.reply = std::move(reply);  // the call reads on by itself
          } else {
            read_pending_ = false;
            listener_->OnMessage(std::move(reply));
          }
        }
        return;
      case 4:
        pending_writes_ = 0;
        return;
      default: {
        upstream::CallResult result;
        static constexpr int kCodes[] = {0, 0, 1, 2, 3, 4, 5, 8, 13, 14, 16, 17, -1, 1000};
        result.code = cancelled_ && in.Bool() ? 1 : kCodes[in.Pick(14)];
        result.message = in.Text();
        result.trailers = Metadata(in);
        if (in.Pick(4) == 0) result.retry_pushback_ms = static_cast<int64_t>(in.Number() >> 1);
        finished_ = true;
        if (one_event_ && result.code == 0) {
          result.headers = std::move(collected_.headers);
          result.reply = std::move(collected_.reply);
        }
        Trace(absl::StrCat("upstream:   finish ", result.code, " ", Shown(result.message)));
        listener_->OnFinish(std::move(result));
        listener_.reset();
        return;
      }
    }
  }
  bool finished() const { return finished_; }

 private:
  // Response metadata as gRPC hands it over: keys gRPC takes, values of any bytes (gRPC does
  // not check what it receives).
  static upstream::Metadata Metadata(Input& in) {
    upstream::Metadata md;
    const size_t n = in.Pick(4);
    for (size_t i = 0; i < n; ++i) {
      static const char* kKeys[] = {"x-a",     "x-b-bin",      "grpc-status-details-bin",
                                    "x-trace", "content-type", "x-c"};
      std::string key = kKeys[in.Pick(6)];
      std::string value = in.Text();
      md.emplace_back(std::move(key), std::move(value));
    }
    return md;
  }
  // A reply: a message of the method's reply type (its strings any text), or any bytes.
  std::string Reply(Input& in) {
    if (in.Pick(4) == 0) return in.Bytes(512);
    std::unique_ptr<google::protobuf::Message> reply = NewMessage(method_->output_type());
    const google::protobuf::Reflection* r = reply->GetReflection();
    const google::protobuf::Descriptor* type = method_->output_type();
    for (int i = 0; i < type->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* field = type->field(i);
      if (!in.Bool()) continue;
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        if (field->is_repeated()) {
          r->AddString(reply.get(), field, in.Text());
        } else {
          r->SetString(reply.get(), field, in.Text());
        }
      } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_INT64 &&
                 !field->is_repeated()) {
        r->SetInt64(reply.get(), field, static_cast<int64_t>(in.Number()));
      }
    }
    return reply->SerializeAsString();
  }

  const google::protobuf::MethodDescriptor* const method_;
  std::shared_ptr<upstream::CallListener> listener_;
  const size_t max_pending_;
  size_t pending_writes_ = 0;
  bool writes_done_ = false;
  bool read_pending_ = false;
  bool cancelled_ = false;
  const bool one_event_;
  upstream::CallResult collected_;  // one_event_: headers and reply until the finish
  bool headers_sent_ = false;
  bool message_sent_ = false;
  bool finished_ = false;
};

class FakeUpstream final : public upstream::Upstream, public UpstreamControl {
 public:
  bool HasRoute(std::string_view service) const override { return service == "demo.v1.Echo"; }
  std::shared_ptr<upstream::Call> StartCall(
      const upstream::CallSpec& spec, std::shared_ptr<upstream::CallListener> listener) override {
    std::string metadata;
    for (const auto& [key, value] : spec.metadata) {
      absl::StrAppend(&metadata, " ", key, "=\"", Shown(value), "\"");
    }
    Trace(absl::StrCat("upstream: call ", calls_.size(), " ", spec.method.path, metadata));
    const google::protobuf::MethodDescriptor* method = CheckMethod(spec);
    CheckCallMetadata(spec);
    CheckBridgeEntries(spec);
    auto call = std::make_shared<FakeCall>(method, std::move(listener), 1 + calls_.size() % 3,
                                           spec.one_event);
    calls_.push_back(call);
    return call;
  }

  upstream::Upstream* upstream() override { return this; }
  void Act(Input& in, QueueExecutor& /*strand*/) override {
    if (calls_.empty()) return;
    const size_t i = in.Pick(calls_.size());
    Trace(absl::StrCat("upstream: event of call ", i));
    calls_[i]->Act(in);
  }
  void Reset() override { calls_.clear(); }

 private:
  std::vector<std::shared_ptr<FakeCall>> calls_;  // of this input, oldest first
};

}  // namespace
}  // namespace bridge::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* services = bridge::fuzz::SharedServices();
  static auto* upstream = new bridge::fuzz::FakeUpstream();
  bridge::fuzz::Input in(data, size);
  bridge::fuzz::SessionRun run(services, upstream, &in);
  run.Run();
  return 0;
}
