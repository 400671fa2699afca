#include "bridge/transcode/json_to_wire.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "bridge/transcode/json_text.h"
#include "bridge/transcode/wire.h"
#include "simdjson.h"

namespace bridge::transcode {
namespace {

namespace dom = ::simdjson::dom;
using ::google::protobuf::FieldDescriptor;
using Kind = dom::element_type;

// Nesting depth of messages (map entries included) that protobuf's parser accepts.
constexpr int kMaxDepth = 100;
// Nesting depth of JSON objects (arrays not counted) that json_util's parser accepts.
constexpr int kMaxObjectDepth = 100;
// Documents above this size are parsed with a parser that is freed afterwards.
constexpr size_t kLargeDocument = 256 * 1024;
constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com/";

// One bit per field (or oneof) of the object being read: in place up to 128.
class BitSet {
 public:
  explicit BitSet(size_t bits) {
    if (bits > 128) {
      heap_ = std::make_unique<uint64_t[]>((bits + 63) / 64);
      words_ = heap_.get();
    }
  }
  BitSet(const BitSet&) = delete;
  BitSet& operator=(const BitSet&) = delete;

  bool Test(size_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  void Set(size_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }

 private:
  uint64_t inline_[2] = {0, 0};
  std::unique_ptr<uint64_t[]> heap_;  // zeroed by make_unique
  uint64_t* words_ = inline_;
};

// The keys of one JSON object seen so far, to refuse repeated map keys.
class KeySet {
 public:
  bool Insert(std::string_view key) {
    if (large_.empty()) {
      for (std::string_view k : small_) {
        if (k == key) return false;
      }
      small_.push_back(key);
      if (small_.size() <= kSmall) return true;
      for (std::string_view k : small_) large_.emplace(absl::string_view(k.data(), k.size()));
      return true;
    }
    return large_.emplace(absl::string_view(key.data(), key.size())).second;
  }

 private:
  static constexpr size_t kSmall = 16;
  absl::InlinedVector<std::string_view, kSmall + 1> small_;
  absl::flat_hash_set<absl::string_view> large_;
};

std::string Describe(dom::element v) {
  std::string s = simdjson::to_string(v);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

std::string KeySegment(std::string_view key) {
  std::string s = "[\"";
  s.append(key);
  s += "\"]";
  return s;
}

// JSON numbers (and numeric strings) as json_util converts them to each field type.
bool DoubleIsIntegral(double d) { return std::isfinite(d) && std::trunc(d) == d; }

bool ToInt32(dom::element v, int32_t* out) {
  int64_t wide;
  switch (v.type()) {
    case Kind::INT64:
      wide = v.get_int64().value_unsafe();
      break;
    case Kind::UINT64:
      return false;  // above INT64_MAX
    case Kind::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!DoubleIsIntegral(d)) return false;
      if (d < std::numeric_limits<int32_t>::min() || d > std::numeric_limits<int32_t>::max()) {
        return false;
      }
      wide = static_cast<int64_t>(d);
      break;
    }
    case Kind::STRING:
      if (!ParseIntString(v.get_string().value_unsafe(), std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max(), &wide)) {
        return false;
      }
      break;
    default:
      return false;
  }
  if (wide < std::numeric_limits<int32_t>::min() || wide > std::numeric_limits<int32_t>::max()) {
    return false;
  }
  *out = static_cast<int32_t>(wide);
  return true;
}

bool ToInt64(dom::element v, int64_t* out) {
  switch (v.type()) {
    case Kind::INT64:
      *out = v.get_int64().value_unsafe();
      return true;
    case Kind::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!DoubleIsIntegral(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        return false;
      }
      *out = static_cast<int64_t>(d);
      return true;
    }
    case Kind::STRING:
      return ParseIntString(v.get_string().value_unsafe(), std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), out);
    default:
      return false;
  }
}

