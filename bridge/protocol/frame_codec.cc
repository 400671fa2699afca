#include "bridge/protocol/frame_codec.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bridge/common/json_string.h"
#include "bridge/common/strings.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/time_util.h"
#include "simdjson.h"

namespace bridge::protocol {
namespace {

namespace dom = ::simdjson::dom;
using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::EnumValueDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

constexpr int kMaxBatchDepth = 2;  // a batch may hold frames, not batches of batches

// Debian's Abseil has its own string_view type; simdjson and the project use std's.

bool IsRawJson(const FieldDescriptor* field) {
  return field->type() == FieldDescriptor::TYPE_BYTES &&
         field->options().GetExtension(v1::raw_json);
}

bool IsTimestamp(const Descriptor* d) { return d == ::google::protobuf::Timestamp::descriptor(); }

bool IsFrame(const Descriptor* d) { return d == Frame::descriptor(); }

// "ErrorCategory" -> "ERROR_CATEGORY_".
std::string EnumPrefix(const EnumDescriptor* e) {
  std::string out;
  for (char c : e->name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out.push_back('_');
    out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  out.push_back('_');
  return out;
}

// The JSON name of an enum value: "ERROR_CATEGORY_PROTOCOL_ERROR" -> "protocol_error".
std::string EnumJsonName(const EnumValueDescriptor* v) {
  std::string_view name = v->name();
  const std::string prefix = EnumPrefix(v->type());
  if (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix) {
    name.remove_prefix(prefix.size());
  }
  return absl::AsciiStrToLower(Sv(name));
}

const EnumValueDescriptor* FindEnumByJsonName(const EnumDescriptor* e, std::string_view name) {
  if (const EnumValueDescriptor* v = e->FindValueByName(std::string(name))) return v;
  const std::string upper = EnumPrefix(e) + absl::AsciiStrToUpper(Sv(name));
  return e->FindValueByName(upper);
}

std::string_view JsonTypeName(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

std::string JoinPath(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", Sv(name));
}

class JsonDecoder {
 public:
  DecodeError TakeError() { return std::move(error_); }

  // Decodes a frame object ("type" and the fields of that kind) into `frame`.
  bool DecodeFrameObject(dom::element el, Frame* frame, const std::string& path, int depth) {
    dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
      if (path.empty()) return Fail(DecodeFailure::kNotObject, "", "a frame must be a JSON object");
      return Fail(DecodeFailure::kBadField, path, "must be a frame object");
    }
    dom::element type_el;
    if (obj["type"].get(type_el) != simdjson::SUCCESS || type_el.is_null()) {
      return Fail(DecodeFailure::kMissingType, JoinPath(path, "type"), "missing \"type\"");
    }
    std::string_view type;
    if (type_el.get_string().get(type) != simdjson::SUCCESS) {
      return Fail(DecodeFailure::kBadField, JoinPath(path, "type"), "\"type\" must be a string");
    }
    const FieldDescriptor* kind = Frame::descriptor()->FindFieldByName(std::string(type));
    if (kind == nullptr || kind->containing_oneof() == nullptr) {
      return Fail(DecodeFailure::kUnknownType, JoinPath(path, "type"),
                  absl::StrCat("unknown frame type \"", absl::CHexEscape(Sv(type)), "\""));
    }
    if (kind->message_type() == v1::Batch::descriptor() && depth >= kMaxBatchDepth) {
      return Fail(DecodeFailure::kBadField, JoinPath(path, "type"),
                  "a batch may not contain a batch");
    }
    Message* body = frame->GetReflection()->MutableMessage(frame, kind);
    const Descriptor* d = body->GetDescriptor();
    for (dom::key_value_pair kv : obj) {
      if (kv.key == "type") continue;
      const FieldDescriptor* f = FindField(d, kv.key);
      if (f != nullptr) {
        if (!DecodeField(kv.value, body, f, JoinPath(path, kv.key), depth)) return false;
      } else if (kv.key == "seq" && !kv.value.is_null()) {  // null means no seq, as elsewhere
        uint64_t seq;
        if (!ToUint64(kv.value, JoinPath(path, "seq"), &seq)) return false;
        frame->set_seq(seq);
      }
      // Anything else is unknown and ignored (forward compatibility).
    }
    return true;
  }

 private:
  // A field by its JSON name or, failing that, its original name.
  static const FieldDescriptor* FindField(const Descriptor* d, std::string_view key) {
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->json_name() == key) return f;
    }
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      if (f->name() == key) return f;
    }
    return nullptr;
  }

