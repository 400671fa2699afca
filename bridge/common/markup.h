// Text placed in XML or HTML (JUnit reports, the conformance page): the one escaper for both.
// Any thread.
#ifndef BRIDGE_COMMON_MARKUP_H_
#define BRIDGE_COMMON_MARKUP_H_

#include <string>
#include <string_view>

namespace bridge {

// &, <, >, " and ' as entities (&#39; for ', which HTML 4 lacks a name for); control characters
// XML 1.0 cannot hold (below 0x20 but tab, newline and carriage return) as '?'. Other bytes,
// UTF-8 included, pass through.
std::string MarkupEscape(std::string_view text);

}  // namespace bridge

#endif  // BRIDGE_COMMON_MARKUP_H_
