// JSON <-> protobuf transcoding throughput: the bridge's transcoder against protobuf 3.21's
// json_util in the same run, on a small (~250 B), medium (~700 B) and large (~5 KB) message,
// plus the two JSON parsers the transcoder could be built on. Throughput is JSON bytes per
// second in both directions. Run optimized, on one core:
//   bazel run --config=bench //bench:transcode_benchmark -- --benchmark_repetitions=3
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "bridge/transcode/json_transcoder.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "proto/demo/v1/echo.pb.h"
#include "rapidjson/document.h"
#include "simdjson.h"

namespace bridge::transcode {
namespace {

using ::google::protobuf::Descriptor;

// A unary request: a line of text and a few fields.
constexpr char kSmall[] =
    R"json({"text":"Add two items to the cart and check out","sample":{)json"
    R"json("i32":42,"i64":"1700000000123","str":"customer-8841","flag":true,"color":"COLOR_GREEN",)json"
    R"json("db":19.99,"listStr":["sku-1001","sku-2002"],"at":"2024-05-01T12:30:00.250Z",)json"
    R"json("wStr":"express"}})json";

// A message with a bit of everything: numbers, strings, nested, repeated, maps, oneof and
// well-known types.
constexpr char kMedium[] =
    R"json({"i32":-1234,"i64":"9007199254740993","u32":4000000000,)json"
    R"json("u64":"18446744073709551615","s32":-77,"s64":"-88","f32":99,"f64":"100","sf32":-5,)json"
    R"json("sf64":"-6","fl":1.5,"db":3.14159265358979,"flag":true,)json"
    R"json("str":"The quick brown fox jumps over the lazy dog","raw":"SGVsbG8sIHdvcmxkIQ==",)json"
    R"json("color":"COLOR_BLUE","inner":{"name":"inner","value":7,"children":[{"name":"a",)json"
    R"json("value":1},{"name":"b","value":2}]},"listI64":["1","2","3","4"],)json"
    R"json("listStr":["alpha","beta","gamma"],"listColor":["COLOR_RED","COLOR_GREEN"],)json"
    R"json("listDouble":[0.5,1.25,2.125],"mapStrI64":{"one":"1","two":"2"},)json"
    R"json("mapStrStr":{"region":"eu-west-1","tier":"gold"},"choiceStr":"picked",)json"
    R"json("optI32":0,"at":"2024-05-01T12:30:00.250Z","took":"1.500s",)json"
    R"json("attrs":{"user":"u-1","score":98.5,"tags":["a","b"]},"wI64":"12345",)json"
    R"json("wStr":"wrapped","mask":"inner.name,listStr"})json";

// A listing: many nested records.
std::string LargeJson() {
  std::string json = R"json({"text":"catalog page 3","sample":{"str":"listing","listInner":[)json";
  for (int i = 0; i < 48; ++i) {
    if (i > 0) json += ',';
    json +=
        R"json({"name":"product-)json" + std::to_string(1000 + i) +
        R"json( description text","value":)json" + std::to_string(i * 37) +
        R"json(,"children":[{"name":"variant-a","value":1},{"name":"variant-b","value":2}]})json";
  }
  json += R"json(],"mapStrStr":{"page":"3","size":"48","sort":"price"},"db":1234.5678}})json";
  return json;
}

struct Payload {
  const Descriptor* type;
  std::string json;
  std::string bytes;
};

const Payload& GetPayload(int size) {
  static const Payload* payloads = [] {
    auto* p = new Payload[3];
    p[0] = {demo::v1::SayRequest::descriptor(), kSmall, ""};
    p[1] = {demo::v1::Sample::descriptor(), kMedium, ""};
    p[2] = {demo::v1::SayRequest::descriptor(), LargeJson(), ""};
    JsonTranscoder transcoder(nullptr, {});
    for (int i = 0; i < 3; ++i) {
      // Wire bytes as a gRPC server serializes them (fields in number order), and the JSON
      // as the bridge writes it, so both directions move the same text.
      std::unique_ptr<google::protobuf::Message> message(
          google::protobuf::MessageFactory::generated_factory()->GetPrototype(p[i].type)->New());
      message->ParseFromString(*transcoder.JsonToBinary(p[i].type, p[i].json));
      p[i].bytes = message->SerializeAsString();
      p[i].json = *transcoder.BinaryToJson(p[i].type, p[i].bytes);
    }
    return p;
  }();
  return payloads[size];
}

const char* const kSizeNames[] = {"small", "medium", "large"};

void Label(benchmark::State& state, const Payload& p) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.json.size()));
  state.SetLabel(std::string(kSizeNames[state.range(0)]) + " " + std::to_string(p.json.size()) +
                 " B JSON, " + std::to_string(p.bytes.size()) + " B proto");
}

// The transcoder: JSON -> wire bytes.
void BM_Transcoder_JsonToBinary(benchmark::State& state) {
  const Payload& p = GetPayload(state.range(0));
  JsonTranscoder transcoder(nullptr, {});
  for (auto _ : state) {
    auto bytes = transcoder.JsonToBinary(p.type, p.json);
    benchmark::DoNotOptimize(bytes);
  }
  Label(state, p);
}

