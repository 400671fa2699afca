#include "harness/conformance/runner.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace harness::conformance {

namespace {

// The counter of `outcome` in `counts` (const or not).
template <typename C>
auto& CounterOf(C& counts, Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return counts.pass;
    case Outcome::kNonStrict:
      return counts.non_strict;
    case Outcome::kFail:
      return counts.fail;
    case Outcome::kSkipped:
      return counts.skipped;
  }
  return counts.fail;  // not an Outcome: counted where it cannot pass unnoticed
}

}  // namespace

int Counts::of(Outcome outcome) const { return CounterOf(*this, outcome); }

Counts Count(const Report& report) {
  Counts counts;
  for (const CaseResult& r : report.results) ++CounterOf(counts, r.outcome);
  return counts;
}

std::optional<std::string> ProbeDemoService(const SuiteOptions& options) {
  CaseContext ctx(options, std::nullopt);
  absl::StatusOr<CaseContext::Session> s = ctx.OpenConfirmed("conformance-probe");
  // No session: the cases fail on their own, and say why.
  if (!s.ok()) return std::nullopt;
  const std::string method = ctx.DemoMethod("Say");
  if (!s->ws
           ->SendText(absl::StrCat(R"({"type":"message","messageId":"probe","method":")", method,
                                   R"(","payload":{"text":"probe"}})"))
           .ok()) {
    return std::nullopt;
  }
  absl::StatusOr<JsonFrame> f = ctx.Next(*s->ws);
  if (!f.ok()) return std::nullopt;
  if (f->type() == "error" && f->String("category") == "not_found") {
    return absl::StrCat("the server has no ", options.demo_service, ": ", method,
                        " answered not_found (", Printable(f->String("message").value_or(""), 200),
                        ")");
  }
  return std::nullopt;
}

Report RunSuite(const SuiteOptions& options, const std::vector<Case>& cases,
                std::string_view filter, const std::function<void(const CaseResult&)>& progress) {
  Report report;
  report.url = options.target.url;
  report.demo_service = options.demo_service;
  report.started = absl::Now();
  bool demo_probed = false;
  std::optional<std::string> demo_missing;
  for (const Case& c : cases) {
    if (!CaseSelected(c.id, filter)) continue;
    if (c.needs_demo && !demo_probed) {
      demo_missing = ProbeDemoService(options);
      demo_probed = true;
    }
    CaseResult result{c.id, c.group, c.title, c.expected, Outcome::kPass, "", absl::ZeroDuration()};
    const absl::Time start = absl::Now();
    if (c.needs_demo && demo_missing.has_value()) {
      result.outcome = Outcome::kSkipped;
      result.observed = *demo_missing;
    } else {
      CaseContext ctx(options, demo_probed ? demo_missing : std::nullopt);
      Verdict v = c.run(ctx);
      result.outcome = v.outcome;
      result.observed = std::move(v.observed);
    }
    result.duration = absl::Now() - start;
    if (progress) progress(result);
    report.results.push_back(std::move(result));
  }
  report.duration = absl::Now() - report.started;
  return report;
}

}  // namespace harness::conformance
