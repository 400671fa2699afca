// Session: the upstream calls of one session (see session.h).
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/json_string.h"
#include "bridge/common/log.h"
#include "bridge/common/random_id.h"
#include "bridge/protocol/error_table.h"
#include "bridge/protocol/frame_codec.h"
#include "bridge/session/session.h"
#include "bridge/transcode/json_text.h"
#include "bridge/upstream/metadata.h"
#include "bridge/upstream/trace_context.h"
#include "google/protobuf/dynamic_message.h"

namespace bridge::session {
namespace {

using v1::Frame;

// A reply's wire bytes -> the payload field of a frame in `encoding`.
absl::StatusOr<std::string> EncodeReply(const transcode::JsonTranscoder& transcoder,
                                        protocol::Encoding encoding,
                                        const google::protobuf::Descriptor* type,
                                        const transcode::JsonMapping& mapping, std::string bytes) {
  if (encoding == protocol::Encoding::kBinary) return bytes;
  return transcoder.BinaryToJson(type, bytes, mapping);
}

// Hands a call's events to the session's strand, one task per event the session acts on: a
// call with one reply reports once (headers, reply and status: CallSpec::one_event); a stream
// once per message, transcoded here, on the gRPC thread it arrived on, and once at its end.
// Response headers of streams go nowhere (frames carry only a stream's trailers).
class SessionCallListener final : public upstream::CallListener {
 public:
  SessionCallListener(std::shared_ptr<Executor> executor, Session* session, Metrics* metrics,
                      const transcode::JsonTranscoder* transcoder, protocol::Encoding encoding,
                      const google::protobuf::Descriptor* reply_type,
                      transcode::JsonMapping mapping, std::string message_id, uint64_t call_id)
      : executor_(std::move(executor)),
        session_(session),
        metrics_(metrics),
        transcoder_(transcoder),
        encoding_(encoding),
        reply_type_(reply_type),
        mapping_(mapping),
        message_id_(std::move(message_id)),
        call_id_(call_id) {}

  void OnHeaders(upstream::Metadata /*headers*/) override {}
  // Counted in the task, on the session's strand: a call may end after the server (and its
  // metrics) is gone, and then the task is dropped. The transcoder outlives every upstream call
  // (the upstream waits for its calls before the parts declared before it go).
  void OnMessage(std::string bytes) override {
    executor_->Post([s = session_, m = metrics_, id = message_id_, cid = call_id_,
                     p = EncodeReply(*transcoder_, encoding_, reply_type_, mapping_,
                                     std::move(bytes))]() mutable {
      m->upstream_events_posted.fetch_add(1, std::memory_order_relaxed);
      s->OnCallMessage(id, cid, std::move(p));
    });
  }
  void OnFinish(upstream::CallResult result) override {
    executor_->Post([s = session_, m = metrics_, id = message_id_, cid = call_id_,
                     r = std::move(result)]() mutable {
      m->upstream_events_posted.fetch_add(1, std::memory_order_relaxed);
      s->OnCallFinish(id, cid, std::move(r));
    });
  }

 private:
  std::shared_ptr<Executor> executor_;
  Session* session_;
  Metrics* const metrics_;
  const transcode::JsonTranscoder* const transcoder_;
  const protocol::Encoding encoding_;
  const google::protobuf::Descriptor* const reply_type_;
  const transcode::JsonMapping mapping_;
  const std::string message_id_;
  const uint64_t call_id_;
};

bool Matches(const std::vector<std::string>& patterns, const std::string& key) {
  for (const std::string& p : patterns) {
    if (!p.empty() && p.back() == '*') {
      if (absl::StartsWith(key, absl::string_view(p).substr(0, p.size() - 1))) return true;
    } else if (p == key) {
      return true;
    }
  }
  return false;
}

// The first string field of `type`: where `content` goes in, and comes from.
const google::protobuf::FieldDescriptor* ContentField(const google::protobuf::Descriptor* type) {
  for (int i = 0; i < type->field_count(); ++i) {
    const auto* f = type->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING && !f->is_repeated()) {
      return f;
    }
  }
  return nullptr;
}

std::string ContentOf(const google::protobuf::Descriptor* type, const std::string& bytes) {
  const auto* field = ContentField(type);
  if (field == nullptr) return "";
  static auto* factory = new google::protobuf::DynamicMessageFactory();
  std::unique_ptr<google::protobuf::Message> msg(factory->GetPrototype(type)->New());
  if (!msg->ParseFromString(bytes)) return "";
  return msg->GetReflection()->GetString(*msg, field);
}

// Moves the traceparent and tracestate entries out of `metadata`.
void TakeTraceEntries(upstream::Metadata* metadata, std::optional<std::string>* parent,
                      std::string* state) {
  for (auto it = metadata->begin(); it != metadata->end();) {
    if (it->first == upstream::kTraceParentKey) {
      *parent = std::move(it->second);
    } else if (it->first == upstream::kTraceStateKey) {
      *state = std::move(it->second);
    } else {
      ++it;
      continue;
    }
    it = metadata->erase(it);
  }
}

}  // namespace

