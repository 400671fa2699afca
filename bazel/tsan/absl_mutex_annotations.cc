// ThreadSanitizer annotations for Debian's (uninstrumented) Abseil synchronization library.
//
// Linked into tests and binaries only under --config=tsan (bazel/defs.bzl). Debian builds
// libabsl_synchronization.so without -fsanitize=thread, so absl::Mutex locks with atomics and
// futexes TSan never sees: every access guarded by an absl::Mutex looks like a race.
//
// This file defines the library's out-of-line entry points in the executable. The executable's
// definitions win symbol resolution, for calls from our code and, because the library calls
// them through its PLT, from inside the library and from gRPC (grpc_core::Mutex, gpr_mu and
// gpr_cv are absl::Mutex / absl::CondVar). Each wrapper forwards to the library's definition
// (dlsym(RTLD_NEXT)) and tells TSan about the happens-before it provides:
//   - __tsan_release(mu) before anything that gives the mutex up (Unlock, and the release
//     inside Await*, CondVar::Wait*),
//   - __tsan_acquire(mu) after anything that takes it (Lock, successful TryLock, LockWhen*,
//     and the reacquisition at the end of Await*, CondVar::Wait*).
// Plain acquire/release (not the __tsan_mutex_* API) so that library functions calling each
// other through the PLT (AwaitWithTimeout -> AwaitWithDeadline, Notify -> Lock) only add
// redundant edges, never a double lock. Reader locks are treated like writer locks: this can
// hide a race between two readers that write, never invent one.
//
// Conditions (Await, LockWhen, ...) are evaluated inside the library, sometimes by the thread
// that is unlocking, after its release above. Condition::Eval is wrapped too: it acquires the
// mutex being operated on before the predicate runs and releases it afterwards, so the
// predicate's reads are ordered before the next holder's writes.
//
// Notification, BlockingCounter and Barrier have fast paths that do not lock (an atomic in the
// library), so they get their own edges. Notification::HasBeenNotified() is inline in our code
// (an instrumented acquire load of notified_yet_), so Notify() also releases on that address.
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/barrier.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

void* Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_mutex_annotations: dlsym(RTLD_NEXT, %s) failed: %s\n", mangled,
                 dlerror());
    std::abort();
  }
  return f;
}

// Resolved once per entry point; function-local statics are thread-safe (and TSan knows it).
#define REAL(type, mangled) static const auto real = reinterpret_cast<type>(Real(mangled));

// The mutex whose Lock/Unlock/Await/Wait is running on this thread, for Condition::Eval.
thread_local absl::Mutex* current_mu = nullptr;

class CurrentMu {
 public:
  explicit CurrentMu(absl::Mutex* mu) : saved_(current_mu) { current_mu = mu; }
  ~CurrentMu() { current_mu = saved_; }
  CurrentMu(const CurrentMu&) = delete;
  CurrentMu& operator=(const CurrentMu&) = delete;

 private:
  absl::Mutex* saved_;
};

void Acquire(const void* p) { __tsan_acquire(const_cast<void*>(p)); }
void Release(const void* p) { __tsan_release(const_cast<void*>(p)); }

// Notification's layout (absl/synchronization/notification.h, 20220623): mutex_, notified_yet_.
struct NotificationLayout {
  absl::Mutex mutex_;
  std::atomic<bool> notified_yet_;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification),
              "absl::Notification's layout changed; update NotificationLayout");

const void* NotifiedYet(const absl::Notification* n) {
  return &reinterpret_cast<const NotificationLayout*>(n)->notified_yet_;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

// --- Mutex: plain lock and unlock ---------------------------------------------------------

void Mutex::Lock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  CurrentMu c(this);
  real(this);
  Acquire(this);
}

void Mutex::ReaderLock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  CurrentMu c(this);
  real(this);
  Acquire(this);
}

bool Mutex::TryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  CurrentMu c(this);
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  CurrentMu c(this);
  const bool locked = real(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::Unlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  CurrentMu c(this);
  Release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  CurrentMu c(this);
  Release(this);
  real(this);
}

// --- Mutex: conditional locking (the mutex is not held on entry) --------------------------

void Mutex::LockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  CurrentMu c(this);
  real(this, cond);
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
       "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  CurrentMu c(this);
  const bool r = real(this, cond, timeout);
  Acquire(this);  // held on return whatever the result
  return r;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Time),
       "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  CurrentMu c(this);
  const bool r = real(this, cond, deadline);
  Acquire(this);
  return r;
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&),
       "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  CurrentMu c(this);
  real(this, cond);
  Acquire(this);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
       "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  CurrentMu c(this);
  const bool r = real(this, cond, timeout);
  Acquire(this);
  return r;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Time),
       "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  CurrentMu c(this);
  const bool r = real(this, cond, deadline);
  Acquire(this);
  return r;
}

// --- Mutex: Await (held on entry, released while waiting, held again on return) -----------

void Mutex::Await(const Condition& cond) {
  REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  CurrentMu c(this);
  Release(this);
  real(this, cond);
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
       "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  CurrentMu c(this);
  Release(this);
  const bool r = real(this, cond, timeout);
  Acquire(this);
  return r;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, const Condition&, absl::Time),
       "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  CurrentMu c(this);
  Release(this);
  const bool r = real(this, cond, deadline);
  Acquire(this);
  return r;
}

// --- Condition: predicates evaluated inside the library -----------------------------------

bool Condition::Eval() const {
  REAL(bool (*)(const Condition*), "_ZNK4absl7debian39Condition4EvalEv");
  absl::Mutex* mu = current_mu;
  if (mu != nullptr) Acquire(mu);
  const bool r = real(this);
  if (mu != nullptr) Release(mu);
  return r;
}

// --- CondVar (mu held on entry, released while waiting, held again on return) -------------

void CondVar::Wait(Mutex* mu) {
  REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  CurrentMu c(mu);
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
       "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  CurrentMu c(mu);
  Release(mu);
  const bool r = real(this, mu, timeout);
  Acquire(mu);
  return r;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  REAL(bool (*)(CondVar*, Mutex*, absl::Time),
       "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  CurrentMu c(mu);
  Release(mu);
  const bool r = real(this, mu, deadline);
  Acquire(mu);
  return r;
}

// --- Notification, BlockingCounter, Barrier -----------------------------------------------

void Notification::Notify() {
  REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Release(this);
  Release(NotifiedYet(this));  // for the inline HasBeenNotified()
  real(this);
}

void Notification::WaitForNotification() const {
  REAL(void (*)(const Notification*), "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  REAL(bool (*)(const Notification*, absl::Duration),
       "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool r = real(this, timeout);
  if (r) Acquire(this);
  return r;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  REAL(bool (*)(const Notification*, absl::Time),
       "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool r = real(this, deadline);
  if (r) Acquire(this);
  return r;
}

bool BlockingCounter::DecrementCount() {
  REAL(bool (*)(BlockingCounter*), "_ZN4absl7debian315BlockingCounter14DecrementCountEv");
  Release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  REAL(void (*)(BlockingCounter*), "_ZN4absl7debian315BlockingCounter4WaitEv");
  real(this);
  Acquire(this);
}

bool Barrier::Block() {
  REAL(bool (*)(Barrier*), "_ZN4absl7debian37Barrier5BlockEv");
  Release(this);
  const bool r = real(this);
  Acquire(this);
  return r;
}

ABSL_NAMESPACE_END
}  // namespace absl
