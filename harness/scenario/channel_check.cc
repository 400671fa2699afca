#include "harness/scenario/channel_check.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/scenario/checks.h"

namespace harness::scenario {
namespace {

// "3, 4, 5" (at most 20, then how many more).
std::string OffsetList(const std::vector<uint64_t>& offsets) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < offsets.size() && i < 20; ++i) parts.push_back(absl::StrCat(offsets[i]));
  if (offsets.size() > 20) parts.push_back(absl::StrCat("... (", offsets.size(), " in all)"));
  return absl::StrJoin(parts, ", ");
}

// Whether offset `offset` lies in a gap the bridge reported: a resubscribe that said
// recovered: false at an offset at or above it.
bool InReportedGap(const ChannelSub& sub, uint64_t offset) {
  for (size_t i = 1; i < sub.subscribed.size(); ++i) {
    const bridge::client::ChannelEvent& e = sub.subscribed[i];
    if (!e.recovered && e.offset.value_or(0) >= offset) return true;
  }
  return false;
}

// What `e.recovered` asks of the resubscribes' answers, when it differs.
void CheckRecovered(const std::vector<bool>& recovered, const v1::ExpectPublications& e,
                    std::vector<std::string>& bad) {
  if (!e.has_recovered()) return;
  const bool any_unrecovered =
      std::find(recovered.begin(), recovered.end(), false) != recovered.end();
  if (recovered.empty()) {
    bad.push_back(absl::StrCat(
        "no resubscribe (every session resumed), expected one with recovered ", e.recovered()));
  } else if (e.recovered() && any_unrecovered) {
    bad.push_back("a resubscribe reported recovered false, expected true");
  } else if (!e.recovered() && !any_unrecovered) {
    bad.push_back("every resubscribe reported recovered true, expected false");
  }
}

}  // namespace

bool Settled(const ChannelSub& sub, const std::vector<Published>& published) {
  std::set<uint64_t> got;
  for (const auto& p : sub.received) got.insert(p.offset);
  for (size_t i = sub.owed_from; i < published.size(); ++i) {
    if (got.count(published[i].offset) == 0 && !InReportedGap(sub, published[i].offset)) {
      return false;
    }
  }
  return true;
}

ChannelReport CheckChannel(const ChannelSub& sub, const std::vector<Published>& published,
                           const v1::ExpectPublications& e) {
  ChannelReport r;
  r.client = sub.client;
  r.channel = sub.channel;
  std::map<uint64_t, const Published*> owed;
  for (size_t i = sub.owed_from; i < published.size(); ++i)
    owed[published[i].offset] = &published[i];
  r.owed = static_cast<int>(owed.size());
  r.received = static_cast<int>(sub.received.size());
  for (size_t i = 1; i < sub.subscribed.size(); ++i) {
    r.recovered.push_back(sub.subscribed[i].recovered);
  }
  r.resubscribes = static_cast<int>(r.recovered.size());
  std::vector<uint64_t> lost, unrecovered, duplicated, out_of_order, wrong;
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  for (const bridge::client::Publication& p : sub.received) {
    if (!seen.insert(p.offset).second) {
      duplicated.push_back(p.offset);
      continue;
    }
    if (p.offset < highest) out_of_order.push_back(p.offset);
    highest = std::max(highest, p.offset);
    auto it = owed.find(p.offset);
    if (it != owed.end() &&
        (it->second->epoch != p.epoch || NumberField(p.data, "n") != it->second->n)) {
      wrong.push_back(p.offset);
    }
  }
  for (const auto& [offset, publication] : owed) {
    if (seen.count(offset) > 0) continue;
    (InReportedGap(sub, offset) ? unrecovered : lost).push_back(offset);
  }
  r.lost = static_cast<int>(lost.size());
  r.unrecovered = static_cast<int>(unrecovered.size());
  r.duplicated = static_cast<int>(duplicated.size());
  r.out_of_order = static_cast<int>(out_of_order.size());
  r.wrong_payload = static_cast<int>(wrong.size());
  std::vector<std::string> bad;
  if (!lost.empty()) bad.push_back(absl::StrCat("lost offsets ", OffsetList(lost)));
  if (!duplicated.empty()) {
    bad.push_back(absl::StrCat("duplicated offsets ", OffsetList(duplicated)));
  }
  if (!out_of_order.empty()) {
    bad.push_back(absl::StrCat("out of order: offsets ", OffsetList(out_of_order),
                               " came after higher ones"));
  }
  if (!wrong.empty()) {
    bad.push_back(
        absl::StrCat("payload or epoch not the published one at offsets ", OffsetList(wrong)));
  }
  CheckRecovered(r.recovered, e, bad);
  if (e.has_received() && r.received != static_cast<int>(e.received())) {
    bad.push_back(absl::StrCat(r.received, " received, expected ", e.received()));
  }
  r.detail = absl::StrCat(
      r.client, " on ", r.channel, ": ", r.owed, " owed, ", r.received, " received",
      r.unrecovered > 0 ? absl::StrCat(", ", r.unrecovered, " in a reported gap (offsets ",
                                       OffsetList(unrecovered), ")")
                        : "",
      r.resubscribes > 0 ? absl::StrCat(", ", r.resubscribes, " resubscribe(s) recovered ",
                                        absl::StrJoin(r.recovered, "/",
                                                      [](std::string* out, bool b) {
                                                        out->append(b ? "true" : "false");
                                                      }))
                         : "");
  r.ok = bad.empty();
  if (!r.ok) absl::StrAppend(&r.detail, ": ", absl::StrJoin(bad, "; "));
  return r;
}

}  // namespace harness::scenario
