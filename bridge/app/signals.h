// SIGTERM/SIGINT handling for the binaries: block both before any thread starts (threads
// inherit the mask), then wait for one on the main thread.
#ifndef BRIDGE_APP_SIGNALS_H_
#define BRIDGE_APP_SIGNALS_H_

#include <pthread.h>

#include <csignal>

namespace bridge::app {

inline sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Call first in main. Also ignores SIGPIPE (a peer gone mid-write is an error code, not death).
inline void BlockTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

// Returns the signal received: SIGINT or SIGTERM.
inline int WaitForTerminationSignal() {
  const sigset_t set = TerminationSignals();
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number;
}

}  // namespace bridge::app

#endif  // BRIDGE_APP_SIGNALS_H_
