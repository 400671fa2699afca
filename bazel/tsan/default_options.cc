// Default TSAN_OPTIONS for binaries built with --config=tsan; TSAN_OPTIONS overrides them.
//   ignore_noninstrumented_modules=1: memcpy, strlen and friends called from Debian's
//     uninstrumented libraries (gRPC, protobuf, Abseil, OpenSSL) are not checked; their
//     synchronization (pthread) still counts.
//   second_deadlock_stack=1: both stacks in lock-order reports.
//   history_size=7: the longest memory of past accesses TSan keeps (4M per thread, 32 times the
//     default), so that the earlier access of a report has its stack ("failed to restore the
//     stack" otherwise) and the suppressions, which match on either stack, can recognize it.
extern "C" const char* __tsan_default_options() {
  return "ignore_noninstrumented_modules=1:second_deadlock_stack=1:history_size=7";
}
