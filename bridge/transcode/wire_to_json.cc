#include "bridge/transcode/wire_to_json.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/types/span.h"
#include "bridge/transcode/json_text.h"
#include "bridge/transcode/wire.h"

namespace bridge::transcode {
namespace {

using ::google::protobuf::FieldDescriptor;

// protobuf's parser refuses messages nested deeper than this (map entries and groups count).
constexpr int kMaxParseDepth = 100;
// json_util refuses to print message-typed fields nested deeper than this.
constexpr int kMaxPrintDepth = 64;
// The contents of an Any restart both counts (neither protobuf nor json_util carries them
// over); this bounds the recursion regardless.
constexpr int kMaxTotalDepth = 200;
constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com/";

// One field occurrence in a message's bytes.
struct Entry {
  union {
    uint64_t value;    // varint and fixed-width values
    const char* data;  // length-delimited values and group contents
  };
  uint32_t size;
  uint32_t field : 24;  // index into MessagePlan::fields
  uint32_t wire : 3;
  uint32_t dead : 1;  // a member of a oneof that a later member replaced

  std::string_view bytes() const { return std::string_view(data, size); }
};
static_assert(std::is_trivially_copyable_v<Entry>);  // EntryStack moves them with realloc

// A stack of entries, the field occurrences of the messages being printed: each message
// pushes its own above its parent's and pops them when done.
class EntryStack {
 public:
  EntryStack() = default;
  EntryStack(const EntryStack&) = delete;
  EntryStack& operator=(const EntryStack&) = delete;
  ~EntryStack() { std::free(data_); }

  size_t size() const { return size_; }
  Entry& operator[](size_t i) { return data_[i]; }
  const Entry& operator[](size_t i) const { return data_[i]; }
  Entry* begin() { return data_; }
  Entry* end() { return data_ + size_; }

  void push_back(const Entry& e) {
    if (size_ == capacity_) Grow();
    data_[size_++] = e;
  }
  // Pops down to `size` entries.
  void resize(size_t size) { size_ = size; }

  // Frees the memory when a large message left it large.
  void Trim() {
    constexpr size_t kKeep = 64 * 1024;  // entries, 1 MiB
    if (capacity_ > kKeep && size_ == 0) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
    }
  }

 private:
  void Grow() {
    capacity_ = capacity_ == 0 ? 256 : capacity_ * 2;
    auto* grown = static_cast<Entry*>(std::realloc(data_, capacity_ * sizeof(Entry)));
    if (grown == nullptr) std::abort();
    data_ = grown;
  }

  Entry* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

EntryStack& ScratchEntries() {
  thread_local EntryStack entries;
  return entries;
}

void TrimScratch() { ScratchEntries().Trim(); }

// Nesting, counted as protobuf's parser and json_util's printer count it.
// Small fields, so that a Depth travels in one register (the limits are far below 2^16).
struct Depth {
  uint16_t parse = 0;  // messages, map entries and groups
  uint16_t print = 0;  // message-typed fields (map entries not counted)
  uint16_t total = 0;

  Depth Field() const { return Make(parse + 1, print + 1, total + 1); }
  Depth MapEntry() const { return Make(parse + 1, print, total + 1); }
  Depth AnyContent() const { return Make(0, 0, total + 1); }

 private:
  static Depth Make(int parse, int print, int total) {
    Depth d;
    d.parse = static_cast<uint16_t>(parse);
    d.print = static_cast<uint16_t>(print);
    d.total = static_cast<uint16_t>(total);
    return d;
  }
};

// The state of indexing one message, over one or more spans of bytes (an embedded message
// that occurs more than once is the merge of its occurrences).
struct ScanState {
  ScanState(size_t begin, size_t oneofs) : begin(begin) {
    if (oneofs > 0) {
      oneof_member.assign(oneofs, -1);
      oneof_since.assign(oneofs, 0);
    }
  }

  size_t begin;
  int last_field = -1;
  bool sorted = true;
  bool unknown = false;                        // fields the type does not declare
  bool switched = false;                       // a oneof member replaced by another
  absl::InlinedVector<int, 4> oneof_member;    // by oneof: the member set last, or -1
  absl::InlinedVector<size_t, 4> oneof_since;  // by oneof: where that member took over
};

// protobuf's ReadTag: at most five bytes.
inline const char* ReadTag(const char* p, const char* end, uint32_t* tag) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) {  // fields 1 to 15
    *tag = static_cast<uint8_t>(*p);
    return p + 1;
  }
  uint32_t result = 0;
  for (int i = 0; i < 5; ++i) {
    if (p == end) return nullptr;
    const uint8_t byte = static_cast<uint8_t>(*p++);
    result |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *tag = result;
      return p;
    }
  }
  return nullptr;
}

// protobuf's ReadSize: at most five bytes, below 2 GiB.
inline const char* ReadLength(const char* p, const char* end, uint32_t* size) {
  if (p < end && static_cast<uint8_t>(*p) < 0x80) {  // below 128 bytes
    *size = static_cast<uint8_t>(*p);
    return static_cast<uint64_t>(end - p - 1) < *size ? nullptr : p + 1;
  }
  uint64_t v;
  const char* next = wire::DecodeVarint(p, end, &v);
  if (next == nullptr || next - p > 5 || v > 0x7fffffef) return nullptr;
  if (static_cast<uint64_t>(end - next) < v) return nullptr;
  *size = static_cast<uint32_t>(v);
  return next;
}

bool Is32Bit(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_FIXED32:
    case FieldDescriptor::TYPE_SFIXED32:
    case FieldDescriptor::TYPE_FLOAT:
    case FieldDescriptor::TYPE_ENUM:
      return true;
    default:
      return false;
  }
}

// A map key as a comparable value: the number it holds, or its text. Trivial, so that arrays
// of them cost nothing to declare; MapKey{} is the empty key.
struct MapKey {
  uint64_t number;
  const char* data;
  size_t size;

  std::string_view text() const { return std::string_view(data, size); }
  bool operator==(const MapKey& o) const { return number == o.number && text() == o.text(); }
};