  bool Fail(DecodeFailure failure, std::string field, std::string message) {
    error_.failure = failure;
    error_.field = std::move(field);
    const bool names_field = failure == DecodeFailure::kBadField;
    error_.message = names_field ? absl::StrCat(error_.field, ": ", message) : std::move(message);
    return false;
  }

  bool WrongType(const std::string& path, std::string_view expected, dom::element v) {
    return Fail(DecodeFailure::kBadField, path,
                absl::StrCat("expected ", Sv(expected), ", got ", Sv(JsonTypeName(v.type()))));
  }

  bool DecodeMessageObject(dom::element v, Message* msg, const std::string& path, int depth) {
    dom::object obj;
    if (v.get_object().get(obj) != simdjson::SUCCESS) return WrongType(path, "an object", v);
    const Descriptor* d = msg->GetDescriptor();
    for (dom::key_value_pair kv : obj) {
      const FieldDescriptor* f = FindField(d, kv.key);
      if (f == nullptr) continue;
      if (!DecodeField(kv.value, msg, f, JoinPath(path, kv.key), depth)) return false;
    }
    return true;
  }

  bool DecodeField(dom::element v, Message* msg, const FieldDescriptor* f, const std::string& path,
                   int depth) {
    if (v.is_null() && !IsRawJson(f)) return true;  // null means the default
    if (f->is_map()) return DecodeMap(v, msg, f, path, depth);
    if (f->is_repeated()) {
      dom::array arr;
      if (v.get_array().get(arr) != simdjson::SUCCESS) return WrongType(path, "an array", v);
      size_t i = 0;
      for (dom::element item : arr) {
        if (!DecodeValue(item, msg, f, absl::StrCat(path, "[", i, "]"), depth)) return false;
        ++i;
      }
      return true;
    }
    return DecodeValue(v, msg, f, path, depth);
  }

  bool DecodeMap(dom::element v, Message* msg, const FieldDescriptor* f, const std::string& path,
                 int depth) {
    dom::object obj;
    if (v.get_object().get(obj) != simdjson::SUCCESS) return WrongType(path, "an object", v);
    const Reflection* r = msg->GetReflection();
    for (dom::key_value_pair kv : obj) {
      Message* entry = r->AddMessage(msg, f);
      const FieldDescriptor* key_f = entry->GetDescriptor()->map_key();
      const FieldDescriptor* value_f = entry->GetDescriptor()->map_value();
      const std::string entry_path = absl::StrCat(path, "[\"", absl::CHexEscape(Sv(kv.key)), "\"]");
      if (!SetMapKey(kv.key, entry, key_f, entry_path)) return false;
      if (!DecodeValue(kv.value, entry, value_f, entry_path, depth)) return false;
    }
    return true;
  }

