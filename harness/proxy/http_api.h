// The fault proxy's HTTP JSON API, shaped like Toxiproxy's:
//
//   GET    /proxies                          every proxy, in an object keyed by name
//   POST   /proxies                          create: {"name","listen","upstream","enabled"}
//   GET    /proxies/{proxy}
//   POST   /proxies/{proxy}                  update: {"enabled":false} takes it down;
//                                            "listen", "upstream"
//   DELETE /proxies/{proxy}
//   GET    /proxies/{proxy}/toxics
//   POST   /proxies/{proxy}/toxics           add: {"name","type","stream","toxicity",
//                                            "attributes":{...}}
//   GET    /proxies/{proxy}/toxics/{toxic}
//   DELETE /proxies/{proxy}/toxics/{toxic}
//   POST   /reset                            enable every proxy, remove every toxic
//
// Bodies and answers are the JSON mapping of proto/harness/v1/fault.proto with its field
// names. Errors answer {"error":"<message naming the field>","status":<code>}: 400 (bad
// input), 404 (unknown proxy, toxic or path), 405, 409 (name taken), 500 (cannot listen).
//
// Threading: any thread that may block (see ProxyRegistry); the HttpServer's.
#ifndef HARNESS_PROXY_HTTP_API_H_
#define HARNESS_PROXY_HTTP_API_H_

#include "harness/proxy/http_server.h"
#include "harness/proxy/proxy_registry.h"

namespace harness::proxy {

HttpResponse HandleApiRequest(ProxyRegistry& registry, const HttpRequest& request);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_HTTP_API_H_