// The keys of one map printed so far.
class KeySet {
 public:
  // False when `key` is already in.
  bool Insert(const MapKey& key) {
    if (large_.empty()) {
      for (const MapKey& k : small_) {
        if (k == key) return false;
      }
      small_.push_back(key);
      if (small_.size() > kSmall) {
        for (const MapKey& k : small_) large_.insert(Hashable(k));
      }
      return true;
    }
    return large_.insert(Hashable(key)).second;
  }
  void Clear() {
    small_.clear();
    large_.clear();
  }

 private:
  static constexpr size_t kSmall = 16;
  static std::pair<uint64_t, absl::string_view> Hashable(const MapKey& k) {
    return {k.number, absl::string_view(k.data, k.size)};
  }
  absl::InlinedVector<MapKey, 8> small_;
  absl::flat_hash_set<std::pair<uint64_t, absl::string_view>> large_;
};

// Field indexing and validation, shared by printing and ValidateWire.
class Scanner {
 public:
  explicit Scanner(TranscodeFailure* failure) : failure_(failure), entries_(ScratchEntries()) {}

  // Checks that `bytes` parse as a message of `plan`, and every message inside it too.
  bool Validate(const MessagePlan& plan, std::string_view bytes, Depth depth) {
    if (depth.parse > kMaxParseDepth) return failure_->Fail("messages nested too deeply");
    ScanState state(entries_.size(), plan.oneof_names.size());
    bool ok = Scan(plan, bytes, depth, &state);
    for (size_t k = state.begin; ok && k < entries_.size(); ++k) {
      const Entry e = entries_[k];
      const FieldPlan& f = plan.fields[e.field];
      if (f.message == nullptr) continue;
      ok = Validate(*f.message, e.bytes(), f.map ? depth.MapEntry() : depth.Field()) ||
           failure_->In(f.json_name);
    }
    entries_.resize(state.begin);
    return ok;
  }

 protected:
  // Indexes the fields of `bytes`, a message of `plan`, into entries_ after those already
  // there for `state`.
  bool Scan(const MessagePlan& plan, std::string_view bytes, Depth depth, ScanState* state) {
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    while (p < end) {
      uint32_t tag;
      p = ReadTag(p, end, &tag);
      if (p == nullptr) return failure_->Fail("truncated or overlong tag");
      const uint32_t number = tag >> 3;
      const uint32_t wire_type = tag & 7;
      if (number == 0) return failure_->Fail("field number 0");
      if (wire_type == wire::kEndGroup) return failure_->Fail("end-group tag outside a group");
      const int index = plan.FindByNumber(number);
      if (index >= 0) {
        const FieldPlan& f = plan.fields[index];
        if (wire_type == f.wire_type ||
            (wire_type == wire::kLengthDelimited && f.packable && f.message == nullptr)) {
          Entry e;
          e.value = 0;
          e.size = 0;
          e.field = index;
          e.wire = wire_type;
          e.dead = 0;
          bool keep = true;
          if (!ReadValue(f, number, depth, &p, end, &e, &keep)) return failure_->In(f.json_name);
          if (keep) {
            Record(f, index, e, state);
          } else {
            state->unknown = true;
          }
          continue;
        }
      }
      if (!SkipField(number, wire_type, depth, &p, end)) return false;
      state->unknown = true;
    }
    return true;
  }

  // Marks the oneof members that a later member replaced. Call before reordering entries.
  void MarkReplaced(const MessagePlan& plan, const ScanState& state) {
    if (!state.switched) return;
    for (size_t k = state.begin; k < entries_.size(); ++k) {
      const FieldPlan& f = plan.fields[entries_[k].field];
      if (!f.real_oneof) continue;
      const int oneof = f.oneof;
      if (state.oneof_member[oneof] != static_cast<int>(entries_[k].field) ||
          k < state.oneof_since[oneof]) {
        entries_[k].dead = 1;
      }
    }
  }

  TranscodeFailure* failure_;
  EntryStack& entries_;

 protected:
  // Reads the value of a known field. `keep` turns false for a closed enum's unknown number,
  // which protobuf moves to the unknown fields.
  bool ReadValue(const FieldPlan& f, uint32_t number, Depth depth, const char** pp, const char* end,
                 Entry* e, bool* keep, bool check_utf8 = true) {
    const char* p = *pp;
    switch (e->wire) {
      case wire::kVarint:
        p = wire::DecodeVarint(p, end, &e->value);
        if (p == nullptr) return failure_->Fail("truncated varint");
        if (f.enumeration != nullptr && f.enumeration->closed() &&
            !f.enumeration->Contains(static_cast<int32_t>(e->value))) {
          *keep = false;
        }
        break;
      case wire::kFixed64:
        if (end - p < 8) return failure_->Fail("truncated fixed64");
        e->value = wire::LoadFixed64(p);
        p += 8;
        break;
      case wire::kFixed32:
        if (end - p < 4) return failure_->Fail("truncated fixed32");
        e->value = wire::LoadFixed32(p);
        p += 4;
        break;
      case wire::kLengthDelimited: {
        uint32_t size;
        p = ReadLength(p, end, &size);
        if (p == nullptr) return failure_->Fail("truncated length-delimited field");
        e->data = p;
        e->size = size;
        p += size;
        if (f.wire_type != wire::kLengthDelimited) {
          if (!CheckPacked(f, e->bytes())) return failure_->Fail("malformed packed field");
        } else if (check_utf8 && f.utf8 && !IsValidUtf8(e->bytes())) {
          return failure_->Fail("string field holds invalid UTF-8");
        }
        break;
      }
      case wire::kStartGroup: {
        const char* content_end;
        e->data = p;
        if (!SkipGroup(number, depth.Field(), &p, end, &content_end)) return false;
        e->size = static_cast<uint32_t>(content_end - e->data);
        break;
      }
      default:
        break;
    }
    *pp = p;
    return true;
  }

  void Record(const FieldPlan& f, int index, const Entry& e, ScanState* state) {
    if (f.real_oneof) {
      int& member = state->oneof_member[f.oneof];
      if (member != index) {
        // Setting another member of a oneof clears the one set before (see MarkReplaced).
        if (member >= 0) state->switched = true;
        member = index;
        state->oneof_since[f.oneof] = entries_.size();
      }
    }
    if (index < state->last_field) state->sorted = false;
    state->last_field = index;
    entries_.push_back(e);
  }