void Session::StartCall(const v1::Message& m) {
  if (m.message_id().empty()) {
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, "a message needs a messageId", "messageId");
    return;
  }
  if (calls_.Find(m.message_id()) != nullptr) {
    // A resend (after a resume) of a call still running: it answers on this session anyway.
    metrics_->duplicate_messages.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (const Frame* done = calls_.Outcome(m.message_id()); done != nullptr) {
    // A resend of a call already answered: the outcome again, never a second upstream call.
    metrics_->duplicate_messages.fetch_add(1, std::memory_order_relaxed);
    Frame again = *done;
    SendFrame(again);
    return;
  }
  const bool content_mode = m.method().empty() && m.payload().empty() && !m.content().empty();
  const std::string& method_name = m.method().empty() ? options_.default_method : m.method();
  if (method_name.empty()) {
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
              m.content().empty() ? "a message needs a method"
                                  : "no method given and no default method configured",
              "method", m.message_id());
    return;
  }
  if (draining_) {
    SendError(v1::ERROR_CATEGORY_SERVICE_UNAVAILABLE, "the bridge is draining; no new calls", "",
              m.message_id(),
              static_cast<uint32_t>(absl::ToInt64Milliseconds(options_.drain_retry_after)));
    return;
  }
  if (services_.registry == nullptr || services_.upstream == nullptr) {
    SendError(v1::ERROR_CATEGORY_NOT_FOUND,
              absl::StrCat("method ", method_name, " is not routed to any upstream"), "method",
              m.message_id());
    return;
  }
  absl::StatusOr<transcode::MethodInfo> method = services_.registry->FindMethod(method_name);
  if (!method.ok()) {
    SendError(v1::ERROR_CATEGORY_NOT_FOUND, std::string(method.status().message()), "method",
              m.message_id());
    return;
  }
  if (!services_.upstream->HasRoute(method->service)) {
    SendError(v1::ERROR_CATEGORY_NOT_FOUND,
              absl::StrCat("service ", method->service, " is not routed to any upstream"), "method",
              m.message_id());
    return;
  }
  if (identity_.has_value() && !auth::MethodAllowed(*identity_, method->path)) {
    metrics_->permission_denials.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_PERMISSION_DENIED,
              absl::StrCat(identity_->user_id, " may not call ", method->path.substr(1)), "method",
              m.message_id());
    return;
  }
  if (calls_.size() >= options_.max_calls) {
    SendError(v1::ERROR_CATEGORY_RATE_LIMITED,
              absl::StrCat("too many calls in flight on this session (", options_.max_calls, ")"),
              "", m.message_id());
    return;
  }

  // The first request message: the payload, `content`, or (for methods with one request)
  // the default message.
  std::optional<std::string> first;
  if (content_mode) {
    const auto* field = ContentField(method->descriptor->input_type());
    if (field == nullptr) {
      SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
                absl::StrCat(method->descriptor->input_type()->full_name(),
                             " has no string field for content"),
                "content", m.message_id());
      return;
    }
    std::string json = "{";
    AppendJsonString(field->json_name(), &json);
    json += ':';
    AppendJsonString(m.content(), &json);
    json += '}';
    absl::StatusOr<std::string> bytes =
        services_.transcoder->JsonToBinary(method->descriptor->input_type(), json);
    if (!bytes.ok()) {
      SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::string(bytes.status().message()),
                "content", m.message_id());
      return;
    }
    first = *std::move(bytes);
  } else if (!m.payload().empty() || !method->client_streaming) {
    absl::StatusOr<std::string> bytes = RequestBytes(*method, m.payload());
    if (!bytes.ok()) {
      metrics_->bad_payloads.fetch_add(1, std::memory_order_relaxed);
      SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::string(bytes.status().message()),
                "payload", m.message_id());
      return;
    }
    first = *std::move(bytes);
  }

  upstream::CallSpec spec;
  spec.method = *method;
  if (m.timeout_ms() > 0) {
    spec.timeout = std::min(absl::Milliseconds(m.timeout_ms()), options_.max_call_timeout);
  } else if (!method->server_streaming) {
    spec.timeout = options_.default_call_timeout;
  }
  spec.one_event = !method->server_streaming;
  spec.metadata = upgrade_metadata_;
  if (std::optional<Refusal> bad = AddClientMetadata(m, &spec.metadata)) {
    metrics_->bad_metadata.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::move(bad->message), std::move(bad->field),
              m.message_id());
    return;
  }
  std::string traceparent;
  if (std::optional<Refusal> bad = TraceCall(&spec.metadata, &traceparent)) {
    metrics_->bad_trace_contexts.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::move(bad->message), std::move(bad->field),
              m.message_id());
    return;
  }
  spec.metadata.emplace_back("x-bridge-client-id",
                             upstream::PercentEncodeMetadataValue(client_id_));
  spec.metadata.emplace_back("x-bridge-session-id", conversation_id_);
  if (identity_.has_value()) {
    spec.metadata.emplace_back("x-bridge-user-id",
                               upstream::PercentEncodeMetadataValue(identity_->user_id));
  }
  if (const size_t size = upstream::MetadataListSize(spec.metadata);
      size > options_.max_request_metadata_bytes) {
    metrics_->bad_metadata.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
              absl::StrCat("the call's metadata is ", size,
                           " bytes (HTTP/2 count, with the "
                           "bridge's own entries); at most ",
                           options_.max_request_metadata_bytes),
              "metadata", m.message_id());
    return;
  }

  ActiveCall& call = calls_.Start(m.message_id());
  const uint64_t call_id = call.id;
  call.method = *method;
  call.content_mode = content_mode;
  call.started_at = clock_->Monotonic();
  call.before_upstream = call.started_at - last_seen_;
  call.traceparent = std::move(traceparent);
  call.json_mapping = JsonMappingFor(*method);
  metrics_->calls_started.fetch_add(1, std::memory_order_relaxed);
  stats_->calls.fetch_add(1, std::memory_order_relaxed);
  call.call = services_.upstream->StartCall(
      spec, std::make_shared<SessionCallListener>(
                transport_->executor(), this, metrics_, services_.transcoder, encoding_,
                method->descriptor->output_type(), call.json_mapping, m.message_id(), call_id));
  if (first.has_value()) call.call->Write(*std::move(first));
  if (!method->client_streaming) call.call->WritesDone();
  call.call->RequestRead();
}

