// The toxic types the fault proxy knows. For each: its attributes, the checks a Toxic of the
// type must pass, and the ToxicStage that carries it out on a connection. Also the checks
// shared by everything that names a proxy or a toxic. Pure functions; any thread.
//
// Errors are INVALID_ARGUMENT and name the field: "field attributes.rate: must be more than
// 0". `field_prefix` places the toxic in a larger message ("proxies[0].toxics[2].").
#ifndef HARNESS_PROXY_TOXIC_KINDS_H_
#define HARNESS_PROXY_TOXIC_KINDS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "harness/proxy/toxic.h"
#include "proto/harness/v1/fault.pb.h"

namespace harness::proxy {

// INVALID_ARGUMENT "field <prefix><field>: <reason>".
absl::Status FieldError(std::string_view prefix, std::string_view field, std::string_view reason);

// Names of proxies and toxics (they appear in URLs): letters, digits, '_', '-', '.'.
absl::Status CheckName(std::string_view name, std::string_view prefix, std::string_view field);

// The known types, comma-separated, for messages: "latency, bandwidth, ...".
std::string ToxicTypeList();

// Checks `toxic` and fills in what it leaves out: stream "downstream", name
// "<type>_<stream>", toxicity 1, and 0 or "" for every attribute of its type, so it reads
// back complete.
absl::Status NormalizeToxic(v1::Toxic* toxic, std::string_view field_prefix = "");

// Whether a normalized toxic acts on WebSocket frames. Its stages go before the transport
// toxics' on each connection, so they see whole frames.
bool IsWebSocketToxic(const v1::Toxic& toxic);

// The stage that carries out a normalized toxic on one connection.
std::shared_ptr<ToxicStage> MakeToxicStage(const v1::Toxic& toxic);

}  // namespace harness::proxy

#endif  // HARNESS_PROXY_TOXIC_KINDS_H_