  // A packed run: whole fixed-width values, or complete varints.
  static bool CheckPacked(const FieldPlan& f, std::string_view run) {
    switch (f.wire_type) {
      case wire::kFixed32:
        return run.size() % 4 == 0;
      case wire::kFixed64:
        return run.size() % 8 == 0;
      default: {
        const char* p = run.data();
        const char* end = p + run.size();
        uint64_t v;
        while (p < end) {
          p = wire::DecodeVarint(p, end, &v);
          if (p == nullptr) return false;
        }
        return true;
      }
    }
  }

  bool SkipField(uint32_t number, uint32_t wire_type, Depth depth, const char** p,
                 const char* end) {
    switch (wire_type) {
      case wire::kVarint: {
        uint64_t v;
        *p = wire::DecodeVarint(*p, end, &v);
        return *p != nullptr || failure_->Fail("truncated varint");
      }
      case wire::kFixed64:
        if (end - *p < 8) return failure_->Fail("truncated fixed64");
        *p += 8;
        return true;
      case wire::kFixed32:
        if (end - *p < 4) return failure_->Fail("truncated fixed32");
        *p += 4;
        return true;
      case wire::kLengthDelimited: {
        uint32_t size;
        *p = ReadLength(*p, end, &size);
        if (*p == nullptr) return failure_->Fail("truncated length-delimited field");
        *p += size;
        return true;
      }
      case wire::kStartGroup: {
        const char* content_end;
        return SkipGroup(number, depth.Field(), p, end, &content_end);
      }
      default:
        return failure_->Fail("invalid wire type " + std::to_string(wire_type));
    }
  }

  // Skips a group's fields up to its end-group tag.
  bool SkipGroup(uint32_t number, Depth depth, const char** p, const char* end,
                 const char** content_end) {
    if (depth.parse > kMaxParseDepth) return failure_->Fail("messages nested too deeply");
    while (true) {
      const char* tag_start = *p;
      uint32_t tag;
      *p = ReadTag(*p, end, &tag);
      if (*p == nullptr) return failure_->Fail("group without an end-group tag");
      if ((tag >> 3) == 0) return failure_->Fail("field number 0");
      if ((tag & 7) == wire::kEndGroup) {
        if ((tag >> 3) != number) return failure_->Fail("mismatched end-group tag");
        *content_end = tag_start;
        return true;
      }
      if (!SkipField(tag >> 3, tag & 7, depth, p, end)) return false;
    }
  }
};

// What printing one value did.
enum class Wrote { kValue, kNothing, kFailed };

// Writes messages as JSON from their entries.
class Printer : public Scanner {
 public:
  Printer(PlanCache* cache, const WireToJsonOptions& options, JsonWriter* out,
          TranscodeFailure* failure)
      : Scanner(failure),
        cache_(cache),
        options_(options),
        out_(out),
        key_(options.proto_names ? &FieldPlan::proto_key : &FieldPlan::json_key) {}

  // The key of field `f`, with its colon, by the mapping's names.
  const std::string& Key(const FieldPlan& f) const { return f.*key_; }

  // A message of `plan` made of `spans` merged. Writes nothing (kNothing) for a
  // google.protobuf.Value without a kind, as json_util does.
  Wrote Message(const MessagePlan& plan, absl::Span<const std::string_view> spans, Depth depth) {
    if (depth.parse > kMaxParseDepth || depth.total > kMaxTotalDepth) {
      failure_->Fail("messages nested too deeply");
      return Wrote::kFailed;
    }
    if (depth.print > kMaxPrintDepth) {
      failure_->Fail("messages nested too deeply to print");
      return Wrote::kFailed;
    }
    if (spans.size() != 1) return Indexed(plan, spans, depth);
    // A message that failed is not printed again when a caller retries it (see Stream).
    auto failed_key = [&] {
      return FailedKey{&plan,       spans[0].data(), spans[0].size(),
                       depth.parse, depth.print,     depth.total};
    };
    if (!failed_.empty()) {
      auto it = failed_.find(failed_key());
      if (it != failed_.end()) {
        *failure_ = it->second;
        return Wrote::kFailed;
      }
    }
    Wrote wrote = Wrote::kNothing;
    if (!options_.always_print_primitive_fields &&
        (plan.well_known == WellKnownType::kNone || plan.well_known == WellKnownType::kEmpty)) {
      wrote = Stream(plan, spans[0], depth);
    }
    if (wrote == Wrote::kNothing) wrote = Indexed(plan, spans, depth);
    if (wrote == Wrote::kFailed) failed_.emplace(failed_key(), *failure_);
    return wrote;
  }

 private:
  // The general path: index the fields, order them, print them.
  Wrote Indexed(const MessagePlan& plan, absl::Span<const std::string_view> spans, Depth depth) {
    ScanState state(entries_.size(), plan.oneof_names.size());
    for (std::string_view span : spans) {
      if (!Scan(plan, span, depth, &state)) {
        entries_.resize(state.begin);
        return Wrote::kFailed;
      }
    }
    Wrote wrote = Prepare(plan, depth, &state) ? Render(plan, state, depth) : Wrote::kFailed;
    entries_.resize(state.begin);
    return wrote;
  }

  // Whether [p, end) holds a field of `plan` that may replace or merge into field `f` (the
  // same field, another member of its oneof). Only well-formed bytes get here.
  bool LaterOccurrence(const MessagePlan& plan, const FieldPlan& f, const char* p,
                       const char* end) {
    while (p < end) {
      uint32_t tag;
      p = ReadTag(p, end, &tag);
      if (p == nullptr) return false;
      const int index = plan.FindByNumber(tag >> 3);
      if (index >= 0 && (plan.fields[index].number == f.number ||
                         (f.real_oneof && plan.fields[index].oneof == f.oneof))) {
        return true;
      }
      if (!SkipField(tag >> 3, tag & 7, Depth{}, &p, end)) return false;
    }
    return false;
  }

