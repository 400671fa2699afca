// Transcoding plans: for each message type, what the JSON <-> protobuf transcoder needs to know
// about its fields, computed once from the descriptor (wire tags pre-encoded, JSON keys
// pre-escaped, names hashed for lookup, nested types linked) so that transcoding never
// consults descriptors or reflection.
//
// PlanCache builds plans on first use and keeps them for its lifetime. It is thread-safe: any
// number of threads may call Get at once; a plan, once returned, is immutable and may be read
// from any thread without locking.
#ifndef BRIDGE_TRANSCODE_MESSAGE_PLAN_H_
#define BRIDGE_TRANSCODE_MESSAGE_PLAN_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "bridge/transcode/wire.h"
#include "google/protobuf/descriptor.h"

namespace bridge::transcode {

// Message types with a JSON form of their own.
enum class WellKnownType : uint8_t {
  kNone,
  kAny,
  kTimestamp,
  kDuration,
  kFieldMask,
  kStruct,
  kValue,
  kListValue,
  kEmpty,
  kDoubleValue,
  kFloatValue,
  kInt64Value,
  kUInt64Value,
  kInt32Value,
  kUInt32Value,
  kBoolValue,
  kStringValue,
  kBytesValue,
};

// True for the wrappers (Int32Value, StringValue, ...): JSON is the wrapped value.
bool IsWrapper(WellKnownType type);

// a == b for short strings such as field names, without a call to memcmp.
inline bool SameName(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  auto load8 = [](const char* s) {
    uint64_t v;
    std::memcpy(&v, s, 8);
    return v;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (load8(p + i) != load8(q + i)) return false;
    }
    return load8(p + n - 8) == load8(q + n - 8);
  }
  if (n >= 4) {
    uint32_t x, y, z, w;
    std::memcpy(&x, p, 4);
    std::memcpy(&y, q, 4);
    std::memcpy(&z, p + n - 4, 4);
    std::memcpy(&w, q + n - 4, 4);
    return x == y && z == w;
  }
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

struct MessagePlan;

// An enum type: names by number for output, numbers by name for input.
class EnumPlan {
 public:
  explicit EnumPlan(const google::protobuf::EnumDescriptor* descriptor);

  // The quoted name of `number` ("\"COLOR_RED\""), or nullptr when the enum has no such value.
  const std::string* QuotedName(int32_t number) const;
  bool FindNumber(std::string_view name, int32_t* number) const;
  bool Contains(int32_t number) const { return QuotedName(number) != nullptr; }

  const google::protobuf::EnumDescriptor* descriptor() const { return descriptor_; }
  // Proto2 enums keep only the numbers they declare; others go to unknown fields.
  bool closed() const { return closed_; }
  // google.protobuf.NullValue, written as JSON null.
  bool is_null_value() const { return is_null_value_; }

 private:
  const google::protobuf::EnumDescriptor* descriptor_;
  bool closed_;
  bool is_null_value_;
  int32_t dense_min_ = 0;
  std::vector<const std::string*> dense_;  // by number - dense_min_, when the range is small
  absl::flat_hash_map<int32_t, const std::string*> sparse_;
  std::vector<std::string> quoted_names_;
  absl::flat_hash_map<std::string, int32_t> numbers_;
};

// One field of a message type.
struct FieldPlan {
  const google::protobuf::FieldDescriptor* descriptor = nullptr;
  google::protobuf::FieldDescriptor::Type type = google::protobuf::FieldDescriptor::TYPE_INT32;
  uint32_t number = 0;
  wire::WireType wire_type = wire::kVarint;  // of one value
  bool repeated = false;
  bool map = false;
  bool packable = false;  // a repeated scalar: packed on input, written packed when `packed`
  bool packed = false;
  bool presence = false;    // singular, and set even when it holds the default value
  bool utf8 = false;        // proto3 string: wire bytes must be UTF-8
  bool real_oneof = false;  // member of a declared oneof (not a proto3 optional)
  int oneof = -1;           // index of the containing oneof, proto3 optional ones included
  const MessagePlan* message = nullptr;  // message, group or map entry type
  const EnumPlan* enumeration = nullptr;
  std::string name;          // as in the .proto
  std::string json_name;     // lowerCamelCase or the json_name option
  std::string json_key;      // "\"jsonName\":", escaped, ready to append
  std::string default_json;  // the default value as JSON, for always_print_primitive_fields
  char tag[5] = {};          // the tag of one value, encoded
  uint8_t tag_size = 0;
  char packed_tag[5] = {};  // the length-delimited tag of a packed run
  uint8_t packed_tag_size = 0;
  // For the other JSON mappings, after what every call reads (they are rarely used).
  std::string proto_key;  // "\"name\":", as json_key with the .proto name (proto_names)
  // A singular enum's default value as a number, for enums_as_numbers; empty otherwise.
  std::string default_number_json;

  std::string_view Tag() const { return std::string_view(tag, tag_size); }
  std::string_view PackedTag() const { return std::string_view(packed_tag, packed_tag_size); }
};

struct MessagePlan {
  const google::protobuf::Descriptor* descriptor = nullptr;
  WellKnownType well_known = WellKnownType::kNone;
  bool map_entry = false;
  std::vector<FieldPlan> fields;         // ordered by field number
  std::vector<int> declaration_order;    // indexes into `fields`, as declared
  std::vector<std::string> oneof_names;  // by FieldPlan::oneof

  // Index into `fields`, or -1.
  int FindByNumber(uint32_t number) const {
    if (number < by_number.size()) return by_number[number];
    return FindByNumberSlow(number);
  }
  // The JSON name or the proto name; index into `fields`, or -1.
  int FindByName(std::string_view name) const;

  // Lookup tables, filled by PlanCache.
  std::vector<int32_t> by_number;  // dense, for numbers below a bound
  struct NameSlot {
    const char* data = nullptr;
    uint32_t size = 0;
    int32_t field = -1;
  };
  std::vector<NameSlot> names;  // open addressing, size a power of two

  int FindByNumberSlow(uint32_t number) const;  // binary search
};

// Builds and owns plans. Thread-safe.
class PlanCache {
 public:
  PlanCache();
  ~PlanCache();
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;

  // The plan of `type` and of every type it reaches, built on first use.
  const MessagePlan* Get(const google::protobuf::Descriptor* type) ABSL_LOCKS_EXCLUDED(mu_);
  // The plan of a type named in an Any, from the pool of `context`; nullptr if unknown.
  const MessagePlan* FindByName(const MessagePlan& context, std::string_view full_name);

 private:
  MessagePlan* Build(const google::protobuf::Descriptor* type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const EnumPlan* BuildEnum(const google::protobuf::EnumDescriptor* type)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillField(const google::protobuf::FieldDescriptor* field, FieldPlan* plan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<const google::protobuf::Descriptor*, std::unique_ptr<MessagePlan>> plans_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<const google::protobuf::EnumDescriptor*, std::unique_ptr<EnumPlan>> enums_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_MESSAGE_PLAN_H_