std::optional<Session::Refusal> Session::AddClientMetadata(const v1::Message& m,
                                                           upstream::Metadata* to) const {
  for (const auto& [key, value] : m.metadata()) {
    const std::string field = absl::StrCat("metadata[\"", absl::CHexEscape(key), "\"]");
    if (!upstream::IsLegalMetadataKey(key) || upstream::IsReservedMetadataKey(key)) {
      return Refusal{
          absl::StrCat("metadata key \"", absl::CHexEscape(key),
                       "\" is not allowed (lower-case [0-9a-z_.-], not grpc-* or x-bridge-*)"),
          field};
    }
    if (upstream::IsBinaryMetadataKey(key)) {
      // Bytes travel in frames as base64, as gRPC-Web and grpc-gateway carry them.
      std::string bytes;
      if (!transcode::Base64Decode(value, &bytes)) {
        return Refusal{absl::StrCat("the value of ", key, " (a -bin key) must be base64"), field};
      }
      to->emplace_back(key, std::move(bytes));
      continue;
    }
    if (!upstream::IsLegalMetadataValue(key, value)) {
      return Refusal{absl::StrCat("the value of ", key,
                                  " must be printable ASCII (0x20-0x7E); send other bytes "
                                  "base64-encoded under a key ending in -bin"),
                     field};
    }
    to->emplace_back(key, value);
  }
  return std::nullopt;
}