bool ToUint64(dom::element v, uint64_t max, uint64_t* out) {
  uint64_t value;
  switch (v.type()) {
    case Kind::INT64: {
      const int64_t x = v.get_int64().value_unsafe();
      if (x < 0) return false;
      value = static_cast<uint64_t>(x);
      break;
    }
    case Kind::UINT64:
      value = v.get_uint64().value_unsafe();
      break;
    case Kind::DOUBLE: {
      const double d = v.get_double().value_unsafe();
      if (!DoubleIsIntegral(d) || d < 0 || d >= 18446744073709551616.0) return false;
      value = static_cast<uint64_t>(d);
      break;
    }
    case Kind::STRING:
      return ParseUintString(v.get_string().value_unsafe(), max, out);
    default:
      return false;
  }
  if (value > max) return false;
  *out = value;
  return true;
}

bool ToDouble(dom::element v, double* out) {
  switch (v.type()) {
    case Kind::INT64:
      *out = static_cast<double>(v.get_int64().value_unsafe());
      return true;
    case Kind::UINT64:
      *out = static_cast<double>(v.get_uint64().value_unsafe());
      return true;
    case Kind::DOUBLE:
      *out = v.get_double().value_unsafe();
      return true;
    case Kind::STRING:
      return ParseDoubleString(v.get_string().value_unsafe(), out);
    default:
      return false;
  }
}

bool ToFloat(dom::element v, float* out) {
  if (v.type() == Kind::STRING) return ParseFloatString(v.get_string().value_unsafe(), out);
  double d;
  if (!ToDouble(v, &d)) return false;
  const float f = static_cast<float>(d);
  if (std::isinf(f) && std::isfinite(d)) return false;  // rounds beyond the float range
  *out = f;
  return true;
}

bool ToBool(dom::element v, bool* out) {
  if (v.type() == Kind::BOOL) {
    *out = v.get_bool().value_unsafe();
    return true;
  }
  return v.type() == Kind::STRING && ParseBoolString(v.get_string().value_unsafe(), out);
}

bool HoldsArrays(const FieldPlan& f) {
  return f.message != nullptr && (f.message->well_known == WellKnownType::kValue ||
                                  f.message->well_known == WellKnownType::kListValue);
}

bool NullIsAValue(const FieldPlan& f) {
  return (f.message != nullptr && f.message->well_known == WellKnownType::kValue) ||
         (f.enumeration != nullptr && f.enumeration->is_null_value());
}

// What writing one value did.
enum class Wrote { kValue, kNothing, kFailed };

// Reads a JSON tree into wire bytes, one message at a time.
class Reader {
 public:
  Reader(PlanCache* cache, const JsonToWireOptions& options, wire::WireWriter* out,
         TranscodeFailure* failure)
      : cache_(cache), options_(options), out_(out), failure_(failure) {}

  // The content (no tag, no length) of a message of type `plan` at nesting `depth`, from any
  // JSON value its JSON form allows.
  bool MessageValue(const MessagePlan& plan, dom::element v, int depth) {
    if (depth > kMaxDepth) return failure_->Fail("messages nested too deeply");
    const Kind kind = v.type();
    ObjectLevel level(this, kind == Kind::OBJECT && plan.well_known != WellKnownType::kValue);
    if (level.TooDeep()) return failure_->Fail("JSON objects nested too deeply");
    switch (plan.well_known) {
      case WellKnownType::kNone:
      case WellKnownType::kEmpty:
        break;
      case WellKnownType::kAny:
        if (kind == Kind::OBJECT) return Any(plan, v.get_object().value_unsafe());
        break;
      case WellKnownType::kTimestamp:
      case WellKnownType::kDuration:
      case WellKnownType::kFieldMask:
        if (kind == Kind::STRING) return TimeOrMask(plan, v);
        if (kind == Kind::NULL_VALUE) return true;
        break;
      case WellKnownType::kStruct:
        if (kind == Kind::OBJECT) return Struct(v.get_object().value_unsafe(), depth);
        if (kind == Kind::NULL_VALUE) return true;
        break;
      case WellKnownType::kValue:
        return Value(v, depth);
      case WellKnownType::kListValue:
        if (kind == Kind::ARRAY) return List(v.get_array().value_unsafe(), depth);
        if (kind == Kind::NULL_VALUE) return true;
        break;
      default:  // the wrappers
        if (kind == Kind::NULL_VALUE) return true;
        if (kind != Kind::OBJECT && kind != Kind::ARRAY) {
          return Scalar(plan.fields[0], v, /*tagged=*/true, /*omit_default=*/!explicit_) !=
                 Wrote::kFailed;
        }
        break;
    }
    if (kind != Kind::OBJECT) {
      return failure_->Fail("expected a JSON object for " + plan.descriptor->full_name() +
                            ", got " + Describe(v));
    }
    return Object(plan, v.get_object().value_unsafe(), depth, nullptr);
  }

