// The frame codec on the hot path (bridge/protocol/frame_codec.h): decoding a client's
// `message` frame and encoding the `response` the bridge answers with, in JSON and binary, at
// the load matrix's payload sizes (request text of 64 B, 1 KiB, 16 KiB).
#include <string>

#include "benchmark/benchmark.h"
#include "bridge/protocol/frame_codec.h"

namespace {

using bridge::protocol::Frame;

std::string Payload(size_t n) { return "{\"text\":\"" + std::string(n, 'x') + "\"}"; }

std::string MessageJson(size_t n) {
  return "{\"type\":\"message\",\"messageId\":\"123456\",\"method\":\"demo.v1.Echo/Say\","
         "\"payload\":" +
         Payload(n) + "}";
}

Frame ResponseFrame(size_t n) {
  Frame frame;
  frame.set_seq(4242);
  auto* r = frame.mutable_response();
  r->set_message_id("123456");
  r->set_payload(Payload(n));
  return frame;
}

void BM_DecodeJsonMessage(benchmark::State& state) {
  const std::string text = MessageJson(state.range(0));
  Frame frame;
  for (auto _ : state) {
    auto error = bridge::protocol::DecodeJsonFrame(text, &frame);
    if (!error.ok()) state.SkipWithError(error.message.c_str());
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(state.iterations() * text.size());
}
BENCHMARK(BM_DecodeJsonMessage)->Arg(64)->Arg(1024)->Arg(16384);

void BM_EncodeJsonResponse(benchmark::State& state) {
  const Frame frame = ResponseFrame(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = bridge::protocol::EncodeJsonFrame(frame);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_EncodeJsonResponse)->Arg(64)->Arg(1024)->Arg(16384);

void BM_DecodeBinaryMessage(benchmark::State& state) {
  Frame source;
  auto* m = source.mutable_message();
  m->set_message_id("123456");
  m->set_method("demo.v1.Echo/Say");
  m->set_payload(std::string(state.range(0) + 3, 'x'));  // wire bytes of a SayRequest, roughly
  const std::string bytes = bridge::protocol::EncodeBinaryFrame(source);
  Frame frame;
  for (auto _ : state) {
    auto error = bridge::protocol::DecodeBinaryFrame(bytes, &frame);
    if (!error.ok()) state.SkipWithError(error.message.c_str());
    benchmark::DoNotOptimize(frame);
  }
  state.SetBytesProcessed(state.iterations() * bytes.size());
}
BENCHMARK(BM_DecodeBinaryMessage)->Arg(64)->Arg(1024)->Arg(16384);

void BM_EncodeBinaryResponse(benchmark::State& state) {
  Frame frame;
  frame.set_seq(4242);
  frame.mutable_response()->set_message_id("123456");
  frame.mutable_response()->set_payload(std::string(state.range(0) + 3, 'x'));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = bridge::protocol::EncodeBinaryFrame(frame);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_EncodeBinaryResponse)->Arg(64)->Arg(1024)->Arg(16384);

}  // namespace