std::optional<Session::Refusal> Session::TraceCall(upstream::Metadata* metadata,
                                                   std::string* traceparent) {
  std::optional<std::string> sent_parent;
  std::string sent_state;
  TakeTraceEntries(metadata, &sent_parent, &sent_state);
  // The message's own context, or else the upgrade's (read in place, not copied per call).
  const upstream::TraceParent* from = upgrade_trace_.has_value() ? &*upgrade_trace_ : nullptr;
  std::string_view tracestate = upgrade_tracestate_;
  absl::StatusOr<upstream::TraceParent> parsed;
  if (sent_parent.has_value()) {
    parsed = upstream::ParseTraceParent(*sent_parent);
    if (!parsed.ok()) {
      return Refusal{std::string(parsed.status().message()), "metadata[\"traceparent\"]"};
    }
    if (absl::Status state = upstream::CheckTraceState(sent_state); !state.ok()) {
      return Refusal{std::string(state.message()), "metadata[\"tracestate\"]"};
    }
    from = &*parsed;
    tracestate = sent_state;  // a tracestate goes with its own traceparent only
  }
  static const upstream::HexSource kRandomHex = &RandomHex;
  const upstream::HexSource& random = options_.random_hex ? options_.random_hex : kRandomHex;
  std::optional<upstream::CallTrace> trace =
      upstream::ChildTrace(from, tracestate, options_.start_traces, random);
  if (!trace.has_value()) return std::nullopt;
  *traceparent = trace->parent.ToString();
  metadata->emplace_back(upstream::kTraceParentKey, *traceparent);
  if (!trace->tracestate.empty()) {
    metadata->emplace_back(upstream::kTraceStateKey, std::move(trace->tracestate));
  }
  return std::nullopt;
}

void Session::TakeUpgradeTrace() {
  std::optional<std::string> parent;
  std::string state;
  TakeTraceEntries(&upgrade_metadata_, &parent, &state);
  if (!parent.has_value()) return;
  absl::StatusOr<upstream::TraceParent> parsed = upstream::ParseTraceParent(*parent);
  if (!parsed.ok() || !upstream::CheckTraceState(state).ok()) {
    // W3C: a traceparent that cannot be read is ignored (the call starts afresh if configured).
    metrics_->bad_trace_contexts.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  upgrade_trace_ = *std::move(parsed);
  upgrade_tracestate_ = std::move(state);
}

void Session::SendToCall(const v1::StreamSend& m) {
  ActiveCall* found = calls_.Find(m.message_id());
  if (found == nullptr) {
    SendError(v1::ERROR_CATEGORY_NOT_FOUND, "no open call with this messageId", "messageId",
              m.message_id());
    return;
  }
  ActiveCall& call = *found;
  if (!call.method.client_streaming) {
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT,
              absl::StrCat(call.method.path.substr(1),
                           " takes one request; stream_send needs a "
                           "client-streaming or bidi method"),
              "messageId", m.message_id());
    return;
  }
  absl::StatusOr<std::string> bytes = RequestBytes(call.method, m.payload());
  if (!bytes.ok()) {
    metrics_->bad_payloads.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INVALID_ARGUMENT, std::string(bytes.status().message()), "payload",
              m.message_id());
    return;
  }
  if (!call.call->Write(*std::move(bytes))) {
    SendError(v1::ERROR_CATEGORY_RATE_LIMITED,
              "too many messages queued toward the upstream for this call; wait for replies", "",
              m.message_id());
  }
}

void Session::OnCallMessage(const std::string& message_id, uint64_t call_id,
                            absl::StatusOr<std::string> payload) {
  ActiveCall* found = calls_.Find(message_id, call_id);
  if (found == nullptr) return;
  ActiveCall& call = *found;
  if (!payload.ok()) {
    call.call->Cancel();
    const std::string id = message_id;
    calls_.Take(id, call_id);
    metrics_->calls_failed.fetch_add(1, std::memory_order_relaxed);
    SendError(v1::ERROR_CATEGORY_INTERNAL, std::string(payload.status().message()), "", id);
    return;
  }
  Frame frame;
  v1::StreamMessage* sm = frame.mutable_stream_message();
  sm->set_message_id(message_id);
  sm->set_payload(*std::move(payload));
  SendFrame(frame);
  RequestReadWhenRoom(call);
}

void Session::OnCallFinish(const std::string& message_id, uint64_t call_id,
                           upstream::CallResult result) {
  FinishCall(message_id, call_id, std::move(result));
  FinishDrainIfIdle();
}

