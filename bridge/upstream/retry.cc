#include "bridge/upstream/retry.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace bridge::upstream {
namespace {

const std::map<std::string, int>& StatusCodesByName() {
  static const auto* codes = new std::map<std::string, int>{
      {"CANCELLED", 1},           {"UNKNOWN", 2},
      {"INVALID_ARGUMENT", 3},    {"DEADLINE_EXCEEDED", 4},
      {"NOT_FOUND", 5},           {"ALREADY_EXISTS", 6},
      {"PERMISSION_DENIED", 7},   {"RESOURCE_EXHAUSTED", 8},
      {"FAILED_PRECONDITION", 9}, {"ABORTED", 10},
      {"OUT_OF_RANGE", 11},       {"UNIMPLEMENTED", 12},
      {"INTERNAL", 13},           {"UNAVAILABLE", 14},
      {"DATA_LOSS", 15},          {"UNAUTHENTICATED", 16},
  };
  return *codes;
}

absl::Status FieldError(const std::string& field, const std::string& reason) {
  return absl::InvalidArgumentError(absl::StrCat("config field ", field, ": ", reason));
}

}  // namespace

absl::Duration BackoffDelay(const RetryRule& rule, int attempt, double uniform01) {
  const double exponent = std::max(0, attempt - 2);
  const double ceiling_ms = std::min(
      absl::ToDoubleMilliseconds(rule.max_backoff),
      absl::ToDoubleMilliseconds(rule.initial_backoff) * std::pow(rule.multiplier, exponent));
  return absl::Milliseconds(ceiling_ms * std::clamp(uniform01, 0.0, 1.0));
}

absl::StatusOr<RetryPolicies> RetryPolicies::FromConfig(const v1::BridgeConfig& config) {
  RetryPolicies policies;
  for (int i = 0; i < config.retry_policies_size(); ++i) {
    const v1::RetryPolicy& p = config.retry_policies(i);
    const std::string field = absl::StrCat("retry_policies[", i, "]");
    if (p.service().empty()) return FieldError(field + ".service", "empty");
    if (p.max_attempts() < 2 || p.max_attempts() > 5) {
      return FieldError(field + ".max_attempts",
                        absl::StrCat("must be from 2 to 5, got ", p.max_attempts()));
    }
    RetryRule rule;
    rule.max_attempts = static_cast<int>(p.max_attempts());
    rule.initial_backoff = absl::Milliseconds(p.initial_backoff_ms());
    rule.max_backoff = absl::Milliseconds(p.max_backoff_ms());
    rule.multiplier = p.backoff_multiplier();
    if (rule.max_backoff < rule.initial_backoff) {
      return FieldError(field + ".max_backoff_ms", "must be at least initial_backoff_ms");
    }
    if (!(rule.multiplier >= 1.0)) {
      return FieldError(field + ".backoff_multiplier", "must be at least 1");
    }
    for (const std::string& name : p.retryable_status_codes()) {
      auto it = StatusCodesByName().find(name);
      if (it == StatusCodesByName().end()) {
        return FieldError(field + ".retryable_status_codes",
                          absl::StrCat("unknown gRPC status ", name));
      }
      const bool unsafe = name == "DEADLINE_EXCEEDED" || name == "INTERNAL" || name == "UNKNOWN" ||
                          name == "DATA_LOSS";
      if (unsafe && !p.idempotent()) {
        return FieldError(field + ".retryable_status_codes",
                          absl::StrCat(name,
                                       " may be retried only for idempotent methods "
                                       "(set idempotent: true)"));
      }
      rule.retryable_codes.insert(it->second);
    }
    const std::string key =
        p.method().empty() ? p.service() : absl::StrCat(p.service(), "/", p.method());
    if (policies.rules_.count(key) > 0) {
      return FieldError(field, absl::StrCat("a second policy for ", key));
    }
    policies.rules_[key] = rule;
  }
  const auto& t = config.retry_throttling();
  if (t.max_tokens() > 1000) {
    return FieldError("retry_throttling.max_tokens", "must be from 1 to 1000");
  }
  if (t.token_ratio() < 0 || t.token_ratio() > 1) {
    return FieldError("retry_throttling.token_ratio", "must be in (0, 1]");
  }
  return policies;
}

const RetryRule* RetryPolicies::Find(std::string_view service, std::string_view method) const {
  if (auto it = rules_.find(absl::StrCat(absl::string_view(service.data(), service.size()), "/",
                                         absl::string_view(method.data(), method.size())));
      it != rules_.end()) {
    return &it->second;
  }
  if (auto it = rules_.find(service); it != rules_.end()) return &it->second;
  return nullptr;
}

void RetryThrottle::OnSuccess() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::min(max_tokens_, tokens_ + ratio_);
}

bool RetryThrottle::OnFailureAllowsRetry() {
  absl::MutexLock lock(&mu_);
  tokens_ = std::max(0.0, tokens_ - 1);
  return tokens_ > max_tokens_ / 2;
}

double RetryThrottle::tokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

}  // namespace bridge::upstream