  bool SetMapKey(std::string_view key, Message* entry, const FieldDescriptor* f,
                 const std::string& path) {
    const Reflection* r = entry->GetReflection();
    auto bad = [&] { return Fail(DecodeFailure::kBadField, path, "bad map key"); };
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(entry, f, std::string(key));
        return true;
      case FieldDescriptor::CPPTYPE_BOOL:
        if (key == "true" || key == "false") {
          r->SetBool(entry, f, key == "true");
          return true;
        }
        return bad();
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t x;
        if (!absl::SimpleAtoi(Sv(key), &x)) return bad();
        r->SetInt32(entry, f, x);
        return true;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t x;
        if (!absl::SimpleAtoi(Sv(key), &x)) return bad();
        r->SetInt64(entry, f, x);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint32_t x;
        if (!absl::SimpleAtoi(Sv(key), &x)) return bad();
        r->SetUInt32(entry, f, x);
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t x;
        if (!absl::SimpleAtoi(Sv(key), &x)) return bad();
        r->SetUInt64(entry, f, x);
        return true;
      }
      default:
        return bad();
    }
  }

  // Integers: JSON numbers with an integral value, or strings holding one.
  bool ToInt64(dom::element v, const std::string& path, int64_t* out) {
    switch (v.type()) {
      case dom::element_type::INT64:
        *out = v.get_int64().value_unsafe();
        return true;
      case dom::element_type::UINT64:
        return Fail(DecodeFailure::kBadField, path, "integer out of range");
      case dom::element_type::DOUBLE: {
        const double d = v.get_double().value_unsafe();
        if (std::trunc(d) != d || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) {
          return Fail(DecodeFailure::kBadField, path, "expected an integer");
        }
        *out = static_cast<int64_t>(d);
        return true;
      }
      case dom::element_type::STRING:
        if (absl::SimpleAtoi(Sv(v.get_string().value_unsafe()), out)) return true;
        return Fail(DecodeFailure::kBadField, path, "expected an integer");
      default:
        return WrongType(path, "an integer", v);
    }
  }

  bool ToUint64(dom::element v, const std::string& path, uint64_t* out) {
    switch (v.type()) {
      case dom::element_type::INT64: {
        const int64_t x = v.get_int64().value_unsafe();
        if (x < 0) return Fail(DecodeFailure::kBadField, path, "expected a non-negative integer");
        *out = static_cast<uint64_t>(x);
        return true;
      }
      case dom::element_type::UINT64:
        *out = v.get_uint64().value_unsafe();
        return true;
      case dom::element_type::DOUBLE: {
        const double d = v.get_double().value_unsafe();
        if (std::trunc(d) != d || d < 0 || d >= 1.8446744073709552e19) {
          return Fail(DecodeFailure::kBadField, path, "expected a non-negative integer");
        }
        *out = static_cast<uint64_t>(d);
        return true;
      }
      case dom::element_type::STRING:
        if (absl::SimpleAtoi(Sv(v.get_string().value_unsafe()), out)) return true;
        return Fail(DecodeFailure::kBadField, path, "expected a non-negative integer");
      default:
        return WrongType(path, "an integer", v);
    }
  }

  bool ToDouble(dom::element v, const std::string& path, double* out) {
    switch (v.type()) {
      case dom::element_type::INT64:
      case dom::element_type::UINT64:
      case dom::element_type::DOUBLE:
        *out = v.get_double().value_unsafe();
        return true;
      case dom::element_type::STRING: {
        const std::string_view s = v.get_string().value_unsafe();
        if (s == "NaN") {
          *out = std::numeric_limits<double>::quiet_NaN();
        } else if (s == "Infinity") {
          *out = std::numeric_limits<double>::infinity();
        } else if (s == "-Infinity") {
          *out = -std::numeric_limits<double>::infinity();
        } else if (!absl::SimpleAtod(Sv(s), out)) {
          return Fail(DecodeFailure::kBadField, path, "expected a number");
        }
        return true;
      }
      default:
        return WrongType(path, "a number", v);
    }
  }

  // Decodes one (non-repeated, or one element of a repeated) value into field `f` of `msg`.
  bool DecodeValue(dom::element v, Message* msg, const FieldDescriptor* f, const std::string& path,
                   int depth) {
    const Reflection* r = msg->GetReflection();
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t x;
        if (!ToInt64(v, path, &x)) return false;
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
          if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) {
            return Fail(DecodeFailure::kBadField, path, "integer out of range");
          }
          rep ? r->AddInt32(msg, f, static_cast<int32_t>(x))
              : r->SetInt32(msg, f, static_cast<int32_t>(x));
        } else {
          rep ? r->AddInt64(msg, f, x) : r->SetInt64(msg, f, x);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t x;
        if (!ToUint64(v, path, &x)) return false;
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
          if (x > std::numeric_limits<uint32_t>::max()) {
            return Fail(DecodeFailure::kBadField, path, "integer out of range");
          }
          rep ? r->AddUInt32(msg, f, static_cast<uint32_t>(x))
              : r->SetUInt32(msg, f, static_cast<uint32_t>(x));
        } else {
          rep ? r->AddUInt64(msg, f, x) : r->SetUInt64(msg, f, x);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double x;
        if (!ToDouble(v, path, &x)) return false;
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          rep ? r->AddFloat(msg, f, static_cast<float>(x))
              : r->SetFloat(msg, f, static_cast<float>(x));
        } else {
          rep ? r->AddDouble(msg, f, x) : r->SetDouble(msg, f, x);
        }
        return true;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b;
        if (v.get_bool().get(b) != simdjson::SUCCESS) return WrongType(path, "a boolean", v);
        rep ? r->AddBool(msg, f, b) : r->SetBool(msg, f, b);
        return true;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number;
        if (v.is_string()) {
          const EnumValueDescriptor* ev =
              FindEnumByJsonName(f->enum_type(), v.get_string().value_unsafe());
          if (ev == nullptr) {
            return Fail(DecodeFailure::kBadField, path,
                        absl::StrCat("unknown ", f->enum_type()->name(), " value"));
          }
          number = ev->number();
        } else {
          int64_t x;
          if (!ToInt64(v, path, &x)) return false;
          if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) {
            return Fail(DecodeFailure::kBadField, path, "enum value out of range");
          }
          number = static_cast<int>(x);
        }
        rep ? r->AddEnumValue(msg, f, number) : r->SetEnumValue(msg, f, number);
        return true;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string value;
        if (IsRawJson(f)) {
          value = simdjson::to_string(v);
        } else if (f->type() == FieldDescriptor::TYPE_BYTES) {
          std::string_view s;
          if (v.get_string().get(s) != simdjson::SUCCESS) return WrongType(path, "a string", v);
          if (!absl::Base64Unescape(Sv(s), &value) && !absl::WebSafeBase64Unescape(Sv(s), &value)) {
            return Fail(DecodeFailure::kBadField, path, "expected base64");
          }
        } else {
          std::string_view s;
          if (v.get_string().get(s) != simdjson::SUCCESS) return WrongType(path, "a string", v);
          value.assign(s);
        }
        rep ? r->AddString(msg, f, std::move(value)) : r->SetString(msg, f, std::move(value));
        return true;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        const Descriptor* d = f->message_type();
        if (IsTimestamp(d)) {
          std::string_view s;
          if (v.get_string().get(s) != simdjson::SUCCESS) {
            return WrongType(path, "an RFC 3339 timestamp string", v);
          }
          ::google::protobuf::Timestamp ts;
          if (!::google::protobuf::util::TimeUtil::FromString(std::string(s), &ts)) {
            return Fail(DecodeFailure::kBadField, path, "expected an RFC 3339 timestamp");
          }
          Message* m = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
          m->CopyFrom(ts);
          return true;
        }
        Message* m = rep ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        if (IsFrame(d)) {
          return DecodeFrameObject(v, static_cast<Frame*>(m), path, depth + 1);
        }
        return DecodeMessageObject(v, m, path, depth);
      }
    }
    return Fail(DecodeFailure::kBadField, path, "unsupported field");
  }

  DecodeError error_;
};

}  // namespace