 private:
  // The fields of a message, from a JSON object. `skip` is the key of an Any's "@type".
  bool Object(const MessagePlan& plan, dom::object object, int depth, const char* skip) {
    BitSet seen(plan.fields.size());
    BitSet oneofs(plan.oneof_names.size());
    size_t hint = 0;  // clients tend to send fields in order: try the next one first
    for (dom::key_value_pair member : object) {
      const std::string_view key = member.key;
      if (key.data() == skip) continue;
      int index;
      if (hint < plan.fields.size() && SameName(plan.fields[hint].json_name, key)) {
        index = static_cast<int>(hint);
      } else {
        index = plan.FindByName(key);
        if (index < 0) {
          if (options_.ignore_unknown_fields) continue;
          failure_->Fail("unknown field");
          return failure_->In(key);
        }
      }
      hint = index + 1;
      const FieldPlan& f = plan.fields[index];
      const dom::element value = member.value;
      if (value.is_null() && !NullIsAValue(f)) continue;  // null means absent
      if (f.oneof >= 0 && oneofs.Test(f.oneof)) {
        failure_->Fail("oneof '" + plan.oneof_names[f.oneof] + "' is already set");
        return failure_->In(key);
      }
      const bool again = seen.Test(index);
      // A repeated key merges into what came before; json_util writes every value it is
      // given, so the later one overrides even with defaults. Do the same below this point.
      const bool was_explicit = explicit_;
      explicit_ = explicit_ || again;
      Wrote wrote;
      if (f.map) {
        wrote = Map(f, value, depth) ? Wrote::kValue : Wrote::kFailed;
      } else if (f.repeated) {
        wrote = Repeated(f, value, depth) ? Wrote::kValue : Wrote::kFailed;
      } else {
        // A field without presence skips its default, unless it overrides an earlier value.
        wrote = Singular(f, value, depth, /*omit_default=*/!f.presence && !explicit_);
      }
      explicit_ = was_explicit;
      if (wrote == Wrote::kFailed) return failure_->In(key);
      seen.Set(index);
      if (f.oneof >= 0 && wrote == Wrote::kValue) oneofs.Set(f.oneof);
    }
    return true;
  }

  Wrote Singular(const FieldPlan& f, dom::element v, int depth, bool omit_default) {
    if (f.message != nullptr) {
      return MessageField(f, v, depth) ? Wrote::kValue : Wrote::kFailed;
    }
    if (v.is_null()) return NullEnum(f, omit_default);
    return Scalar(f, v, /*tagged=*/true, omit_default);
  }

  // google.protobuf.NullValue from JSON null.
  Wrote NullEnum(const FieldPlan& f, bool omit_default) {
    if (omit_default) return Wrote::kNothing;
    out_->Raw(f.tag, f.tag_size);
    out_->Varint(0);
    return Wrote::kValue;
  }

