#!/usr/bin/python3
"""The callback API against the completion-queue API for the bridge's upstream calls.

Builds with --config=bench, starts //harness/backend:demo_backend, and runs
//bench/load:client_api with --api=callback and --api=cq, interleaved, in --runs rounds, at
each payload and in-flight count; prints a Markdown table of medians (calls/s, p50, p99, CPU
of the calling process per call) and the ratio cq / callback.

  /usr/bin/python3 bench/load/run_client_api.py            # 3 rounds, 64 B and 1 KiB, K 1 and 64
  /usr/bin/python3 bench/load/run_client_api.py --runs 5 --inflight 1,16,64
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_matrix import ROOT, Proc, loadavg, log, machine  # noqa: E402

APIS = ["callback", "cq"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--io_threads", type=int, default=2)
    ap.add_argument("--payloads", default="64,1024")
    ap.add_argument("--inflight", default="1,64")
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()

    targets = ["//bench/load:client_api", "//harness/backend:demo_backend"]
    if not args.skip_build:
        subprocess.run(["bazel", "build", "--config=bench"] + targets, cwd=ROOT, check=True)
    bindir = subprocess.run(["bazel", "info", "--config=bench", "bazel-bin"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.strip()
    payloads = [int(p) for p in args.payloads.split(",")]
    inflights = [int(k) for k in args.inflight.split(",")]
    log("machine", json.dumps(machine()), "load average", loadavg())

    backend = Proc([os.path.join(bindir, "harness/backend/demo_backend"), "--listen=127.0.0.1:0"],
                   r"127\.0\.0\.1:(\d+)", "demo_backend")
    results = {}  # (payload, k, api) -> [run dicts]
    try:
        for r in range(args.runs):
            log(f"round {r + 1}/{args.runs}, load average {loadavg()}")
            for payload in payloads:
                for k in inflights:
                    # Alternate which API goes first, so neither always runs on a warmer machine.
                    order = APIS if r % 2 == 0 else list(reversed(APIS))
                    for api in order:
                        out = subprocess.run(
                            [os.path.join(bindir, "bench/load/client_api"),
                             f"--target=127.0.0.1:{backend.port}", f"--api={api}",
                             f"--io_threads={args.io_threads}", f"--inflight={k}",
                             f"--payload={payload}", f"--warmup={args.warmup}",
                             f"--duration={args.duration}"],
                            capture_output=True, text=True, timeout=120)
                        if out.returncode != 0:
                            raise RuntimeError(f"client_api failed: {out.stderr}{out.stdout}")
                        run = json.loads(out.stdout)
                        log(json.dumps(run))
                        results.setdefault((payload, k, api), []).append(run)
    finally:
        backend.stop()

    def med(payload, k, api, key):
        return statistics.median(x[key] for x in results[(payload, k, api)])

    print(f"\n{args.runs} rounds, {args.duration} s each, {args.io_threads} io threads, "
          f"load average at the end {loadavg()}\n")
    print("| payload, in flight | callback: calls/s, p50 / p99 µs, CPU µs/call "
          "| cq: calls/s, p50 / p99 µs, CPU µs/call | cq ÷ callback (calls/s, CPU) |")
    print("| --- | --- | --- | --- |")
    for payload in payloads:
        for k in inflights:
            cells = []
            for api in APIS:
                cells.append(f"{med(payload, k, api, 'calls_per_s'):,.0f}, "
                             f"{med(payload, k, api, 'p50_us'):.0f} / "
                             f"{med(payload, k, api, 'p99_us'):.0f}, "
                             f"{med(payload, k, api, 'cpu_us_per_call'):.1f}")
            ratio = med(payload, k, "cq", "calls_per_s") / med(payload, k, "callback", "calls_per_s")
            cpu = (med(payload, k, "cq", "cpu_us_per_call") /
                   med(payload, k, "callback", "cpu_us_per_call"))
            print(f"| {payload} B, {k} | {cells[0]} | {cells[1]} | {ratio:.2f}, {cpu:.2f} |")


if __name__ == "__main__":
    main()
