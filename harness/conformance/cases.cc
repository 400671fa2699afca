// Every case of the conformance suite, group by group, each checking one rule of
// docs/protocol.md from the wire. The groups live in cases_*.cc; a case opens its own
// connections and leaves none behind.
#include <utility>
#include <vector>

#include "harness/conformance/cases_common.h"
#include "harness/conformance/suite.h"

namespace harness::conformance {
namespace {

std::vector<Case> MakeCases() {
  std::vector<Case> all;
  for (std::vector<Case> (*group)() :
       {cases::HandshakeCases, cases::VersionCases, cases::HeartbeatCases, cases::BadInputCases,
        cases::ErrorMappingCases, cases::StreamCases, cases::ResumeCases, cases::CloseCodeCases,
        cases::ChannelCases, cases::ClientStringCases, cases::RateLimitCases}) {
    for (Case& c : group()) all.push_back(std::move(c));
  }
  return all;
}

}  // namespace

const std::vector<Case>& AllCases() {
  static const std::vector<Case>* const cases = new std::vector<Case>(MakeCases());
  return *cases;
}

}  // namespace harness::conformance
