"""Project macros: C++ libraries, binaries, tests, benchmarks, and protobuf + gRPC codegen.

Every target of the project's own code goes through these, so warnings, the C++ standard and
test-only settings live in one place.

Sources named after the target. A target's files default to the ones that bear its name, in
its package, so a BUILD file lists files only where they differ from that:

  bridge_cc_library(name = "x")    srcs: x.cc, hdrs: x.h, each if the file exists (a
                                   header-only library has no x.cc, a library of generated
                                   code no x.h)
  bridge_cc_test(name = "x_test")  srcs: x_test.cc
  bridge_cc_binary(name = "x")     srcs: x.cc
  bridge_cc_benchmark(name = "x")  srcs: x.cc

Giving srcs or hdrs replaces the default entirely: `hdrs = ["a.h", "b.h"]` is the whole list,
x.h is not added to it. `srcs = []` says that a library has no sources although x.cc exists.
Tests link @system//:gtest_main (and, under --config=tsan, the ThreadSanitizer support) without
listing it; everything else a target uses is in its deps.
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

def _named_after(name, extension):
    """The file `name + extension` of this package, in a list; empty when there is none."""
    return native.glob([name + extension], allow_empty = True)

def _with_files(kwargs, **defaults):
    """kwargs with each of `defaults` (attribute: files) set where the caller did not set it.

    An attribute whose default is empty is left out, not set to [], so that the target is the
    one the same call with no defaults would declare.
    """
    for attr, files in defaults.items():
        if attr not in kwargs and files:
            kwargs[attr] = files
    return kwargs

def bridge_cc_library(name, copts = [], **kwargs):
    """cc_library; srcs default to [name.cc], hdrs to [name.h], where those files exist."""
    native.cc_library(
        name = name,
        copts = BRIDGE_COPTS + copts,
        **_with_files(
            kwargs,
            srcs = _named_after(name, ".cc"),
            hdrs = _named_after(name, ".h"),
        )
    )

def bridge_cc_binary(name, copts = [], deps = [], **kwargs):
    """cc_binary; srcs default to [name.cc]."""
    native.cc_binary(
        name = name,
        copts = BRIDGE_COPTS + copts,
        deps = deps + TSAN_DEPS,
        **_with_files(kwargs, srcs = [name + ".cc"])
    )

def bridge_cc_test(name, copts = [], deps = [], size = "small", **kwargs):
    """cc_test with gtest_main; srcs default to [name.cc] (x_test: x_test.cc)."""
    native.cc_test(
        name = name,
        copts = BRIDGE_COPTS + copts,
        deps = deps + ["@system//:gtest_main"] + TSAN_DEPS,
        size = size,
        **_with_files(kwargs, srcs = [name + ".cc"])
    )

def bridge_cc_unit_tests(package, libraries):
    """One bridge_cc_test a library of `package`, <library>_test, depending on it alone."""
    for library in libraries:
        bridge_cc_test(name = library + "_test", deps = [package + ":" + library])

def bridge_cc_benchmark(name, copts = [], deps = [], tags = [], **kwargs):
    """A Google Benchmark binary. Run it optimized: bazel run --config=bench //bench:NAME.

    srcs default to [name.cc].
    """
    native.cc_binary(
        name = name,
        copts = BRIDGE_COPTS + copts,
        deps = deps + ["@system//:benchmark_main"],
        testonly = True,
        tags = tags + ["benchmark"],
        **_with_files(kwargs, srcs = [name + ".cc"])
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
