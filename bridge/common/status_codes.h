// gRPC status codes by name, as the numbers on the wire (grpc::StatusCode's values), for the
// layers that stay free of gRPC's headers: the protocol's tables, the upstream's interface.
#ifndef BRIDGE_COMMON_STATUS_CODES_H_
#define BRIDGE_COMMON_STATUS_CODES_H_

namespace bridge::status {

inline constexpr int kOk = 0;
inline constexpr int kCancelled = 1;
inline constexpr int kUnknown = 2;
inline constexpr int kInvalidArgument = 3;
inline constexpr int kDeadlineExceeded = 4;
inline constexpr int kNotFound = 5;
inline constexpr int kAlreadyExists = 6;
inline constexpr int kPermissionDenied = 7;
inline constexpr int kResourceExhausted = 8;
inline constexpr int kFailedPrecondition = 9;
inline constexpr int kAborted = 10;
inline constexpr int kOutOfRange = 11;
inline constexpr int kUnimplemented = 12;
inline constexpr int kInternal = 13;
inline constexpr int kUnavailable = 14;
inline constexpr int kDataLoss = 15;
inline constexpr int kUnauthenticated = 16;

}  // namespace bridge::status

#endif  // BRIDGE_COMMON_STATUS_CODES_H_
