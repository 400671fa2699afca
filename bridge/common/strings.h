// Debian's Abseil has its own absl::string_view, distinct from std::string_view; Sv converts
// at the boundary. Any thread.
#ifndef BRIDGE_COMMON_STRINGS_H_
#define BRIDGE_COMMON_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace bridge {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace bridge

#endif  // BRIDGE_COMMON_STRINGS_H_