  // Prints a message in one pass over its bytes, for the usual case: fields in number order,
  // each singular field once, one member per oneof, map keys once (as protobuf serializes).
  // Returns kValue when it printed the message, kFailed on an error that stands whatever
  // follows, and kNothing, having written nothing, on anything else: the general path then
  // prints the message or gives the verdict on the error.
  Wrote Stream(const MessagePlan& plan, std::string_view bytes, Depth depth) {
    if (plan.oneof_names.size() > 64) return Wrote::kNothing;
    const size_t start = out_->size();
    auto give_up = [&] {
      out_->Truncate(start);
      *failure_ = TranscodeFailure();
      return Wrote::kNothing;
    };
    auto fail = [&](const FieldPlan& f) {
      out_->Truncate(start);
      failure_->In(f.json_name);
      return Wrote::kFailed;
    };
    out_->Char('{');
    bool first = true;
    int last = -1;         // the field printed last
    int open = -1;         // the repeated or map field whose list or object is open
    size_t open_mark = 0;  // where that field's key starts
    bool open_first = true;
    size_t elements = 0;  // printed in the open list
    size_t count = 0;     // messages or map entries in the open field, printed or not
    // The keys of the open map, to tell a repeated one; longer maps take the general path.
    constexpr size_t kMapKeys = 8;
    MapKey keys[kMapKeys];
    uint64_t oneofs = 0;
    auto close = [&] {
      if (open < 0) return;
      if (elements == 0 && !plan.fields[open].map) {
        out_->Truncate(open_mark);  // an empty packed run: no field
        first = open_first;
      } else {
        out_->Char(plan.fields[open].map ? '}' : ']');
      }
      open = -1;
    };
    auto key = [&](const FieldPlan& f) {
      if (!first) out_->Char(',');
      first = false;
      out_->Padded(Key(f));
    };
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    while (p < end) {
      uint32_t tag;
      p = ReadTag(p, end, &tag);
      if (p == nullptr || (tag >> 3) == 0 || (tag & 7) == wire::kEndGroup) return give_up();
      const uint32_t number = tag >> 3;
      const uint32_t wire_type = tag & 7;
      const int index = plan.FindByNumber(number);
      const FieldPlan* f = index >= 0 ? &plan.fields[index] : nullptr;
      if (f == nullptr ||
          (wire_type != f->wire_type && !(wire_type == wire::kLengthDelimited && f->packable))) {
        if (!SkipField(number, wire_type, depth, &p, end)) return give_up();
        continue;
      }
      Entry e = ZeroEntry();
      e.field = index;
      e.wire = wire_type;
      bool keep = true;
      // Strings are checked for UTF-8 as they are printed (each one is, or is empty). The two
      // commonest kinds of value are read here, the rest by ReadValue.
      if (wire_type == wire::kLengthDelimited && f->wire_type == wire::kLengthDelimited) {
        uint32_t size;
        p = ReadLength(p, end, &size);
        if (p == nullptr) return give_up();
        e.data = p;
        e.size = size;
        p += size;
      } else if (wire_type == wire::kVarint && f->enumeration == nullptr) {
        p = wire::DecodeVarint(p, end, &e.value);
        if (p == nullptr) return give_up();
      } else if (!ReadValue(*f, number, depth, &p, end, &e, &keep, /*check_utf8=*/false)) {
        return give_up();
      }
      if (!keep) continue;
      if (index < last || (index == last && !f->repeated)) return give_up();
      if (f->real_oneof) {
        const uint64_t bit = uint64_t{1} << f->oneof;
        if (index != last && (oneofs & bit) != 0) return give_up();
        oneofs |= bit;
      }
      if (index != last) close();
      last = index;

      if (f->repeated) {
        if (open != index) {
          open = index;
          open_mark = out_->size();
          open_first = first;
          elements = 0;
          count = 0;

          key(*f);
          out_->Char(f->map ? '{' : '[');
        }
        if (f->map) {
          MapKey map_key{};
          bool map_first = elements == 0;
          if (!MapItem(*f->message, e.bytes(), depth.MapEntry(), &map_first, &map_key)) {
            // A later entry may set the same key; the general path sorts that out.
            if (LaterOccurrence(plan, *f, p, end)) return give_up();
            return fail(*f);
          }
          if (count == kMapKeys) return give_up();
          for (size_t k = 0; k < count; ++k) {
            if (keys[k] == map_key) return give_up();
          }
          keys[count++] = map_key;
          if (!map_first) elements = 1;  // an entry is printed: the next needs a comma
        } else if (f->message != nullptr) {
          const size_t mark = out_->size();
          if (elements > 0) out_->Char(',');
          const std::string_view span = e.bytes();
          const Wrote wrote = Message(*f->message, absl::MakeConstSpan(&span, 1), depth.Field());
          if (wrote == Wrote::kFailed) {  // elements do not merge: the error stands
            failure_->AtIndex(count);
            return fail(*f);
          }
          ++count;
          if (wrote == Wrote::kNothing) {
            out_->Truncate(mark);
          } else {
            ++elements;
          }
        } else if (wire_type == wire::kLengthDelimited && f->wire_type != wire::kLengthDelimited) {
          PackedRun(*f, e.bytes(), &elements);
        } else {
          if (elements++ > 0) out_->Char(',');
          if (!CheckedScalar(*f, e)) return give_up();
        }
        continue;
      }
      if (f->message != nullptr) {
        const size_t mark = out_->size();
        const bool was_first = first;
        key(*f);
        const std::string_view span = e.bytes();
        const Wrote wrote = Message(*f->message, absl::MakeConstSpan(&span, 1), depth.Field());
        if (wrote == Wrote::kFailed) {
          // A later occurrence may merge into this one or replace it (a oneof); the general
          // path sorts that out. Otherwise the error stands.
          if (LaterOccurrence(plan, *f, p, end)) return give_up();
          return fail(*f);
        }
        if (wrote == Wrote::kNothing) {
          out_->Truncate(mark);
          first = was_first;
        }
        continue;
      }
      if (!f->presence && IsDefault(*f, e)) continue;
      key(*f);
      if (!CheckedScalar(*f, e)) return give_up();
    }
    close();
    out_->Char('}');
    return Wrote::kValue;
  }

  // Orders the entries by field and validates the oneof members that were replaced.
  bool Prepare(const MessagePlan& plan, Depth depth, ScanState* state) {
    MarkReplaced(plan, *state);
    if (!state->sorted) {
      std::stable_sort(entries_.begin() + state->begin, entries_.end(),
                       [](const Entry& a, const Entry& b) { return a.field < b.field; });
    }
    if (!state->switched) return true;
    for (size_t k = state->begin; k < entries_.size(); ++k) {
      const Entry e = entries_[k];
      const FieldPlan& f = plan.fields[e.field];
      if (e.dead && f.message != nullptr && !Validate(*f.message, e.bytes(), depth.Field())) {
        return failure_->In(f.json_name);
      }
    }
    return true;
  }