// The transcoder: wire bytes -> JSON, by `print(transcoder, payload)`.
template <typename Print>
void TranscoderToJson(benchmark::State& state, Print print) {
  const Payload& p = GetPayload(state.range(0));
  JsonTranscoder transcoder(nullptr, {});
  for (auto _ : state) {
    auto json = print(transcoder, p);
    benchmark::DoNotOptimize(json);
  }
  Label(state, p);
}

void BM_Transcoder_BinaryToJson(benchmark::State& state) {
  TranscoderToJson(state, [](const JsonTranscoder& t, const Payload& p) {
    return t.BinaryToJson(p.type, p.bytes);
  });
}

// The same under the other JSON mappings (range(1): emit_defaults 1, proto_names 2,
// enums_as_numbers 4). Throughput is still counted in bytes of the default mapping's JSON,
// so the figures compare as times.
void BM_Transcoder_BinaryToJsonMapped(benchmark::State& state) {
  JsonMapping mapping;
  mapping.emit_defaults = (state.range(1) & 1) != 0;
  mapping.proto_names = (state.range(1) & 2) != 0;
  mapping.enums_as_numbers = (state.range(1) & 4) != 0;
  TranscoderToJson(state, [&](const JsonTranscoder& t, const Payload& p) {
    return t.BinaryToJson(p.type, p.bytes, mapping);
  });
}

// json_util as the bridge used it before: through a TypeResolver, no message object.
// `convert` is JsonToBinaryString or BinaryToJsonString, given the payload in its input form.
template <typename Convert>
void JsonUtilThroughResolver(benchmark::State& state, std::string Payload::*input,
                             Convert convert) {
  const Payload& p = GetPayload(state.range(0));
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool()));
  const std::string url = "type.googleapis.com/" + p.type->full_name();
  for (auto _ : state) {
    std::string out;
    auto status = convert(resolver.get(), url, p.*input, &out);
    benchmark::DoNotOptimize(status);
  }
  Label(state, p);
}

void BM_JsonUtil_JsonToBinaryString(benchmark::State& state) {
  JsonUtilThroughResolver(state, &Payload::json, [](auto&&... args) {
    return google::protobuf::util::JsonToBinaryString(args...);
  });
}

void BM_JsonUtil_BinaryToJsonString(benchmark::State& state) {
  JsonUtilThroughResolver(state, &Payload::bytes, [](auto&&... args) {
    return google::protobuf::util::BinaryToJsonString(args...);
  });
}

// json_util on a generated message: JsonStringToMessage + serialize, parse + MessageToJsonString.
std::unique_ptr<google::protobuf::Message> NewGenerated(const Descriptor* type) {
  return std::unique_ptr<google::protobuf::Message>(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
}

void BM_JsonUtil_JsonStringToMessage(benchmark::State& state) {
  const Payload& p = GetPayload(state.range(0));
  auto message = NewGenerated(p.type);
  for (auto _ : state) {
    message->Clear();
    auto status = google::protobuf::util::JsonStringToMessage(p.json, message.get());
    std::string out = message->SerializeAsString();
    benchmark::DoNotOptimize(out);
  }
  Label(state, p);
}

void BM_JsonUtil_MessageToJsonString(benchmark::State& state) {
  const Payload& p = GetPayload(state.range(0));
  auto message = NewGenerated(p.type);
  for (auto _ : state) {
    message->ParseFromString(p.bytes);
    std::string out;
    auto status = google::protobuf::util::MessageToJsonString(*message, &out);
    benchmark::DoNotOptimize(out);
  }
  Label(state, p);
}

// The parsers alone, on the same text.
void BM_Parse_Simdjson(benchmark::State& state) {
  const Payload& p = GetPayload(state.range(0));
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element root;
    auto error = parser.parse(p.json).get(root);
    benchmark::DoNotOptimize(error);
  }
  Label(state, p);
}

void BM_Parse_RapidJson(benchmark::State& state) {
  const Payload& p = GetPayload(state.range(0));
  for (auto _ : state) {
    rapidjson::Document document;
    document.Parse(p.json.data(), p.json.size());
    benchmark::DoNotOptimize(document.HasParseError());
  }
  Label(state, p);
}

BENCHMARK(BM_Transcoder_JsonToBinary)->DenseRange(0, 2);
BENCHMARK(BM_JsonUtil_JsonToBinaryString)->DenseRange(0, 2);
BENCHMARK(BM_JsonUtil_JsonStringToMessage)->DenseRange(0, 2);
BENCHMARK(BM_Transcoder_BinaryToJson)->DenseRange(0, 2);
BENCHMARK(BM_Transcoder_BinaryToJsonMapped)->ArgsProduct({{0, 1, 2}, {1, 2, 4, 7}});
BENCHMARK(BM_JsonUtil_BinaryToJsonString)->DenseRange(0, 2);
BENCHMARK(BM_JsonUtil_MessageToJsonString)->DenseRange(0, 2);
BENCHMARK(BM_Parse_Simdjson)->DenseRange(0, 2);
BENCHMARK(BM_Parse_RapidJson)->DenseRange(0, 2);

}  // namespace
}  // namespace bridge::transcode