  // Tag, length and content of message field `f`.
  bool MessageField(const FieldPlan& f, dom::element v, int depth) {
    out_->Raw(f.tag, f.tag_size);
    if (f.type == FieldDescriptor::TYPE_GROUP) {
      if (!MessageValue(*f.message, v, depth + 1)) return false;
      out_->Varint(wire::MakeTag(f.number, wire::kEndGroup));
      return true;
    }
    const size_t mark = out_->BeginLength();
    if (!MessageValue(*f.message, v, depth + 1)) return false;
    out_->EndLength(mark);
    return true;
  }

  // A JSON array (nested arrays flattened) or, as json_util allows, a single value.
  bool Repeated(const FieldPlan& f, dom::element v, int depth) {
    if (f.packed) {
      out_->Raw(f.packed_tag, f.packed_tag_size);
      const size_t start = out_->size() - f.packed_tag_size;
      const size_t mark = out_->BeginLength();
      if (!Elements(f, v, depth)) return false;
      if (out_->size() == mark + 1) {
        out_->Truncate(start);  // no values: no field
      } else {
        out_->EndLength(mark);
      }
      return true;
    }
    return Elements(f, v, depth);
  }

  // Arrays in arrays add to the same field, except where an array is itself a value (Value,
  // ListValue).
  bool Elements(const FieldPlan& f, dom::element v, int depth, bool outer = true) {
    if (v.type() != Kind::ARRAY || (!outer && HoldsArrays(f))) return Element(f, v, depth);
    size_t i = 0;
    const dom::array array = v.get_array().value_unsafe();
    for (dom::element e : array) {
      if (!Elements(f, e, depth, /*outer=*/false)) return failure_->AtIndex(i);
      ++i;
    }
    return true;
  }

  bool Element(const FieldPlan& f, dom::element v, int depth) {
    if (v.is_null()) {
      if (!NullIsAValue(f)) return true;  // json_util drops nulls from lists
      if (f.message == nullptr) {
        if (!f.packed) out_->Raw(f.tag, f.tag_size);
        out_->Varint(0);
        return true;
      }
    }
    if (f.message != nullptr) return MessageField(f, v, depth);
    return Scalar(f, v, /*tagged=*/!f.packed, /*omit_default=*/false) != Wrote::kFailed;
  }

  bool Map(const FieldPlan& f, dom::element v, int depth) {
    if (v.type() != Kind::OBJECT) {
      return failure_->Fail("expected a JSON object for a map, got " + Describe(v));
    }
    ObjectLevel level(this, true);
    if (level.TooDeep()) return failure_->Fail("JSON objects nested too deeply");
    const FieldPlan& key_field = f.message->fields[0];
    const FieldPlan& value_field = f.message->fields[1];
    KeySet keys;
    const dom::object object = v.get_object().value_unsafe();
    for (dom::key_value_pair member : object) {
      const std::string_view key = member.key;
      if (!keys.Insert(key)) {
        failure_->Fail("repeated map key");
        return failure_->In(KeySegment(key));
      }
      out_->Raw(f.tag, f.tag_size);
      const size_t mark = out_->BeginLength();
      if (!MapKey(key_field, key) || !MapValue(value_field, member.value, depth + 1)) {
        return failure_->In(KeySegment(key));
      }
      out_->EndLength(mark);
    }
    return true;
  }

  bool MapKey(const FieldPlan& f, std::string_view key) {
    out_->Raw(f.tag, f.tag_size);
    if (f.type == FieldDescriptor::TYPE_STRING) {
      out_->LengthDelimited(key);
      return true;
    }
    bool ok;
    uint64_t bits = 0;
    switch (f.type) {
      case FieldDescriptor::TYPE_BOOL: {
        bool b = false;
        ok = ParseBoolString(key, &b);
        bits = b;
        break;
      }
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        ok = ParseUintString(key, std::numeric_limits<uint32_t>::max(), &bits);
        break;
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        ok = ParseUintString(key, std::numeric_limits<uint64_t>::max(), &bits);
        break;
      default: {
        const bool wide = f.type == FieldDescriptor::TYPE_INT64 ||
                          f.type == FieldDescriptor::TYPE_SINT64 ||
                          f.type == FieldDescriptor::TYPE_SFIXED64;
        int64_t n = 0;
        ok = ParseIntString(
            key, wide ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int32_t>::min(),
            wide ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int32_t>::max(), &n);
        bits = IntegerBits(f.type, n);
        break;
      }
    }
    if (!ok) return failure_->Fail("invalid map key for a " + TypeName(f) + " key");
    WriteBits(f, bits);
    return true;
  }