namespace {

void AppendDouble(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("\"NaN\"");
  } else if (std::isinf(d)) {
    out->append(d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof(buf), d);
    out->append(buf, res.ptr);
  }
}

void AppendMessageFields(const Message& m, std::string* out, bool first);
void AppendFrameTo(const Frame& frame, std::string* out);

void AppendValue(const Message& m, const FieldDescriptor* f, int index, std::string* out) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendDouble(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f), out);
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendDouble(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f), out);
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false");
      return;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      if (const EnumValueDescriptor* ev = f->enum_type()->FindValueByNumber(number)) {
        AppendJsonString(EnumJsonName(ev), out);
      } else {
        absl::StrAppend(out, number);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      if (IsRawJson(f)) {
        out->append(s.empty() ? "null" : s);
      } else if (f->type() == FieldDescriptor::TYPE_BYTES) {
        AppendJsonString(absl::Base64Escape(s), out);
      } else {
        AppendJsonString(s, out);
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      const Descriptor* d = f->message_type();
      if (IsTimestamp(d)) {
        AppendJsonString(::google::protobuf::util::TimeUtil::ToString(
                             static_cast<const ::google::protobuf::Timestamp&>(sub)),
                         out);
      } else if (IsFrame(d)) {
        AppendFrameTo(static_cast<const Frame&>(sub), out);
      } else {
        out->push_back('{');
        AppendMessageFields(sub, out, true);
        out->push_back('}');
      }
      return;
    }
  }
}

