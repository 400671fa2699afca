#include "harness/proxy/proxy_registry.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bridge/common/strings.h"
#include "harness/proxy/toxic_kinds.h"

namespace harness::proxy {
namespace {

using ::bridge::Sv;

}  // namespace

absl::Status ProxyRegistry::Load(const v1::FaultConfig& config) {
  v1::FaultConfig normalized = config;
  std::set<std::string> names;
  for (int i = 0; i < normalized.proxies_size(); ++i) {
    const std::string prefix = absl::StrCat("proxies[", i, "].");
    v1::Proxy* proxy = normalized.mutable_proxies(i);
    if (absl::Status s = NormalizeProxy(proxy, prefix); !s.ok()) return s;
    if (!names.insert(proxy->name()).second) {
      return FieldError(prefix, "name", absl::StrCat("\"", proxy->name(), "\" is taken"));
    }
  }
  absl::MutexLock lock(&mu_);
  for (const v1::Proxy& proxy : normalized.proxies()) {
    if (absl::StatusOr<v1::Proxy> created = CreateLocked(proxy); !created.ok()) {
      return created.status();
    }
  }
  return absl::OkStatus();
}

std::vector<v1::Proxy> ProxyRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Proxy> proxies;
  for (const auto& [name, proxy] : proxies_) proxies.push_back(proxy->Describe());
  return proxies;
}

absl::StatusOr<std::shared_ptr<Proxy>> ProxyRegistry::Find(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = proxies_.find(name);
  if (it == proxies_.end()) {
    return absl::NotFoundError(absl::StrCat("no proxy named \"", Sv(name), "\""));
  }
  return it->second;
}

absl::StatusOr<v1::Proxy> ProxyRegistry::Get(std::string_view name) const {
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Find(name);
  if (!proxy.ok()) return proxy.status();
  return (*proxy)->Describe();
}

absl::StatusOr<v1::Proxy> ProxyRegistry::Create(v1::Proxy spec) {
  if (absl::Status s = NormalizeProxy(&spec); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  return CreateLocked(std::move(spec));
}

absl::StatusOr<v1::Proxy> ProxyRegistry::CreateLocked(v1::Proxy spec) {
  if (proxies_.count(spec.name()) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("a proxy named \"", spec.name(), "\" exists"));
  }
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Proxy::Create(io_, spec, seed_);
  if (!proxy.ok()) return proxy.status();
  proxies_.emplace(spec.name(), *proxy);
  return (*proxy)->Describe();
}

absl::StatusOr<v1::Proxy> ProxyRegistry::Update(const v1::Proxy& changes) {
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Find(changes.name());
  if (!proxy.ok()) return proxy.status();
  if (!changes.upstream().empty()) {
    if (absl::Status s = (*proxy)->SetUpstream(changes.upstream()); !s.ok()) return s;
  }
  if (!changes.listen().empty() && changes.listen() != (*proxy)->Describe().listen()) {
    if (absl::Status s = (*proxy)->SetListen(changes.listen()); !s.ok()) return s;
  }
  if (changes.has_enabled()) {
    if (absl::Status s = (*proxy)->SetEnabled(changes.enabled()); !s.ok()) return s;
  }
  return (*proxy)->Describe();
}

absl::StatusOr<std::vector<v1::Proxy>> ProxyRegistry::Populate(std::vector<v1::Proxy> proxies) {
  std::set<std::string> names;
  for (size_t i = 0; i < proxies.size(); ++i) {
    const std::string prefix = absl::StrCat("proxies[", i, "].");
    if (absl::Status s = NormalizeProxy(&proxies[i], prefix); !s.ok()) return s;
    if (!names.insert(proxies[i].name()).second) {
      return FieldError(prefix, "name", absl::StrCat("\"", proxies[i].name(), "\" is given twice"));
    }
  }
  std::vector<v1::Proxy> out;
  for (v1::Proxy& spec : proxies) {
    absl::StatusOr<v1::Proxy> done =
        Find(spec.name()).ok() ? Update(spec) : Create(std::move(spec));
    if (!done.ok()) return done.status();
    out.push_back(*std::move(done));
  }
  return out;
}

absl::Status ProxyRegistry::Delete(std::string_view name) {
  std::shared_ptr<Proxy> proxy;
  {
    absl::MutexLock lock(&mu_);
    auto it = proxies_.find(name);
    if (it == proxies_.end()) {
      return absl::NotFoundError(absl::StrCat("no proxy named \"", Sv(name), "\""));
    }
    proxy = std::move(it->second);
    proxies_.erase(it);
  }
  proxy->Stop();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Toxic>> ProxyRegistry::ListToxics(std::string_view name) const {
  absl::StatusOr<v1::Proxy> proxy = Get(name);
  if (!proxy.ok()) return proxy.status();
  return std::vector<v1::Toxic>(proxy->toxics().begin(), proxy->toxics().end());
}

absl::StatusOr<v1::Toxic> ProxyRegistry::GetToxic(std::string_view name,
                                                  std::string_view toxic) const {
  absl::StatusOr<v1::Proxy> proxy = Get(name);
  if (!proxy.ok()) return proxy.status();
  for (const v1::Toxic& t : proxy->toxics()) {
    if (t.name() == toxic) return t;
  }
  return absl::NotFoundError(absl::StrCat("proxy ", Sv(name), " has no toxic named ", Sv(toxic)));
}

absl::StatusOr<v1::Toxic> ProxyRegistry::AddToxic(std::string_view name, v1::Toxic toxic) {
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Find(name);
  if (!proxy.ok()) return proxy.status();
  return (*proxy)->AddToxic(std::move(toxic));
}

absl::Status ProxyRegistry::RemoveToxic(std::string_view name, std::string_view toxic) {
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Find(name);
  if (!proxy.ok()) return proxy.status();
  return (*proxy)->RemoveToxic(std::string(toxic));
}

absl::StatusOr<v1::Toxic> ProxyRegistry::UpdateToxic(std::string_view name, std::string_view toxic,
                                                     const v1::Toxic& changes) {
  absl::StatusOr<v1::Toxic> current = GetToxic(name, toxic);
  if (!current.ok()) return current.status();
  v1::Toxic updated = *current;
  if (changes.has_toxicity()) updated.set_toxicity(changes.toxicity());
  updated.mutable_attributes()->MergeFrom(changes.attributes());
  v1::Toxic checked = updated;
  if (absl::Status s = NormalizeToxic(&checked); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<Proxy>> proxy = Find(name);
  if (!proxy.ok()) return proxy.status();
  if (absl::Status s = (*proxy)->RemoveToxic(std::string(toxic)); !s.ok()) return s;
  return (*proxy)->AddToxic(std::move(updated));
}

absl::Status ProxyRegistry::Reset() {
  std::vector<std::shared_ptr<Proxy>> proxies;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, proxy] : proxies_) proxies.push_back(proxy);
  }
  absl::Status first;
  for (const std::shared_ptr<Proxy>& proxy : proxies) {
    proxy->RemoveAllToxics();
    if (absl::Status s = proxy->SetEnabled(true); !s.ok() && first.ok()) first = s;
  }
  return first;
}

void ProxyRegistry::Clear() {
  std::map<std::string, std::shared_ptr<Proxy>, std::less<>> proxies;
  {
    absl::MutexLock lock(&mu_);
    proxies.swap(proxies_);
  }
  for (auto& [name, proxy] : proxies) proxy->Stop();
}

}  // namespace harness::proxy
