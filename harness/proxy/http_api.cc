#include "harness/proxy/http_api.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"

namespace harness::proxy {
namespace {

namespace json = ::google::protobuf::util;

HttpResponse Error(int status, absl::string_view message) {
  return {status, JsonErrorBody(status, std::string_view(message.data(), message.size()))};
}

HttpResponse Error(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return Error(400, status.message());
    case absl::StatusCode::kNotFound:
      return Error(404, status.message());
    case absl::StatusCode::kAlreadyExists:
      return Error(409, status.message());
    default:
      return Error(500, status.message());
  }
}

std::string ToJson(const google::protobuf::Message& message) {
  json::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)json::MessageToJsonString(message, &out, options);
  return out;
}

template <typename Message>
HttpResponse Answer(int status, const absl::StatusOr<Message>& message) {
  if (!message.ok()) return Error(message.status());
  return {status, ToJson(*message)};
}

HttpResponse Answer(const absl::Status& status) {
  if (!status.ok()) return Error(status);
  return {204, ""};
}

// Parses a request body into `message`; the error names the field.
absl::Status FromJson(const std::string& body, google::protobuf::Message* message) {
  if (body.empty()) return absl::InvalidArgumentError("the request needs a JSON body");
  const auto status = json::JsonStringToMessage(body, message);
  if (status.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid JSON body: ", status.message().ToString()));
}

HttpResponse ListProxies(ProxyRegistry& registry) {
  std::vector<std::string> entries;
  for (const v1::Proxy& proxy : registry.List()) {
    // Names hold only letters, digits, '_', '-' and '.': nothing to escape.
    entries.push_back(absl::StrCat("\"", proxy.name(), "\":", ToJson(proxy)));
  }
  return {200, absl::StrCat("{", absl::StrJoin(entries, ","), "}")};
}

HttpResponse ListToxics(ProxyRegistry& registry, const std::string& proxy) {
  absl::StatusOr<std::vector<v1::Toxic>> toxics = registry.ListToxics(proxy);
  if (!toxics.ok()) return Error(toxics.status());
  std::vector<std::string> entries;
  for (const v1::Toxic& toxic : *toxics) entries.push_back(ToJson(toxic));
  return {200, absl::StrCat("[", absl::StrJoin(entries, ","), "]")};
}

HttpResponse CreateProxy(ProxyRegistry& registry, const std::string& body) {
  v1::Proxy spec;
  if (absl::Status s = FromJson(body, &spec); !s.ok()) return Error(s);
  return Answer(201, registry.Create(spec));
}

HttpResponse UpdateProxy(ProxyRegistry& registry, const std::string& name,
                         const std::string& body) {
  v1::Proxy changes;
  if (absl::Status s = FromJson(body, &changes); !s.ok()) return Error(s);
  changes.set_name(name);
  return Answer(200, registry.Update(changes));
}

HttpResponse UpdateToxic(ProxyRegistry& registry, const std::string& proxy,
                         const std::string& toxic, const std::string& body) {
  v1::Toxic changes;
  if (absl::Status s = FromJson(body, &changes); !s.ok()) return Error(s);
  return Answer(200, registry.UpdateToxic(proxy, toxic, changes));
}

// A JSON array of proxies, created or updated; answers {"proxies":[...]} as Toxiproxy does.
HttpResponse Populate(ProxyRegistry& registry, const std::string& body) {
  v1::FaultConfig config;
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || body[first] != '[') {
    return Error(400, "the request needs a JSON array of proxies");
  }
  if (absl::Status s = FromJson(absl::StrCat("{\"proxies\":", body, "}"), &config); !s.ok()) {
    return Error(s);
  }
  absl::StatusOr<std::vector<v1::Proxy>> proxies =
      registry.Populate(std::vector<v1::Proxy>(config.proxies().begin(), config.proxies().end()));
  if (!proxies.ok()) return Error(proxies.status());
  std::vector<std::string> entries;
  for (const v1::Proxy& proxy : *proxies) entries.push_back(ToJson(proxy));
  return {201, absl::StrCat("{\"proxies\":[", absl::StrJoin(entries, ","), "]}")};
}

HttpResponse AddToxic(ProxyRegistry& registry, const std::string& proxy, const std::string& body) {
  v1::Toxic toxic;
  if (absl::Status s = FromJson(body, &toxic); !s.ok()) return Error(s);
  return Answer(200, registry.AddToxic(proxy, toxic));
}

}  // namespace

HttpResponse HandleApiRequest(ProxyRegistry& registry, const HttpRequest& request) {
  const std::vector<std::string> path = absl::StrSplit(request.path, '/', absl::SkipEmpty());
  const std::string& method = request.method;
  const auto not_allowed = [&] {
    return Error(405, absl::StrCat(method, " is not allowed on ", request.path));
  };

  if (path.size() == 1 && path[0] == "reset") {
    return method == "POST" ? Answer(registry.Reset()) : not_allowed();
  }
  if (path.size() == 1 && path[0] == "version") {
    if (method != "GET") return not_allowed();
    return {200, absl::StrCat("{\"version\":\"", kToxiproxyApiVersion, "\"}")};
  }
  if (path.size() == 1 && path[0] == "populate") {
    return method == "POST" ? Populate(registry, request.body) : not_allowed();
  }
  if (path.empty() || path[0] != "proxies" || path.size() > 4 ||
      (path.size() >= 3 && path[2] != "toxics")) {
    return Error(404, absl::StrCat("no such path: ", request.path));
  }
  switch (path.size()) {
    case 1:  // /proxies
      if (method == "GET") return ListProxies(registry);
      if (method == "POST") return CreateProxy(registry, request.body);
      return not_allowed();
    case 2:  // /proxies/{proxy}
      if (method == "GET") return Answer(200, registry.Get(path[1]));
      if (method == "POST") return UpdateProxy(registry, path[1], request.body);
      if (method == "DELETE") return Answer(registry.Delete(path[1]));
      return not_allowed();
    case 3:  // /proxies/{proxy}/toxics
      if (method == "GET") return ListToxics(registry, path[1]);
      if (method == "POST") return AddToxic(registry, path[1], request.body);
      return not_allowed();
    default:  // /proxies/{proxy}/toxics/{toxic}
      if (method == "GET") return Answer(200, registry.GetToxic(path[1], path[3]));
      if (method == "POST") return UpdateToxic(registry, path[1], path[3], request.body);
      if (method == "DELETE") return Answer(registry.RemoveToxic(path[1], path[3]));
      return not_allowed();
  }
}

}  // namespace harness::proxy
