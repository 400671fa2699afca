#include "bridge/session/call_table.h"

#include <utility>

namespace bridge::session {

ActiveCall* CallTable::Find(const std::string& message_id) {
  auto it = calls_.find(message_id);
  return it == calls_.end() ? nullptr : &it->second;
}

ActiveCall* CallTable::Find(const std::string& message_id, uint64_t call_id) {
  ActiveCall* call = Find(message_id);
  return call != nullptr && call->id == call_id ? call : nullptr;
}

ActiveCall& CallTable::Start(const std::string& message_id) {
  ActiveCall& call = calls_[message_id];
  call = ActiveCall{};
  call.id = ++next_call_id_;
  return call;
}

std::optional<ActiveCall> CallTable::Take(const std::string& message_id, uint64_t call_id) {
  auto it = calls_.find(message_id);
  if (it == calls_.end() || it->second.id != call_id) return std::nullopt;
  std::optional<ActiveCall> call(std::move(it->second));
  calls_.erase(it);
  return call;
}

std::vector<ActiveCall> CallTable::TakeAll() {
  std::vector<ActiveCall> all;
  all.reserve(calls_.size());
  for (auto& [id, call] : calls_) all.push_back(std::move(call));
  calls_.clear();
  return all;
}

void CallTable::RememberOutcome(const std::string& message_id, const v1::Frame& frame) {
  if (max_outcomes_ == 0) return;
  auto [it, inserted] = outcomes_.try_emplace(message_id, frame);
  if (!inserted) return;
  it->second.clear_seq();
  outcome_order_.push_back(message_id);
  while (outcome_order_.size() > max_outcomes_) {
    outcomes_.erase(outcome_order_.front());
    outcome_order_.pop_front();
  }
}

const v1::Frame* CallTable::Outcome(const std::string& message_id) const {
  auto it = outcomes_.find(message_id);
  return it == outcomes_.end() ? nullptr : &it->second;
}

}  // namespace bridge::session