  // A map entry's value: null (or an ignored unknown enum name) is the default value.
  bool MapValue(const FieldPlan& f, dom::element v, int depth) {
    if (v.is_null() && !NullIsAValue(f)) {
      out_->Raw(f.tag, f.tag_size);
      if (f.message != nullptr || f.wire_type == wire::kLengthDelimited) {
        out_->Varint(0);
      } else {
        WriteBits(f, 0);
      }
      return true;
    }
    if (f.message != nullptr) return MessageField(f, v, depth);
    switch (v.is_null() ? NullEnum(f, false) : Scalar(f, v, /*tagged=*/true, false)) {
      case Wrote::kValue:
        return true;
      case Wrote::kNothing:
        out_->Raw(f.tag, f.tag_size);
        out_->Varint(0);
        return true;
      case Wrote::kFailed:
        break;
    }
    return false;
  }

  // A value of non-message field `f`, with its tag when `tagged`.
  Wrote Scalar(const FieldPlan& f, dom::element v, bool tagged, bool omit_default) {
    switch (f.type) {
      case FieldDescriptor::TYPE_STRING: {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return Invalid(f, v);
        if (omit_default && s.empty()) return Wrote::kNothing;
        if (tagged) out_->Raw(f.tag, f.tag_size);
        out_->LengthDelimited(s);
        return Wrote::kValue;
      }
      case FieldDescriptor::TYPE_BYTES:
        return Bytes(f, v, tagged, omit_default);
      case FieldDescriptor::TYPE_ENUM:
        return Enum(f, v, tagged, omit_default);
      default:
        break;
    }
    uint64_t bits;
    if (!NumericBits(f, v, &bits)) return Invalid(f, v);
    if (omit_default && bits == 0) return Wrote::kNothing;
    if (tagged) out_->Raw(f.tag, f.tag_size);
    WriteBits(f, bits);
    return Wrote::kValue;
  }