  Wrote Render(const MessagePlan& plan, const ScanState& state, Depth depth) {
    const size_t begin = state.begin;
    const size_t end = entries_.size();
    switch (plan.well_known) {
      case WellKnownType::kNone:
      case WellKnownType::kEmpty: {
        out_->Char('{');
        bool first = true;
        if (!Fields(plan, begin, end, depth, &first)) return Wrote::kFailed;
        out_->Char('}');
        return Wrote::kValue;
      }
      case WellKnownType::kAny:
        return Any(plan, begin, end, depth);
      case WellKnownType::kTimestamp:
      case WellKnownType::kDuration:
        return Time(plan, begin, end);
      case WellKnownType::kFieldMask:
        return FieldMask(state, begin, end);
      case WellKnownType::kStruct:
        return MapObject(plan.fields[0], begin, end, depth);
      case WellKnownType::kValue:
        return Value(plan, begin, end, depth);
      case WellKnownType::kListValue:
        // json_util prints nothing at all for a ListValue that holds only unknown fields.
        if (begin == end && state.unknown) return Wrote::kNothing;
        return List(plan.fields[0], begin, end, depth, /*keep_empty=*/true);
      default: {  // the wrappers
        const int k = Last(begin, end, 0);
        Entry e = k >= 0 ? entries_[k] : ZeroEntry();
        Scalar(plan.fields[0], e);
        return Wrote::kValue;
      }
    }
  }

  static Entry ZeroEntry() {
    Entry e;
    e.value = 0;  // and data == nullptr
    e.size = 0;
    e.field = 0;
    e.wire = 0;
    e.dead = 0;
    return e;
  }

  // The index of the last live entry of field `field` in [begin, end), or -1.
  int Last(size_t begin, size_t end, uint32_t field) const {
    for (size_t k = end; k-- > begin;) {
      if (entries_[k].field == field && !entries_[k].dead) return static_cast<int>(k);
    }
    return -1;
  }

  size_t GroupEnd(size_t i, size_t end) const {
    size_t j = i + 1;
    while (j < end && entries_[j].field == entries_[i].field) ++j;
    return j;
  }

  // The fields of a message, after an opening brace (and an Any's "@type").
  bool Fields(const MessagePlan& plan, size_t begin, size_t end, Depth depth, bool* first) {
    if (!options_.always_print_primitive_fields) {
      for (size_t i = begin; i < end;) {
        const size_t j = GroupEnd(i, end);
        if (!Field(plan, i, j, depth, first)) return false;
        i = j;
      }
      return true;
    }
    // json_util's DefaultValueObjectWriter: fields in declaration order, unset ones with their
    // defaults, except that set fields printed as strings or lists (Timestamp, wrappers, ...)
    // go last, in the order they were printed.
    std::vector<std::pair<size_t, size_t>> ranges(plan.fields.size(), {0, 0});
    for (size_t i = begin; i < end;) {
      const size_t j = GroupEnd(i, end);
      ranges[entries_[i].field] = {i, j};
      i = j;
    }
    absl::InlinedVector<int, 4> deferred;
    for (int index : plan.declaration_order) {
      const FieldPlan& f = plan.fields[index];
      const auto [i, j] = ranges[index];
      if (i != j) {
        if (PrintedLast(f, i, j)) {
          deferred.push_back(index);
        } else if (!Field(plan, i, j, depth, first)) {
          return false;
        }
      } else if ((f.message == nullptr || f.repeated) && f.oneof < 0) {
        if (!*first) out_->Char(',');
        *first = false;
        out_->Raw(Key(f));
        out_->Raw(options_.enums_as_numbers && !f.default_number_json.empty()
                      ? f.default_number_json
                      : f.default_json);
      }
    }
    std::sort(deferred.begin(), deferred.end());
    for (int index : deferred) {
      if (!Field(plan, ranges[index].first, ranges[index].second, depth, first)) return false;
    }
    return true;
  }

  // Whether json_util's DefaultValueObjectWriter moves a set field to the end: members of a
  // oneof (proto3 optional included) printed as values, and message fields printed as
  // strings or lists.
  bool PrintedLast(const FieldPlan& f, size_t i, size_t j) {
    if (f.repeated) return false;
    if (f.message == nullptr) return f.oneof >= 0;
    switch (f.message->well_known) {
      case WellKnownType::kNone:
      case WellKnownType::kEmpty:
      case WellKnownType::kAny:
      case WellKnownType::kStruct:
        return false;
      case WellKnownType::kValue:
        return ValueKind(*f.message, i, j) != 5;  // all but struct_value
      default:
        return true;
    }
  }

  // The bytes of the live entries in [i, j): the occurrences of an embedded message, merged.
  absl::InlinedVector<std::string_view, 1> LiveSpans(size_t i, size_t j) const {
    absl::InlinedVector<std::string_view, 1> spans;
    for (size_t k = i; k < j; ++k) {
      if (!entries_[k].dead) spans.push_back(entries_[k].bytes());
    }
    return spans;
  }

  // The field number of the kind a Value holds (0 for none).
  uint32_t ValueKind(const MessagePlan& value, size_t i, size_t j) {
    const auto spans = LiveSpans(i, j);
    ScanState state(entries_.size(), value.oneof_names.size());
    uint32_t kind = 0;
    for (std::string_view span : spans) {
      if (!Scan(value, span, Depth{}, &state)) break;
    }
    MarkReplaced(value, state);
    for (size_t k = state.begin; k < entries_.size(); ++k) {
      if (!entries_[k].dead) kind = value.fields[entries_[k].field].number;
    }
    entries_.resize(state.begin);
    return kind;
  }

  // One field (entries [i, j)), with its key and a comma before it unless first.
  bool Field(const MessagePlan& plan, size_t i, size_t j, Depth depth, bool* first) {
    const FieldPlan& f = plan.fields[entries_[i].field];
    const size_t mark = out_->size();
    if (!*first) out_->Char(',');
    out_->Padded(Key(f));
    Wrote wrote;
    if (f.map) {
      wrote = MapObject(f, i, j, depth);
    } else if (f.repeated) {
      wrote = List(f, i, j, depth);
    } else if (f.message != nullptr) {
      wrote = MessageField(f, i, j, depth);
    } else {
      const int k = Last(i, j, entries_[i].field);
      if (k < 0 || (!f.presence && IsDefault(f, entries_[k]))) {
        wrote = Wrote::kNothing;
      } else {
        Scalar(f, entries_[k]);
        wrote = Wrote::kValue;
      }
    }
    switch (wrote) {
      case Wrote::kFailed:
        return failure_->In(f.json_name);
      case Wrote::kNothing:
        out_->Truncate(mark);
        return true;
      case Wrote::kValue:
        *first = false;
        return true;
    }
    return true;
  }

