// Frames over a test's WebSocket client, in the JSON encoding: the next message decoded, and a
// subscribe. Failures (no message within kTestTimeout, a message that is no frame) are test
// failures where they happen; the returned frame is then empty. Any thread; one client at a
// time.
#ifndef TESTS_SUPPORT_JSON_FRAMES_H_
#define TESTS_SUPPORT_JSON_FRAMES_H_

#include <string>

#include "proto/bridge/v1/frame.pb.h"
#include "tests/support/ws_test_client.h"

namespace bridge::testing {

// The next text message of `client` as a frame. `text` (optional) gets the message as
// received, for the failure messages of later checks.
v1::Frame NextJsonFrame(WsTestClient& client, std::string* text = nullptr);

// Sends {"type":"subscribe","channel":CHANNEL EXTRA} (`extra`: more members, each starting
// with a comma) and returns the next frame.
v1::Frame SubscribeJson(WsTestClient& client, const std::string& channel,
                        const std::string& extra = "", std::string* text = nullptr);

}  // namespace bridge::testing

#endif  // TESTS_SUPPORT_JSON_FRAMES_H_
