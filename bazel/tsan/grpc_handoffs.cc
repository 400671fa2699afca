// ThreadSanitizer support: the happens-before gRPC gives between starting an operation and
// completing it. Debian's libgrpc is not instrumented, so TSan cannot see that everything a
// thread did before grpc_call_start_batch (building the call, its tags, the request and response
// messages) happens before the thread that takes the completion off the queue runs the tag's
// callback. Without it every such handoff is reported as a race on gRPC's tag objects or on our
// own call state.
//
// These definitions, in the executable and its dynamic symbol table (-rdynamic), interpose on
// libgrpc.so's: an operation's start releases its tag, and a completion queue handing out the
// tag acquires it. gRPC C++ runs callback completions on threads that take them from a
// completion queue with grpc_completion_queue_next, so callbacks are covered too.
#include <dlfcn.h>

#include <cstdlib>

#include "grpc/grpc.h"

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

template <typename Fn>
Fn Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) std::abort();  // not linked against libgrpc: nothing to interpose
  return reinterpret_cast<Fn>(f);
}

grpc_event Acquired(grpc_event event) {
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  using Fn = grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*);
  static const Fn real = Real<Fn>("grpc_call_start_batch");
  __tsan_release(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification, void* tag) {
  using Fn =
      grpc_call_error (*)(grpc_server*, grpc_call**, grpc_call_details*, grpc_metadata_array*,
                          grpc_completion_queue*, grpc_completion_queue*, void*);
  static const Fn real = Real<Fn>("grpc_server_request_call");
  __tsan_release(tag);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification, tag);
}

grpc_call_error grpc_server_request_registered_call(grpc_server* server, void* registered_method,
                                                    grpc_call** call, gpr_timespec* deadline,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_byte_buffer** optional_payload,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag) {
  using Fn = grpc_call_error (*)(grpc_server*, void*, grpc_call**, gpr_timespec*,
                                 grpc_metadata_array*, grpc_byte_buffer**, grpc_completion_queue*,
                                 grpc_completion_queue*, void*);
  static const Fn real = Real<Fn>("grpc_server_request_registered_call");
  __tsan_release(tag);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload,
              cq_bound_to_call, cq_for_notification, tag);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  using Fn = grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*);
  static const Fn real = Real<Fn>("grpc_completion_queue_next");
  return Acquired(real(cq, deadline, reserved));
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  using Fn = grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*);
  static const Fn real = Real<Fn>("grpc_completion_queue_pluck");
  return Acquired(real(cq, tag, deadline, reserved));
}

}  // extern "C"
