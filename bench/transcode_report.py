#!/usr/bin/env python3
"""Runs //bench:transcode_benchmark several times on one core and prints the table of
bench/README.md: throughput of the transcoder and of json_util, and their ratio taken within
each run, as medians over the runs.

    bazel build --config=bench //bench:transcode_benchmark
    python3 bench/transcode_report.py [--runs 3] [--core 1] [--binary PATH]
"""
import argparse
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "micro"))
import gbench  # noqa: E402

SIZES = ["small", "medium", "large"]
# (direction, transcoder benchmark, json_util benchmarks)
DIRECTIONS = [
    ("JSON → protobuf", "BM_Transcoder_JsonToBinary",
     ["BM_JsonUtil_JsonToBinaryString", "BM_JsonUtil_JsonStringToMessage"]),
    ("protobuf → JSON", "BM_Transcoder_BinaryToJson",
     ["BM_JsonUtil_BinaryToJsonString", "BM_JsonUtil_MessageToJsonString"]),
]
# The JSON mappings of BM_Transcoder_BinaryToJsonMapped, by its second argument.
MAPPINGS = [(1, "emit_defaults"), (2, "proto_names"), (4, "enums_as_numbers"), (7, "all three")]


def run_once(binary, core):
    return {name: (b["bytes_per_second"] / 1e6, b.get("label", ""), gbench.cpu_ns(b))
            for name, b in gbench.medians(binary, core, 0.5).items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--core", type=int, default=1)
    parser.add_argument("--binary", default="bazel-out/k8-opt/bin/bench/transcode_benchmark")
    args = parser.parse_args()
    runs = [run_once(args.binary, args.core) for _ in range(args.runs)]

    def median(name):
        return statistics.median(r[name][0] for r in runs)

    print("| direction | message | transcoder MB/s | json_util MB/s (resolver / message) "
          "| ratio (resolver / message) |")
    print("| --- | --- | --- | --- | --- |")
    for direction, ours, theirs in DIRECTIONS:
        for i, size in enumerate(SIZES):
            name = f"{ours}/{i}"
            label = runs[0][name][1]
            ratios = [statistics.median(r[name][0] / r[f"{t}/{i}"][0] for r in runs)
                      for t in theirs]
            print(f"| {direction} | {label} | {median(name):.0f} | "
                  f"{median(theirs[0] + f'/{i}'):.1f} / {median(theirs[1] + f'/{i}'):.1f} | "
                  f"{ratios[0]:.1f}× / {ratios[1]:.1f}× |")
    print()
    print("protobuf → JSON under the other mappings: time per call, and against the default "
          "mapping in the same run")
    print()
    print("| mapping | " + " | ".join(SIZES) + " |")
    print("| --- | --- | --- | --- |")
    for bits, mapping in MAPPINGS:
        cells = []
        for i in range(len(SIZES)):
            name = f"BM_Transcoder_BinaryToJsonMapped/{i}/{bits}"
            ns = statistics.median(r[name][2] for r in runs)
            ratio = statistics.median(r[name][2] / r[f"BM_Transcoder_BinaryToJson/{i}"][2]
                                      for r in runs)
            cells.append(f"{ns:,.0f} ns ({ratio:.2f}×)")
        print(f"| {mapping} | " + " | ".join(cells) + " |")
    print()
    print("| parser | " + " | ".join(SIZES) + " |")
    print("| --- | --- | --- | --- |")
    for parser_name in ["Simdjson", "RapidJson"]:
        cells = [f"{median(f'BM_Parse_{parser_name}/{i}'):.0f} MB/s" for i in range(3)]
        print(f"| {parser_name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