  static bool IsDefault(const FieldPlan& f, const Entry& e) {
    if (f.wire_type == wire::kLengthDelimited) return e.size == 0;
    return Is32Bit(f.type) ? static_cast<uint32_t>(e.value) == 0 : e.value == 0;
  }

  // A singular message field: its live occurrences merged.
  Wrote MessageField(const FieldPlan& f, size_t i, size_t j, Depth depth) {
    const auto spans = LiveSpans(i, j);
    if (spans.empty()) return Wrote::kNothing;
    return Message(*f.message, spans, depth.Field());
  }

  // A repeated field. An empty one prints as [] when `keep_empty` (a ListValue) or under
  // always_print_primitive_fields.
  Wrote List(const FieldPlan& f, size_t i, size_t j, Depth depth, bool keep_empty = false) {
    out_->Char('[');
    size_t elements = 0;
    size_t printed = 0;
    for (size_t k = i; k < j; ++k) {
      const Entry e = entries_[k];
      if (f.message != nullptr) {
        ++elements;
        const size_t mark = out_->size();
        if (printed > 0) out_->Char(',');
        const std::string_view span = e.bytes();
        const Wrote wrote = Message(*f.message, absl::MakeConstSpan(&span, 1), depth.Field());
        if (wrote == Wrote::kFailed) {
          failure_->AtIndex(k - i);
          return Wrote::kFailed;
        }
        if (wrote == Wrote::kNothing) {
          out_->Truncate(mark);
        } else {
          ++printed;
        }
      } else if (e.wire == wire::kLengthDelimited && f.wire_type != wire::kLengthDelimited) {
        PackedRun(f, e.bytes(), &elements);
      } else {
        if (elements++ > 0) out_->Char(',');
        Scalar(f, e);
      }
    }
    out_->Char(']');
    if (elements == 0 && !keep_empty && !options_.always_print_primitive_fields) {
      return Wrote::kNothing;
    }
    return Wrote::kValue;
  }

  void PackedRun(const FieldPlan& f, std::string_view run, size_t* elements) {
    const char* p = run.data();
    const char* end = p + run.size();
    Entry e = ZeroEntry();
    while (p < end) {
      switch (f.wire_type) {
        case wire::kFixed32:
          e.value = wire::LoadFixed32(p);
          p += 4;
          break;
        case wire::kFixed64:
          e.value = wire::LoadFixed64(p);
          p += 8;
          break;
        default:
          p = wire::DecodeVarint(p, end, &e.value);  // checked when scanned
          if (f.enumeration != nullptr && f.enumeration->closed() &&
              !f.enumeration->Contains(static_cast<int32_t>(e.value))) {
            continue;
          }
          break;
      }
      if ((*elements)++ > 0) out_->Char(',');
      Scalar(f, e);
    }
  }

  // A map field (or a Struct's fields): entries [i, j) of map entry messages.
  Wrote MapObject(const FieldPlan& f, size_t i, size_t j, Depth depth) {
    const size_t start = out_->size();
    out_->Char('{');
    bool first = true;
    KeySet keys;
    for (size_t k = i; k < j; ++k) {
      MapKey key{};
      if (!MapItem(*f.message, entries_[k].bytes(), depth.MapEntry(), &first, &key)) {
        // A value that does not print may be replaced by a later one with the same key.
        if (!KeyRepeatsLater(*f.message, k, j, depth)) return Wrote::kFailed;
        out_->Truncate(start);
        *failure_ = TranscodeFailure();
        return MapObjectWithRepeatedKeys(f, i, j, depth);
      }
      if (!keys.Insert(key)) {
        out_->Truncate(start);
        return MapObjectWithRepeatedKeys(f, i, j, depth);
      }
    }
    out_->Char('}');
    return Wrote::kValue;
  }

  // Whether an entry after entries_[k] (up to j) has the key of entries_[k].
  bool KeyRepeatsLater(const MessagePlan& entry, size_t k, size_t j, Depth depth) {
    TranscodeFailure kept = std::move(*failure_);
    MapKey key{};
    bool repeats = false;
    if (EntryKey(entry, entries_[k].bytes(), depth.MapEntry(), &key)) {
      for (size_t later = k + 1; later < j && !repeats; ++later) {
        MapKey other{};
        repeats =
            EntryKey(entry, entries_[later].bytes(), depth.MapEntry(), &other) && other == key;
      }
    }
    *failure_ = std::move(kept);
    return repeats;
  }

  // A map in which some key is set more than once: each keeps its last value.
  Wrote MapObjectWithRepeatedKeys(const FieldPlan& f, size_t i, size_t j, Depth depth) {
    const MessagePlan& entry = *f.message;
    struct Item {
      size_t entry;
      MapKey key{};
      bool replaced = false;
    };
    absl::InlinedVector<Item, 8> items;
    for (size_t k = i; k < j; ++k) {
      MapKey key{};
      if (!EntryKey(entry, entries_[k].bytes(), depth.MapEntry(), &key)) return Wrote::kFailed;
      items.push_back({k, key});
    }
    MarkReplacedKeys(&items);
    out_->Char('{');
    bool first = true;
    for (const Item& item : items) {
      const std::string_view bytes = entries_[item.entry].bytes();
      if (item.replaced) {
        if (!Validate(entry, bytes, depth.MapEntry())) return Wrote::kFailed;
        continue;
      }
      MapKey key{};
      if (!MapItem(entry, bytes, depth.MapEntry(), &first, &key)) return Wrote::kFailed;
    }
    out_->Char('}');
    return Wrote::kValue;
  }