void AppendMapKey(const Message& entry, const FieldDescriptor* key_f, std::string* out) {
  const Reflection* r = entry.GetReflection();
  switch (key_f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      AppendJsonString(r->GetString(entry, key_f), out);
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append(r->GetBool(entry, key_f) ? "\"true\"" : "\"false\"");
      return;
    default:
      out->push_back('"');
      AppendValue(entry, key_f, -1, out);
      out->push_back('"');
  }
}

void AppendMessageFields(const Message& m, std::string* out, bool first) {
  const Reflection* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(f->json_name(), out);
    out->push_back(':');
    if (f->is_map()) {
      out->push_back('{');
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        const Message& entry = r->GetRepeatedMessage(m, f, i);
        AppendMapKey(entry, entry.GetDescriptor()->map_key(), out);
        out->push_back(':');
        AppendValue(entry, entry.GetDescriptor()->map_value(), -1, out);
      }
      out->push_back('}');
    } else if (f->is_repeated()) {
      out->push_back('[');
      const int n = r->FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        AppendValue(m, f, i, out);
      }
      out->push_back(']');
    } else {
      AppendValue(m, f, -1, out);
    }
  }
}

const FieldDescriptor* KindField(const Frame& frame) {
  const auto* oneof = Frame::descriptor()->FindOneofByName("kind");
  return frame.GetReflection()->GetOneofFieldDescriptor(frame, oneof);
}

void AppendFrameTo(const Frame& frame, std::string* out) {
  out->append("{\"type\":");
  const FieldDescriptor* kind = KindField(frame);
  AppendJsonString(kind != nullptr ? kind->name() : std::string(), out);
  if (kind != nullptr) {
    AppendMessageFields(frame.GetReflection()->GetMessage(frame, kind), out, false);
  }
  if (frame.seq() != 0) absl::StrAppend(out, ",\"seq\":", frame.seq());
  out->push_back('}');
}

}  // namespace

std::string_view DecodeFailureName(DecodeFailure failure) {
  switch (failure) {
    case DecodeFailure::kNone:
      return "none";
    case DecodeFailure::kInvalidJson:
      return "invalid_json";
    case DecodeFailure::kNotObject:
      return "not_object";
    case DecodeFailure::kMissingType:
      return "missing_type";
    case DecodeFailure::kUnknownType:
      return "unknown_type";
    case DecodeFailure::kBadField:
      return "bad_field";
    case DecodeFailure::kInvalidProto:
      return "invalid_proto";
  }
  return "unknown";
}