  Wrote Bytes(const FieldPlan& f, dom::element v, bool tagged, bool omit_default) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) return Invalid(f, v);
    const size_t start = out_->size();
    const size_t size = Base64DecodedSize(s);
    out_->Reserve(f.tag_size + 10 + size);
    if (tagged) out_->Raw(f.tag, f.tag_size);
    out_->Varint(size);
    if (!Base64DecodeTo(s, out_->Cursor())) {
      out_->Truncate(start);
      failure_->Fail("invalid base64 " + Describe(v) + " for a bytes field");
      return Wrote::kFailed;
    }
    out_->Advance(size);
    if (omit_default && size == 0) {
      out_->Truncate(start);
      return Wrote::kNothing;
    }
    return Wrote::kValue;
  }

  Wrote Enum(const FieldPlan& f, dom::element v, bool tagged, bool omit_default) {
    int32_t number;
    if (v.type() == Kind::STRING) {
      const std::string_view name = v.get_string().value_unsafe();
      int64_t n;
      if (f.enumeration->FindNumber(name, &number)) {
      } else if (ParseIntString(name, std::numeric_limits<int32_t>::min(),
                                std::numeric_limits<int32_t>::max(), &n) &&
                 f.enumeration->Contains(static_cast<int32_t>(n))) {
        number = static_cast<int32_t>(n);
      } else if (options_.ignore_unknown_fields) {
        return Wrote::kNothing;
      } else {
        failure_->Fail("unknown value " + Describe(v) + " for enum " +
                       f.enumeration->descriptor()->full_name());
        return Wrote::kFailed;
      }
    } else if (!ToInt32(v, &number)) {
      return Invalid(f, v);
    }
    if (omit_default && number == 0) return Wrote::kNothing;
    if (tagged) out_->Raw(f.tag, f.tag_size);
    out_->Varint(static_cast<uint64_t>(static_cast<int64_t>(number)));
    return Wrote::kValue;
  }

  // The wire bits of a number or bool for field `f`.
  static bool NumericBits(const FieldPlan& f, dom::element v, uint64_t* bits) {
    switch (f.type) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32: {
        int32_t x;
        if (!ToInt32(v, &x)) return false;
        *bits = IntegerBits(f.type, x);
        return true;
      }
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64: {
        int64_t x;
        if (!ToInt64(v, &x)) return false;
        *bits = IntegerBits(f.type, x);
        return true;
      }
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return ToUint64(v, std::numeric_limits<uint32_t>::max(), bits);
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return ToUint64(v, std::numeric_limits<uint64_t>::max(), bits);
      case FieldDescriptor::TYPE_DOUBLE: {
        double d;
        if (!ToDouble(v, &d)) return false;
        *bits = wire::BitCast<uint64_t>(d);
        return true;
      }
      case FieldDescriptor::TYPE_FLOAT: {
        float x;
        if (!ToFloat(v, &x)) return false;
        *bits = wire::BitCast<uint32_t>(x);
        return true;
      }
      case FieldDescriptor::TYPE_BOOL: {
        bool b;
        if (!ToBool(v, &b)) return false;
        *bits = b;
        return true;
      }
      default:
        return false;
    }
  }

  static uint64_t IntegerBits(FieldDescriptor::Type type, int64_t x) {
    switch (type) {
      case FieldDescriptor::TYPE_SINT32:
        return wire::ZigZagEncode32(static_cast<int32_t>(x));
      case FieldDescriptor::TYPE_SINT64:
        return wire::ZigZagEncode64(x);
      case FieldDescriptor::TYPE_SFIXED32:
        return static_cast<uint32_t>(x);
      default:
        return static_cast<uint64_t>(x);
    }
  }

  void WriteBits(const FieldPlan& f, uint64_t bits) {
    switch (f.wire_type) {
      case wire::kFixed32:
        out_->Fixed32(static_cast<uint32_t>(bits));
        break;
      case wire::kFixed64:
        out_->Fixed64(bits);
        break;
      default:
        out_->Varint(bits);
        break;
    }
  }

  static std::string TypeName(const FieldPlan& f) {
    return f.enumeration != nullptr ? f.enumeration->descriptor()->full_name()
                                    : f.descriptor->type_name();
  }

  Wrote Invalid(const FieldPlan& f, dom::element v) {
    failure_->Fail("invalid value " + Describe(v) + " for a " + TypeName(f) + " field");
    return Wrote::kFailed;
  }

  // google.protobuf.Timestamp, Duration and FieldMask from their strings.
  bool TimeOrMask(const MessagePlan& plan, dom::element v) {
    const std::string_view text = v.get_string().value_unsafe();
    if (plan.well_known == WellKnownType::kFieldMask) {
      std::vector<std::string> paths;
      if (!ParseFieldMask(text, &paths)) {
        return failure_->Fail("invalid FieldMask " + Describe(v));
      }
      for (const std::string& path : paths) {
        out_->Raw("\x0a", 1);
        out_->LengthDelimited(path);
      }
      return true;
    }
    int64_t seconds;
    int32_t nanos;
    const bool timestamp = plan.well_known == WellKnownType::kTimestamp;
    if (timestamp ? !ParseTimestamp(text, &seconds, &nanos)
                  : !ParseDuration(text, &seconds, &nanos)) {
      return failure_->Fail(std::string("invalid ") + (timestamp ? "Timestamp " : "Duration ") +
                            Describe(v));
    }
    if (seconds != 0 || explicit_) {
      out_->Raw("\x08", 1);
      out_->Varint(static_cast<uint64_t>(seconds));
    }
    if (nanos != 0 || explicit_) {
      out_->Raw("\x10", 1);
      out_->Varint(static_cast<uint64_t>(static_cast<int64_t>(nanos)));
    }
    return true;
  }

  // google.protobuf.Struct: map<string, Value> fields = 1.
  bool Struct(dom::object object, int depth) {
    if (depth > kMaxDepth) return failure_->Fail("messages nested too deeply");
    KeySet keys;
    for (dom::key_value_pair member : object) {
      const std::string_view key = member.key;
      if (!keys.Insert(key)) {
        failure_->Fail("repeated map key");
        return failure_->In(KeySegment(key));
      }
      out_->Raw("\x0a", 1);
      const size_t entry = out_->BeginLength();
      out_->Raw("\x0a", 1);
      out_->LengthDelimited(key);
      out_->Raw("\x12", 1);
      const size_t value = out_->BeginLength();
      if (!Value(member.value, depth + 2)) return failure_->In(KeySegment(key));
      out_->EndLength(value);
      out_->EndLength(entry);
    }
    return true;
  }

  // google.protobuf.Value: oneof kind { null_value = 1; number_value = 2; string_value = 3;
  // bool_value = 4; struct_value = 5; list_value = 6; }.
  bool Value(dom::element v, int depth) {
    if (depth > kMaxDepth) return failure_->Fail("messages nested too deeply");
    switch (v.type()) {
      case Kind::NULL_VALUE:
        out_->Raw("\x08\x00", 2);
        return true;
      case Kind::BOOL:
        out_->Raw(v.get_bool().value_unsafe() ? "\x20\x01" : "\x20\x00", 2);
        return true;
      case Kind::STRING:
        out_->Raw("\x1a", 1);
        out_->LengthDelimited(v.get_string().value_unsafe());
        return true;
      case Kind::OBJECT: {
        ObjectLevel level(this, true);
        if (level.TooDeep()) return failure_->Fail("JSON objects nested too deeply");
        out_->Raw("\x2a", 1);
        const size_t mark = out_->BeginLength();
        if (!Struct(v.get_object().value_unsafe(), depth + 1)) return false;
        out_->EndLength(mark);
        return true;
      }
      case Kind::ARRAY: {
        out_->Raw("\x32", 1);
        const size_t mark = out_->BeginLength();
        if (!List(v.get_array().value_unsafe(), depth + 1)) return false;
        out_->EndLength(mark);
        return true;
      }
      default: {
        double d;
        ToDouble(v, &d);
        out_->Raw("\x11", 1);
        out_->Fixed64(wire::BitCast<uint64_t>(d));
        return true;
      }
    }
  }

  // google.protobuf.ListValue: repeated Value values = 1.
  bool List(dom::array array, int depth) {
    if (depth > kMaxDepth) return failure_->Fail("messages nested too deeply");
    size_t i = 0;
    for (dom::element e : array) {
      out_->Raw("\x0a", 1);
      const size_t mark = out_->BeginLength();
      if (!Value(e, depth + 1)) return failure_->AtIndex(i);
      out_->EndLength(mark);
      ++i;
    }
    return true;
  }

  // google.protobuf.Any: {"@type": "type.googleapis.com/pkg.Type", ...fields} or, for types
  // with a JSON form of their own, {"@type": ..., "value": <that form>}.
  bool Any(const MessagePlan& any, dom::object object) {
    const char* type_key = nullptr;
    dom::element type_value;
    for (dom::key_value_pair member : object) {
      if (member.key == "@type") {
        type_key = member.key.data();
        type_value = member.value;
        break;
      }
    }
    if (type_key == nullptr) {
      if (object.size() == 0) return true;
      return failure_->Fail("an Any needs a \"@type\"");
    }
    std::string_view url;
    if (type_value.get_string().get(url) != simdjson::SUCCESS) {
      failure_->Fail("\"@type\" must be a string, got " + Describe(type_value));
      return failure_->In("@type");
    }
    const MessagePlan* type = nullptr;
    if (url.substr(0, kTypeUrlPrefix.size()) == kTypeUrlPrefix) {
      type = cache_->FindByName(any, url.substr(kTypeUrlPrefix.size()));
    }
    if (type == nullptr) {
      failure_->Fail("unknown type \"" + std::string(url) + "\" (type URLs are " +
                     std::string(kTypeUrlPrefix) + "<full type name>)");
      return failure_->In("@type");
    }
    out_->Raw("\x0a", 1);
    out_->LengthDelimited(url);
    const size_t start = out_->size();
    out_->Raw("\x12", 1);
    const size_t mark = out_->BeginLength();
    // The content is a message of its own; protobuf's parser does not descend into it.
    if (!AnyContent(*type, object, type_key)) return false;
    if (out_->size() == mark + 1) {
      out_->Truncate(start);  // no content: no value field
    } else {
      out_->EndLength(mark);
    }
    return true;
  }

  bool AnyContent(const MessagePlan& type, dom::object object, const char* type_key) {
    switch (type.well_known) {
      case WellKnownType::kNone:
      case WellKnownType::kEmpty:
        return Object(type, object, 0, type_key);
      case WellKnownType::kListValue:
        return failure_->Fail("json_util cannot read a google.protobuf.ListValue in an Any");
      default:
        break;
    }
    for (dom::key_value_pair member : object) {
      if (member.key.data() == type_key) continue;
      if (member.key != "value") {
        failure_->Fail("an Any holding " + type.descriptor->full_name() +
                       " has only \"@type\" and \"value\"");
        return failure_->In(member.key);
      }
      if (!MessageValue(type, member.value, 0)) return failure_->In("value");
    }
    return true;
  }

  // Counts one level of JSON object nesting while in scope.
  class ObjectLevel {
   public:
    ObjectLevel(Reader* reader, bool counts) : reader_(counts ? reader : nullptr) {
      if (reader_ != nullptr) ++reader_->objects_;
    }
    ~ObjectLevel() {
      if (reader_ != nullptr) --reader_->objects_;
    }
    bool TooDeep() const { return reader_ != nullptr && reader_->objects_ > kMaxObjectDepth; }

   private:
    Reader* reader_;
  };

  PlanCache* cache_;
  const JsonToWireOptions& options_;
  wire::WireWriter* out_;
  TranscodeFailure* failure_;
  bool explicit_ = false;  // write default values too (see Object)
  int objects_ = 0;        // JSON objects open
};

}  // namespace

bool JsonToWire(PlanCache* cache, const MessagePlan& plan, std::string_view json,
                const JsonToWireOptions& options, std::string* out, TranscodeFailure* failure) {
  // Each thread keeps a parser sized for the documents it has seen; a rare large one gets a
  // parser of its own, so that its memory is not kept.
  thread_local dom::parser cached;
  std::unique_ptr<dom::parser> large;
  dom::parser* parser = &cached;
  if (json.size() > kLargeDocument) {
    large = std::make_unique<dom::parser>();
    parser = large.get();
  }
  dom::element root;
  const simdjson::error_code error = parser->parse(json.data(), json.size()).get(root);
  if (error != simdjson::SUCCESS) {
    return failure->Fail(std::string("invalid JSON: ") + simdjson::error_message(error));
  }
  out->clear();
  if (root.is_null()) return true;
  out->reserve(json.size() / 2 + 64);  // wire bytes usually take half the JSON's size
  wire::WireWriter writer(out);
  Reader reader(cache, options, &writer, failure);
  const bool ok = reader.MessageValue(plan, root, 0);
  writer.Finish();
  return ok;
}

}  // namespace bridge::transcode