  template <typename Items>
  static void MarkReplacedKeys(Items* items) {
    if (items->size() < 2) return;
    if (items->size() <= 16) {
      for (size_t a = 0; a < items->size(); ++a) {
        for (size_t b = a + 1; b < items->size(); ++b) {
          if ((*items)[a].key == (*items)[b].key) {
            (*items)[a].replaced = true;
            break;
          }
        }
      }
      return;
    }
    absl::flat_hash_set<std::pair<uint64_t, absl::string_view>> seen;
    for (size_t a = items->size(); a-- > 0;) {
      const MapKey& key = (*items)[a].key;
      if (!seen.emplace(key.number, absl::string_view(key.data, key.size)).second) {
        (*items)[a].replaced = true;
      }
    }
  }

  // The key of a map entry, as a value to compare.
  bool EntryKey(const MessagePlan& entry, std::string_view bytes, Depth depth, MapKey* key) {
    if (depth.parse > kMaxParseDepth) return failure_->Fail("messages nested too deeply");
    ScanState state(entries_.size(), 0);
    const bool ok = Scan(entry, bytes, depth, &state);
    if (ok) {
      const int k = Last(state.begin, entries_.size(), 0);
      if (k >= 0) *key = KeyValue(entry.fields[0], entries_[k]);
    }
    entries_.resize(state.begin);
    return ok;
  }

  static MapKey KeyValue(const FieldPlan& f, const Entry& e) {
    MapKey key{};
    switch (f.type) {
      case FieldDescriptor::TYPE_STRING:
        key.data = e.data;
        key.size = e.size;
        break;
      case FieldDescriptor::TYPE_BOOL:
        key.number = e.value != 0;
        break;
      case FieldDescriptor::TYPE_SINT32:
        key.number = static_cast<uint64_t>(
            static_cast<int64_t>(wire::ZigZagDecode32(static_cast<uint32_t>(e.value))));
        break;
      case FieldDescriptor::TYPE_SINT64:
        key.number = static_cast<uint64_t>(wire::ZigZagDecode64(e.value));
        break;
      default:
        key.number = Is32Bit(f.type) ? static_cast<uint32_t>(e.value) : e.value;
        break;
    }
    return key;
  }

  // A map key as a JSON object key: the string, or the number or bool in quotes.
  static void KeyText(const FieldPlan& key_field, const Entry& key, JsonWriter* w) {
    if (key_field.type == FieldDescriptor::TYPE_STRING) {
      w->String(key.bytes());
      return;
    }
    w->Char('"');
    const MapKey k = KeyValue(key_field, key);
    switch (key_field.type) {
      case FieldDescriptor::TYPE_BOOL:
        w->Bool(k.number != 0);
        break;
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED32:
      case FieldDescriptor::TYPE_FIXED64:
        w->Uint(k.number);
        break;
      default:
        w->Int(Is32Bit(key_field.type) ? static_cast<int32_t>(k.number)
                                       : static_cast<int64_t>(k.number));
        break;
    }
    w->Char('"');
  }

  // One "key":value of a map.
  bool MapItem(const MessagePlan& entry, std::string_view bytes, Depth depth, bool* first,
               MapKey* key_value) {
    ScanState state(entries_.size(), 0);
    if (!Scan(entry, bytes, depth, &state) || !Prepare(entry, depth, &state)) return false;
    const size_t begin = state.begin;
    const size_t end = entries_.size();
    const FieldPlan& key_field = entry.fields[0];
    const FieldPlan& value_field = entry.fields[1];
    const int key_index = Last(begin, end, 0);
    const Entry key = key_index >= 0 ? entries_[key_index] : ZeroEntry();
    *key_value = KeyValue(key_field, key);

    const size_t mark = out_->size();
    if (!*first) out_->Char(',');
    KeyText(key_field, key, out_);
    out_->Char(':');
    Wrote wrote = Wrote::kValue;
    if (value_field.message != nullptr) {
      absl::InlinedVector<std::string_view, 1> spans;
      for (size_t k = begin; k < end; ++k) {
        if (entries_[k].field == 1) spans.push_back(entries_[k].bytes());
      }
      if (spans.empty()) spans.push_back(std::string_view());
      wrote = Message(*value_field.message, spans, depth.Field());
    } else {
      const int k = Last(begin, end, 1);
      Scalar(value_field, k >= 0 ? entries_[k] : ZeroEntry());
    }
    entries_.resize(begin);
    if (wrote == Wrote::kFailed) {
      std::string segment;
      JsonWriter w(&segment);
      KeyText(key_field, key, &w);
      w.Finish();
      return failure_->In("[" + segment + "]");
    }
    if (wrote == Wrote::kNothing) {
      out_->Truncate(mark);
    } else {
      *first = false;
    }
    return true;
  }

  // Scalar() for values not checked when read: false for a proto3 string that is not UTF-8.
  bool CheckedScalar(const FieldPlan& f, const Entry& e) {
    if (!f.utf8) {
      Scalar(f, e);
      return true;
    }
    return out_->Utf8String(e.bytes());
  }

  void Scalar(const FieldPlan& f, const Entry& e) {
    const uint64_t v = e.value;
    switch (f.type) {
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SFIXED32:
        out_->Int(static_cast<int32_t>(static_cast<uint32_t>(v)));
        break;
      case FieldDescriptor::TYPE_SINT32:
        out_->Int(wire::ZigZagDecode32(static_cast<uint32_t>(v)));
        break;
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        out_->Uint(static_cast<uint32_t>(v));
        break;
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SFIXED64:
        out_->QuotedInt(static_cast<int64_t>(v));
        break;
      case FieldDescriptor::TYPE_SINT64:
        out_->QuotedInt(wire::ZigZagDecode64(v));
        break;
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        out_->QuotedUint(v);
        break;
      case FieldDescriptor::TYPE_BOOL:
        out_->Bool(v != 0);
        break;
      case FieldDescriptor::TYPE_FLOAT:
        out_->Float(wire::BitCast<float>(static_cast<uint32_t>(v)));
        break;
      case FieldDescriptor::TYPE_DOUBLE:
        out_->Double(wire::BitCast<double>(v));
        break;
      case FieldDescriptor::TYPE_ENUM: {
        const int32_t number = static_cast<int32_t>(static_cast<uint32_t>(v));
        if (f.enumeration->is_null_value()) {
          out_->Raw("null");
        } else if (options_.enums_as_numbers) {
          out_->Int(number);
        } else if (const std::string* name = f.enumeration->QuotedName(number)) {
          out_->Padded(*name);
        } else {
          out_->Int(number);
        }
        break;
      }
      case FieldDescriptor::TYPE_STRING:
        out_->String(e.bytes());
        break;
      case FieldDescriptor::TYPE_BYTES:
        out_->Base64(e.bytes());
        break;
      default:
        break;
    }
  }