DecodeError DecodeJsonFrame(std::string_view text, Frame* frame) {
  frame->Clear();
  thread_local dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(text.data(), text.size()).get(root); err != simdjson::SUCCESS) {
    return DecodeError{DecodeFailure::kInvalidJson,
                       absl::StrCat("invalid JSON: ", simdjson::error_message(err)), ""};
  }
  JsonDecoder decoder;
  if (!decoder.DecodeFrameObject(root, frame, "", 1)) {
    frame->Clear();
    return decoder.TakeError();
  }
  return DecodeError{};
}

DecodeError DecodeBinaryFrame(std::string_view bytes, Frame* frame) {
  frame->Clear();
  if (!frame->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    frame->Clear();
    return DecodeError{DecodeFailure::kInvalidProto, "not a serialized bridge.v1.Frame", ""};
  }
  if (frame->kind_case() == Frame::KIND_NOT_SET) {
    return DecodeError{DecodeFailure::kMissingType, "frame has no type", "type"};
  }
  return DecodeError{};
}

void AppendJsonFrame(const Frame& frame, std::string* out) { AppendFrameTo(frame, out); }

std::string EncodeJsonFrame(const Frame& frame) {
  std::string out;
  out.reserve(128);
  AppendFrameTo(frame, &out);
  return out;
}

std::string EncodeBinaryFrame(const Frame& frame) { return frame.SerializeAsString(); }

namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

std::string WithSeq(Encoding encoding, std::string_view unsequenced, uint64_t seq) {
  std::string out;
  if (encoding == Encoding::kJson) {
    // AppendFrameTo: ...,"seq":N}
    out.reserve(unsequenced.size() + 28);
    out.append(unsequenced.substr(0, unsequenced.size() - 1));
    absl::StrAppend(&out, ",\"seq\":", seq, "}");
    return out;
  }
  constexpr uint32_t kSeqTag = (Frame::kSeqFieldNumber << 3) | 0;
  out.reserve(unsequenced.size() + 12);
  out.append(unsequenced);
  AppendVarint(kSeqTag, &out);
  AppendVarint(seq, &out);
  return out;
}

std::string EncodeBatch(Encoding encoding, const std::vector<std::string>& frames) {
  std::string out;
  if (encoding == Encoding::kJson) {
    size_t size = 32;
    for (const std::string& f : frames) size += f.size() + 1;
    out.reserve(size);
    out = "{\"type\":\"batch\",\"frames\":[";
    for (size_t i = 0; i < frames.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += frames[i];
    }
    out += "]}";
    return out;
  }
  // Frame.batch (field 26) holding Batch.frames (field 1), length-delimited both.
  constexpr uint32_t kBatchTag = (Frame::kBatchFieldNumber << 3) | 2;
  constexpr uint32_t kFramesTag = (v1::Batch::kFramesFieldNumber << 3) | 2;
  size_t inner = 0;
  for (const std::string& f : frames)
    inner += VarintSize(kFramesTag) + VarintSize(f.size()) + f.size();
  out.reserve(inner + 8);
  AppendVarint(kBatchTag, &out);
  AppendVarint(inner, &out);
  for (const std::string& f : frames) {
    AppendVarint(kFramesTag, &out);
    AppendVarint(f.size(), &out);
    out += f;
  }
  return out;
}

std::string_view FrameTypeName(const Frame& frame) {
  const FieldDescriptor* kind = KindField(frame);
  return kind != nullptr ? std::string_view(kind->name()) : std::string_view();
}

std::string_view MessageIdOf(const Frame& frame) {
  switch (frame.kind_case()) {
    case Frame::kMessage:
      return frame.message().message_id();
    case Frame::kStreamSend:
      return frame.stream_send().message_id();
    case Frame::kStreamEnd:
      return frame.stream_end().message_id();
    case Frame::kCancel:
      return frame.cancel().message_id();
    default:
      return {};
  }
}

}  // namespace bridge::protocol
