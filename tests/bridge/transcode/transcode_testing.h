// Test support for the transcoder: protobuf's own json_util on dynamic messages (the reference
// the transcoder is held to), message comparison, and a seeded generator of random messages
// that sets every field kind, well-known types included. Not thread-safe; one per test.
#ifndef TESTS_BRIDGE_TRANSCODE_TRANSCODE_TESTING_H_
#define TESTS_BRIDGE_TRANSCODE_TRANSCODE_TESTING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"

namespace bridge::transcode::testing {

class Oracle {
 public:
  // With `generated`, messages of types compiled into the binary are generated messages,
  // whose maps keep the last value of a repeated key (a dynamic message keeps every entry,
  // and json_util then prints the key twice).
  explicit Oracle(bool generated = false);

  std::unique_ptr<google::protobuf::Message> New(const google::protobuf::Descriptor* type);
  // JsonStringToMessage. (json_util fails a CHECK on some inputs; that is an Internal error.)
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> ParseJson(
      const google::protobuf::Descriptor* type, std::string_view json,
      bool ignore_unknown_fields = false);
  // MessageToJsonString.
  absl::StatusOr<std::string> PrintJson(const google::protobuf::Message& message,
                                        bool always_print_primitive_fields = false,
                                        bool preserve_proto_field_names = false,
                                        bool enums_as_ints = false);
  // ParseFromString.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> ParseBinary(
      const google::protobuf::Descriptor* type, std::string_view bytes);

 private:
  google::protobuf::DynamicMessageFactory factory_;
  const bool generated_;
};

// Calls `visit` on every message held in a message field of `message` (each element of a
// repeated field, map entries included), not recursing. `visit` returns false to stop;
// returns false when it did.
template <typename Visit>
bool ForEachSubmessage(google::protobuf::Message* message, Visit visit) {
  const auto* r = message->GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(*message, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      if (!visit(f, r->MutableMessage(message, f))) return false;
      continue;
    }
    for (int i = 0; i < r->FieldSize(*message, f); ++i) {
      if (!visit(f, r->MutableRepeatedMessage(message, f, i))) return false;
    }
  }
  return true;
}

// The message inside an Any, when its type is in the Any's pool and its bytes parse; null
// otherwise.
std::unique_ptr<google::protobuf::Message> AnyContent(const google::protobuf::Message& any,
                                                      Oracle* oracle);

// Whether `is` holds for `message` or for a message inside it at any depth (up to 200 levels),
// the contents of every Any included (see AnyContent).
bool ContainsMessage(google::protobuf::Message* message, Oracle* oracle,
                     const std::function<bool(const google::protobuf::Message&)>& is);

// Equal field by field (maps as maps, NaN equal to NaN). Explains the first difference.
bool MessagesEqual(const google::protobuf::Message& a, const google::protobuf::Message& b,
                   std::string* difference);

// Fills messages with random values from a seed, the same messages for the same seed.
class MessageGenerator {
 public:
  explicit MessageGenerator(uint64_t seed) : rng_(seed) {}

  // Sets about half of the fields of `message` (recursing `max_depth` levels), picks oneof
  // members, fills repeated fields and maps, and gives well-known types valid values.
  void Fill(google::protobuf::Message* message, int max_depth = 3);

  // A random string: ASCII, escapes, control characters and multi-byte UTF-8.
  std::string String();
  std::string Bytes();
  double Double();
  float Float();
  int64_t Int64();
  uint64_t Uint64();
  uint32_t Below(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng_); }
  bool OneIn(uint32_t n) { return Below(n) == 0; }

 private:
  void FillField(google::protobuf::Message* message, const google::protobuf::FieldDescriptor* field,
                 int depth);
  void AddValue(google::protobuf::Message* message, const google::protobuf::FieldDescriptor* field,
                int depth);
  bool FillWellKnown(google::protobuf::Message* message, int depth);
  void FillValue(google::protobuf::Message* value, int depth);
  std::string Identifier();

  std::mt19937_64 rng_;
};

}  // namespace bridge::transcode::testing

#endif  // TESTS_BRIDGE_TRANSCODE_TRANSCODE_TESTING_H_