  // google.protobuf.Timestamp and Duration: int64 seconds = 1; int32 nanos = 2.
  Wrote Time(const MessagePlan& plan, size_t begin, size_t end) {
    const int s = Last(begin, end, 0);
    const int n = Last(begin, end, 1);
    const int64_t seconds = s >= 0 ? static_cast<int64_t>(entries_[s].value) : 0;
    const int32_t nanos =
        n >= 0 ? static_cast<int32_t>(static_cast<uint32_t>(entries_[n].value)) : 0;
    char text[kTimeTextSize];
    size_t size = 0;
    if (plan.well_known == WellKnownType::kTimestamp) {
      size = FormatTimestamp(seconds, nanos, text);
      if (size == 0) {
        failure_->Fail("Timestamp out of range");
        return Wrote::kFailed;
      }
    } else {
      switch (FormatDuration(seconds, nanos, text, &size)) {
        case DurationFormat::kOk:
          break;
        case DurationFormat::kOutOfRange:
          failure_->Fail("Duration out of range");
          return Wrote::kFailed;
        case DurationFormat::kSignMismatch:
          failure_->Fail("Duration seconds and nanos have different signs");
          return Wrote::kFailed;
      }
    }
    out_->Char('"');
    out_->Raw(std::string_view(text, size));
    out_->Char('"');
    return Wrote::kValue;
  }

  // google.protobuf.FieldMask: repeated string paths = 1, as "fooBar,baz.qux".
  Wrote FieldMask(const ScanState& state, size_t begin, size_t end) {
    if (state.unknown) {
      failure_->Fail("FieldMask holds fields other than paths");
      return Wrote::kFailed;
    }
    thread_local std::string joined;
    joined.clear();
    for (size_t k = begin; k < end; ++k) {
      if (k > begin) joined.push_back(',');
      AppendFieldMaskPathAsJson(entries_[k].bytes(), &joined);
    }
    out_->String(joined);
    return Wrote::kValue;
  }

  // google.protobuf.Value: the kind set last.
  Wrote Value(const MessagePlan& plan, size_t begin, size_t end, Depth depth) {
    int last = -1;
    for (size_t k = begin; k < end; ++k) {
      if (!entries_[k].dead) last = static_cast<int>(k);
    }
    if (last < 0) return Wrote::kNothing;
    const FieldPlan& f = plan.fields[entries_[last].field];
    if (f.message == nullptr) {
      Scalar(f, entries_[last]);
      return Wrote::kValue;
    }
    // Only the last member's occurrences are live; merge them.
    return MessageField(f, begin, end, depth);
  }

  // google.protobuf.Any: {"@type": url, fields...} or {"@type": url, "value": json}.
  Wrote Any(const MessagePlan& any, size_t begin, size_t end, Depth depth) {
    const int u = Last(begin, end, 0);
    const int v = Last(begin, end, 1);
    const std::string_view url = u >= 0 ? entries_[u].bytes() : std::string_view();
    const std::string_view value = v >= 0 ? entries_[v].bytes() : std::string_view();
    out_->Char('{');
    if (value.empty()) {
      if (!url.empty()) {
        out_->Raw("\"@type\":");
        out_->String(url);
      }
      out_->Char('}');
      return Wrote::kValue;
    }
    if (url.empty()) {
      failure_->Fail("Any has a value but no type URL");
      return Wrote::kFailed;
    }
    const MessagePlan* type = nullptr;
    if (url.substr(0, kTypeUrlPrefix.size()) == kTypeUrlPrefix) {
      type = cache_->FindByName(any, url.substr(kTypeUrlPrefix.size()));
    }
    if (type == nullptr) {
      failure_->Fail("Any of unknown type \"" + std::string(url) + "\"");
      return Wrote::kFailed;
    }
    out_->Raw("\"@type\":");
    out_->String(url);
    const Depth content = depth.AnyContent();
    if (type->well_known == WellKnownType::kNone || type->well_known == WellKnownType::kEmpty) {
      ScanState state(entries_.size(), type->oneof_names.size());
      bool ok = Scan(*type, value, content, &state) && Prepare(*type, content, &state);
      bool first = false;
      ok = ok && Fields(*type, state.begin, entries_.size(), content, &first);
      entries_.resize(state.begin);
      if (!ok) return Wrote::kFailed;
    } else {
      const size_t mark = out_->size();
      out_->Raw(",\"value\":");
      const Wrote wrote = Message(*type, absl::MakeConstSpan(&value, 1), content);
      if (wrote == Wrote::kFailed) return Wrote::kFailed;
      if (wrote == Wrote::kNothing) out_->Truncate(mark);
    }
    out_->Char('}');
    return Wrote::kValue;
  }

  // A message's bytes and how deep they were printed.
  using FailedKey =
      std::tuple<const MessagePlan*, const char*, size_t, uint16_t, uint16_t, uint16_t>;

  PlanCache* cache_;
  const WireToJsonOptions& options_;
  JsonWriter* out_;
  std::string FieldPlan::*const key_;  // json_key or proto_key
  absl::flat_hash_map<FailedKey, TranscodeFailure> failed_;
};

}  // namespace

bool WireToJson(PlanCache* cache, const MessagePlan& plan, std::string_view bytes,
                const WireToJsonOptions& options, std::string* out, TranscodeFailure* failure) {
  out->clear();
  out->reserve(bytes.size() * 2 + 64);  // JSON usually takes twice the wire bytes' size
  JsonWriter writer(out);
  Printer printer(cache, options, &writer, failure);
  const Wrote wrote = printer.Message(plan, absl::MakeConstSpan(&bytes, 1), Depth{});
  writer.Finish();
  TrimScratch();
  return wrote != Wrote::kFailed;
}

bool ValidateWire(const MessagePlan& plan, std::string_view bytes, TranscodeFailure* failure) {
  Scanner scanner(failure);
  const bool ok = scanner.Validate(plan, bytes, Depth{});
  TrimScratch();
  return ok;
}

}  // namespace bridge::transcode
