#include "bridge/common/markup.h"

#include "gtest/gtest.h"

namespace bridge {
namespace {

TEST(MarkupEscapeTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(MarkupEscape(R"(<a href="x">'&'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(MarkupEscape("plain"), "plain");
}

TEST(MarkupEscapeTest, ControlCharactersXmlCannotHoldBecomeQuestionMarks) {
  EXPECT_EQ(MarkupEscape(std::string("a\x01"
                                     "b\x1f",
                                     4)),
            "a?b?");
  EXPECT_EQ(MarkupEscape("line\nnext\ttab\r"), "line\nnext\ttab\r");
  EXPECT_EQ(MarkupEscape("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");  // UTF-8 passes
}

}  // namespace
}  // namespace bridge
