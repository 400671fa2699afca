// The independent RFC 6455 client of the tests: harness::RawWsClient under its test name, with
// the tests' default timeout. See harness/common/raw_ws_client.h.
#ifndef TESTS_SUPPORT_WS_TEST_CLIENT_H_
#define TESTS_SUPPORT_WS_TEST_CLIENT_H_

#include "absl/time/time.h"
#include "harness/common/raw_ws_client.h"

namespace bridge::testing {

inline constexpr absl::Duration kTestTimeout = harness::RawWsClient::kDefaultTimeout;

using WsTestClient = harness::RawWsClient;

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_WS_TEST_CLIENT_H_