void Session::FinishCall(const std::string& message_id, uint64_t call_id,
                         upstream::CallResult result) {
  std::optional<ActiveCall> taken = calls_.Take(message_id, call_id);
  if (!taken.has_value()) return;
  ActiveCall call = *std::move(taken);
  // Counted once the answer is written, whichever it is; a reply that cannot be transcoded
  // counts as INTERNAL.
  const absl::Duration ended = clock_->Monotonic();
  int code = result.code;
  auto count = absl::MakeCleanup([&] {
    const absl::Duration upstream_time = ended - call.started_at;
    metrics_->CountCallEnd(call.method.path, code, upstream_time,
                           call.before_upstream + (clock_->Monotonic() - ended));
    stats_->calls_ended.fetch_add(1, std::memory_order_relaxed);
    stats_->upstream_micros.fetch_add(absl::ToInt64Microseconds(upstream_time),
                                      std::memory_order_relaxed);
    if (code != static_cast<int>(absl::StatusCode::kOk))
      stats_->call_errors.fetch_add(1, std::memory_order_relaxed);
  });

  if (result.code != static_cast<int>(absl::StatusCode::kOk)) {
    metrics_->calls_failed.fetch_add(1, std::memory_order_relaxed);
    const v1::ErrorCategory category = protocol::CategoryForGrpcCode(result.code);
    Frame frame = ErrorFrame(
        category, transcode::ToValidUtf8(result.message),  // the upstream's words: any bytes
        "", message_id,
        result.retry_pushback_ms >= 0
            ? static_cast<uint32_t>(std::min<int64_t>(result.retry_pushback_ms, 0xffffffff))
            : 0);
    frame.mutable_error()->set_grpc_code(result.code);
    FinishWith(call, message_id, code, std::move(frame));
    return;
  }

  Frame frame;
  if (call.method.server_streaming) {
    v1::StreamEnd* end = frame.mutable_stream_end();
    end->set_message_id(message_id);
    end->mutable_status()->set_code(static_cast<int>(absl::StatusCode::kOk));
    end->mutable_status()->set_message(transcode::ToValidUtf8(result.message));
    FillMetadata(result.trailers, end->mutable_trailers());
    metrics_->calls_succeeded.fetch_add(1, std::memory_order_relaxed);
    FinishWith(call, message_id, code, std::move(frame));
    return;
  }
  if (!result.reply.has_value()) {
    code = static_cast<int>(absl::StatusCode::kInternal);
    metrics_->calls_failed.fetch_add(1, std::memory_order_relaxed);
    FinishWith(call, message_id, code,
               ErrorFrame(v1::ERROR_CATEGORY_INTERNAL,
                          "the upstream ended the call with OK and no reply", "", message_id));
    return;
  }
  std::string content;
  if (call.content_mode) content = ContentOf(call.method.descriptor->output_type(), *result.reply);
  absl::StatusOr<std::string> payload = ReplyPayload(call, *std::move(result.reply));
  if (!payload.ok()) {
    code = static_cast<int>(absl::StatusCode::kInternal);
    metrics_->calls_failed.fetch_add(1, std::memory_order_relaxed);
    FinishWith(call, message_id, code,
               ErrorFrame(v1::ERROR_CATEGORY_INTERNAL, std::string(payload.status().message()), "",
                          message_id));
    return;
  }
  v1::Response* r = frame.mutable_response();
  r->set_message_id(message_id);
  r->set_payload(*std::move(payload));
  r->set_content(std::move(content));
  FillMetadata(result.headers, r->mutable_metadata());
  FillMetadata(result.trailers, r->mutable_trailers());
  metrics_->calls_succeeded.fetch_add(1, std::memory_order_relaxed);
  FinishWith(call, message_id, code, std::move(frame));
}

void Session::FinishWith(const ActiveCall& call, const std::string& message_id, int code,
                         Frame frame) {
  if (options_.return_traceparent && !call.traceparent.empty()) {
    const std::string key(upstream::kTraceParentKey);
    switch (frame.kind_case()) {
      case Frame::kError:
        frame.mutable_error()->set_traceparent(call.traceparent);
        break;
      case Frame::kResponse:
        (*frame.mutable_response()->mutable_metadata())[key] = call.traceparent;
        break;
      case Frame::kStreamEnd:
        (*frame.mutable_stream_end()->mutable_trailers())[key] = call.traceparent;
        break;
      default:
        break;
    }
  }
  if (frame.kind_case() == Frame::kError) metrics_->CountErrorFrame(frame.error().category());
  const bool ok = code == static_cast<int>(absl::StatusCode::kOk);
  if (log::Enabled(ok ? log::Level::kDebug : log::Level::kInfo)) {
    log::Event event(ok ? log::Level::kDebug : log::Level::kInfo, "call_finished");
    event.Str("conversation", conversation_id_)
        .Str("message_id", message_id)
        .Str("method", call.method.path)
        .Int("code", code)
        .Int("upstream_ms", absl::ToInt64Milliseconds(clock_->Monotonic() - call.started_at));
    // traceparent is "00-<trace id>-<span id>-<flags>".
    if (!call.traceparent.empty()) {
      event.Str("trace_id", std::string_view(call.traceparent).substr(3, 32))
          .Str("span_id", std::string_view(call.traceparent).substr(36, 16));
    }
  }
  calls_.RememberOutcome(message_id, frame);
  SendFrame(frame);
}

