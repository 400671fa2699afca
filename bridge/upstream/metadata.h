// gRPC's rules for call metadata, in one place for everything that builds a call: which keys and
// values gRPC accepts (a call carrying anything else is refused by gRPC itself, and grpc++
// aborts the process on that refusal), how the bridge carries text that gRPC would refuse
// (identifiers: percent-encoded; `-bin` values in frames: base64), and how big a call's
// metadata may be. docs/protocol.md, "Metadata", states the same rules for clients.
//
// Pure functions; any thread.
#ifndef BRIDGE_UPSTREAM_METADATA_H_
#define BRIDGE_UPSTREAM_METADATA_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "bridge/upstream/upstream.h"

namespace bridge::upstream {

// What gRPC accepts as a key: one or more of [0-9a-z_.-].
bool IsLegalMetadataKey(std::string_view key);
// A key whose values are bytes (gRPC base64-encodes them on the wire): it ends in "-bin".
bool IsBinaryMetadataKey(std::string_view key);
// What gRPC accepts as the value of `key`: any bytes for a `-bin` key, otherwise printable
// ASCII (0x20-0x7E).
bool IsLegalMetadataValue(std::string_view key, std::string_view value);

// Keys a client may not set in a frame's `metadata`: gRPC's own (grpc-*), the bridge's
// (x-bridge-*), and HTTP/2 headers gRPC writes itself.
bool IsReservedMetadataKey(std::string_view key);

// Text of any bytes as a legal non-binary value: every byte outside 0x20-0x7E, and '%' itself,
// becomes %XX (upper-case hex), as gRPC encodes grpc-message. Printable ASCII without '%' is
// unchanged. Used for identifiers the bridge forwards (client id, user id, channel, forwarded
// headers), which may hold any UTF-8.
std::string PercentEncodeMetadataValue(std::string_view value);

// The size of `metadata` as HTTP/2 counts a header list (RFC 7540, 6.5.2): per entry, the key,
// the value and 32; `-bin` values as gRPC sends them, base64 without padding.
size_t MetadataListSize(const Metadata& metadata);
size_t MetadataEntrySize(std::string_view key, std::string_view value);

// OK when gRPC accepts every entry of `metadata`; otherwise INVALID_ARGUMENT naming the first
// entry it would refuse. The last guard before a call starts.
absl::Status CheckMetadata(const Metadata& metadata);

}  // namespace bridge::upstream

#endif  // BRIDGE_UPSTREAM_METADATA_H_
