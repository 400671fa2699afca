#!/usr/bin/python3
"""Compares the micro-benchmarks of two builds in one run, interleaved.

Each of --base and --new is a directory holding frame_codec_benchmark,
session_dispatch_benchmark and transcode_benchmark built with --config=bench (copy them out of
bazel-bin at each commit). For --rounds rounds, each binary of the base and then of the new
build runs pinned to one CPU (taskset -c --cpu) with 3 repetitions; the ratio new/base of the
median CPU time is taken within each round, and the table gives the median of those ratios
(below 1: the new build is faster).

  /usr/bin/python3 bench/micro/compare.py --base /tmp/micro_base --new /tmp/micro_new
"""

import argparse
import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
import gbench  # noqa: E402

BENCHMARKS = ["frame_codec_benchmark", "session_dispatch_benchmark", "transcode_benchmark"]


def run(binary, cpu):
    return {name: gbench.cpu_ns(b) for name, b in gbench.medians(binary, cpu, 0.2).items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=1)
    args = ap.parse_args()
    ratios, base_ns, new_ns = {}, {}, {}
    for _ in range(args.rounds):
        for name in BENCHMARKS:
            base = run(os.path.join(args.base, name), args.cpu)
            new = run(os.path.join(args.new, name), args.cpu)
            for bench, ns in base.items():
                if bench not in new:
                    continue
                ratios.setdefault(bench, []).append(new[bench] / ns)
                base_ns.setdefault(bench, []).append(ns)
                new_ns.setdefault(bench, []).append(new[bench])
    print("| benchmark | base | new | new / base (median of rounds) |")
    print("| --- | --- | --- | --- |")
    for bench in sorted(ratios):
        print(f"| `{bench}` | {statistics.median(base_ns[bench]):,.0f} ns "
              f"| {statistics.median(new_ns[bench]):,.0f} ns "
              f"| {statistics.median(ratios[bench]):.2f} |")
    with open("/proc/loadavg", encoding="ascii") as f:
        print(f"\nload average after: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