void Session::RequestReadWhenRoom(ActiveCall& call) {
  if (state_ == State::kDetached) {
    // Nobody to send to: the reply waits upstream until a resume (Reattach resumes reads).
    call.read_wanted = true;
    return;
  }
  if (transport_->buffered_bytes() < options_.max_outbound_buffer) {
    call.call->RequestRead();
    return;
  }
  metrics_->flow_control_pauses.fetch_add(1, std::memory_order_relaxed);
  call.read_wanted = true;
  AskForRoom();
}

void Session::AskForRoom() {
  if (room_asked_) return;
  room_asked_ = true;
  transport_->WhenBelow(options_.max_outbound_buffer, [this] {
    room_asked_ = false;
    ResumeReads();
  });
}

void Session::ResumeReads() {
  if (state_ != State::kConfirmed) return;  // a resume looks again
  bool waiting = false;
  calls_.ForEach([&](ActiveCall& call) { waiting = waiting || call.read_wanted; });
  if (!waiting) return;
  if (transport_->buffered_bytes() >= options_.max_outbound_buffer) {
    AskForRoom();
    return;
  }
  calls_.ForEach([](ActiveCall& call) {
    if (!call.read_wanted) return;
    call.read_wanted = false;
    call.call->RequestRead();
  });
}

void Session::CancelAllCalls() {
  for (ActiveCall& call : calls_.TakeAll()) {
    metrics_->calls_cancelled_by_close.fetch_add(1, std::memory_order_relaxed);
    call.call->Cancel();
  }
}

absl::StatusOr<std::string> Session::RequestBytes(const transcode::MethodInfo& method,
                                                  const std::string& payload) {
  if (encoding_ == protocol::Encoding::kBinary) {
    // Binary sessions send wire bytes already; check they parse as the request type.
    absl::Status valid =
        services_.transcoder->ValidateBinary(method.descriptor->input_type(), payload);
    if (!valid.ok()) return valid;
    return payload;
  }
  return services_.transcoder->JsonToBinary(method.descriptor->input_type(), payload);
}

absl::StatusOr<std::string> Session::ReplyPayload(const ActiveCall& call, std::string bytes) {
  return EncodeReply(*services_.transcoder, encoding_, call.method.descriptor->output_type(),
                     call.json_mapping, std::move(bytes));
}

transcode::JsonMapping Session::JsonMappingFor(const transcode::MethodInfo& method) const {
  const transcode::JsonRule* rule = transcode::FindJsonRule(options_.json_rules, method.service);
  if (rule == nullptr) return {};
  transcode::JsonMapping mapping = rule->mapping;
  if (rule->session_may_choose) {
    if (asked_json_.has_emit_defaults()) mapping.emit_defaults = asked_json_.emit_defaults();
    if (asked_json_.has_proto_names()) mapping.proto_names = asked_json_.proto_names();
    if (asked_json_.has_enums_as_numbers()) {
      mapping.enums_as_numbers = asked_json_.enums_as_numbers();
    }
  }
  return mapping;
}

void Session::FillMetadata(const upstream::Metadata& from,
                           google::protobuf::Map<std::string, std::string>* to) const {
  for (const auto& [key, value] : from) {
    if (!Matches(options_.forward_response_metadata, key)) continue;
    if (!upstream::IsLegalMetadataKey(key)) continue;  // never from gRPC; it would break the frame
    // Bytes of -bin keys go to clients as base64, as they come from them (AddClientMetadata).
    // Other values are printable ASCII from a well-behaved server; any other byte (gRPC passes
    // what it receives) would break the frame: such a value is percent-encoded.
    if (upstream::IsBinaryMetadataKey(key)) {
      (*to)[key] = absl::Base64Escape(value);
    } else if (upstream::IsLegalMetadataValue(key, value)) {
      (*to)[key] = value;
    } else {
      (*to)[key] = upstream::PercentEncodeMetadataValue(value);
    }
  }
}

}  // namespace bridge::session
