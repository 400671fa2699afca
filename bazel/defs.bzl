"""Project macros: C++ libraries, binaries, tests, benchmarks, and protobuf + gRPC codegen.

Every target of the project's own code goes through these, so warnings, the C++ standard and
test-only settings live in one place.
"""

# Warnings are errors for the project's own code. System headers (/usr/include) are exempt.
BRIDGE_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

# Under --config=tsan every test and binary links //bazel/tsan:tsan_support: ThreadSanitizer
# annotations for Debian's uninstrumented absl::Mutex, the suppressions and default options.
TSAN_DEPS = select({
    "//bazel/tsan:tsan": ["//bazel/tsan:tsan_support"],
    "//conditions:default": [],
})

# The allocator of the bridge binaries (//bridge:bridge, //bench/load:echo_bridge): jemalloc,
# chosen by measurement (docs/performance.md, "Allocator"); --define=bridge_allocator=glibc
# keeps glibc's malloc.
ALLOCATOR_DEPS = select({
    "//bazel:glibc_malloc": [],
    "//conditions:default": ["@system//:jemalloc"],
})

# Generated code (protoc, grpc_cpp_plugin) is not ours to fix.
GENERATED_COPTS = ["-w"]

def bridge_cc_library(name, copts = [], **kwargs):
    native.cc_library(name = name, copts = BRIDGE_COPTS + copts, **kwargs)

def bridge_cc_binary(name, copts = [], deps = [], **kwargs):
    native.cc_binary(name = name, copts = BRIDGE_COPTS + copts, deps = deps + TSAN_DEPS, **kwargs)

def bridge_cc_test(name, copts = [], deps = [], size = "small", **kwargs):
    native.cc_test(
        name = name,
        copts = BRIDGE_COPTS + copts,
        deps = deps + ["@system//:gtest_main"] + TSAN_DEPS,
        size = size,
        **kwargs
    )

def bridge_cc_benchmark(name, copts = [], deps = [], tags = [], **kwargs):
    """A Google Benchmark binary. Run it optimized: bazel run --config=bench //bench:NAME."""
    native.cc_binary(
        name = name,
        copts = BRIDGE_COPTS + copts,
        deps = deps + ["@system//:benchmark_main"],
        testonly = True,
        tags = tags + ["benchmark"],
        **kwargs
    )

def bridge_proto_library(name, srcs, deps = [], grpc = False, descriptor_set = False, visibility = None):
    """Generates C++ (and optionally gRPC C++) code for `srcs` with Debian's protoc.

    Creates:
      <name>          cc_library with the generated code
      <name>_files    filegroup of the .proto files, this one's and its deps', for importers
      <name>.descriptor_set.pb  (descriptor_set = True) a FileDescriptorSet of srcs with every
                      import, as `protoc --include_imports --descriptor_set_out` writes it

    Proto files import each other by their path from the workspace root
    (import "proto/bridge/v1/frame.proto"); the well-known types come from /usr/include.
    """
    pkg = native.package_name()
    bases = [s[:-len(".proto")] for s in srcs]
    outs = []
    for b in bases:
        outs += [b + ".pb.h", b + ".pb.cc"]
        if grpc:
            outs += [b + ".grpc.pb.h", b + ".grpc.pb.cc"]
    desc = name + ".descriptor_set.pb"
    if descriptor_set:
        outs.append(desc)

    native.filegroup(
        name = name + "_files",
        srcs = srcs + [d + "_files" for d in deps],
        visibility = visibility,
    )

    cmd = "/usr/bin/protoc -I. -I/usr/include --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR)"
    if descriptor_set:
        cmd += " --include_imports --include_source_info --descriptor_set_out=$(location %s)" % desc
    cmd += " " + " ".join([(pkg + "/" + s) if pkg else s for s in srcs])

    native.genrule(
        name = name + "_gen",
        srcs = [name + "_files"],
        outs = outs,
        cmd = cmd,
        message = "protoc " + pkg,
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        copts = GENERATED_COPTS,
        deps = deps + ["@system//:protobuf"] + (["@system//:grpc++"] if grpc else []),
        visibility = visibility,
    )
    if descriptor_set:
        native.filegroup(
            name = name + "_descriptor_set",
            srcs = [desc],
            visibility = visibility,
        )
