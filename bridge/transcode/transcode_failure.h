// Why a transcoding pass failed and where: the reason set where the failure happened, and the
// path to it ("items[2].price", "attrs[\"k\"]") collected while the recursion unwinds, so the
// success path pays nothing for it. One per pass; not shared between threads.
#ifndef BRIDGE_TRANSCODE_TRANSCODE_FAILURE_H_
#define BRIDGE_TRANSCODE_TRANSCODE_FAILURE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bridge::transcode {

struct TranscodeFailure {
  std::string reason;
  std::vector<std::string> segments;  // innermost first: "price", "[2]", "items"

  // Sets the reason; returns false so callers can `return failure->Fail(...)`.
  bool Fail(std::string why) {
    reason = std::move(why);
    return false;
  }
  // Adds the enclosing field, index or key on the way out; returns false.
  bool In(std::string_view segment) {
    segments.emplace_back(segment);
    return false;
  }
  bool AtIndex(size_t index) { return In("[" + std::to_string(index) + "]"); }

  // "items[2].price: <reason>", or the reason alone at the top level.
  std::string Message() const {
    std::string path;
    for (size_t i = segments.size(); i-- > 0;) {
      if (!path.empty() && segments[i].front() != '[') path.push_back('.');
      path += segments[i];
    }
    return path.empty() ? reason : path + ": " + reason;
  }
};

}  // namespace bridge::transcode

#endif  // BRIDGE_TRANSCODE_TRANSCODE_FAILURE_H_
