// The reason words of websocketpp's own closes (bridge/server/close_reasons.h): every processor
// error of websocketpp has a word that docs/protocol.md's rule accepts, websocketpp's sentence
// is replaced by it, and the bridge's own words pass unchanged.
#include "bridge/server/close_reasons.h"

#include <set>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace bridge::server {
namespace {

namespace perr = websocketpp::processor::error;

bool IsWord(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (const char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

TEST(CloseReasonsTest, EveryProcessorErrorHasAWordInPlaceOfItsSentence) {
  const auto& category = perr::get_processor_category();
  for (int v = perr::general; v <= perr::short_key3; ++v) {
    const auto error = static_cast<perr::processor_errors>(v);
    const std::string sentence = category.message(v);
    SCOPED_TRACE(sentence);
    EXPECT_TRUE(IsWord(LibraryCloseWord(error))) << LibraryCloseWord(error);
    EXPECT_EQ(CloseReasonWord(sentence), LibraryCloseWord(error));
  }
}

TEST(CloseReasonsTest, TheClosesAClientCanCauseHaveTheirOwnWords) {
  EXPECT_EQ(LibraryCloseWord(perr::invalid_utf8), "invalid_utf8");          // 1007
  EXPECT_EQ(LibraryCloseWord(perr::message_too_big), "message_too_big");    // 1009
  EXPECT_EQ(LibraryCloseWord(perr::invalid_rsv_bit), "reserved_bits_set");  // 1002
  EXPECT_EQ(LibraryCloseWord(perr::invalid_opcode), "invalid_opcode");      // 1002
  // Each RFC 6455 violation (1002) is told apart from the others.
  std::set<std::string_view> words;
  for (perr::processor_errors e :
       {perr::protocol_violation, perr::invalid_opcode, perr::control_too_big,
        perr::invalid_rsv_bit, perr::fragmented_control, perr::invalid_continuation,
        perr::masking_required, perr::masking_forbidden, perr::reserved_close_code,
        perr::invalid_close_code}) {
    EXPECT_TRUE(words.insert(LibraryCloseWord(e)).second) << LibraryCloseWord(e);
  }
}

TEST(CloseReasonsTest, TheBridgesOwnWordsPassUnchanged) {
  for (std::string_view word : {"heartbeat_timeout", "server_shutdown", "slow_consumer", ""}) {
    EXPECT_EQ(CloseReasonWord(word), word);
  }
}

}  // namespace
}  // namespace bridge::server
