#!/usr/bin/python3
"""Runs the channel fan-out cells and writes bench/load/FANOUT.md.

Builds with --config=bench, then for every cell starts fresh bridge processes (bridge/main.cc
with bench/load/bridge_load.textproto plus control_listen, the broker, batching and deflate of
the cell) and runs //bench/load:fanout against them twice: at a fixed publish rate, and in
bursts. Cells: the in-memory broker at N=1k and N=10k subscribers; the Redis broker (a
redis-server this script starts on a free port) at N=1k and N=10k on one bridge, and N=1k split
over two bridges sharing the Redis (publisher on the first); batching on vs off and
permessage-deflate on vs off at N=1k (memory broker). Each cell is repeated --runs times, the
cells interleaved within a run; medians are reported.

  /usr/bin/python3 bench/load/run_fanout.py            # every cell, 3 runs, about 4 minutes
  /usr/bin/python3 bench/load/run_fanout.py --quick    # one run, N=1k cells only
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_matrix import ROOT, Proc, fmt, loadavg, log, machine, median, raise_fd_limit  # noqa: E402

TARGETS = ["//bridge:bridge", "//bench/load:fanout"]
BATCH = "batch { max_frames: 16 max_delay_ms: 5 }"

# name: (broker, subscribers, bridges, extra config, fanout flags)
CELLS = {
    "memory-1k": ("memory", 1000, 1, "", []),
    "memory-10k": ("memory", 10000, 1, "", []),
    "redis-1k": ("redis", 1000, 1, "", []),
    "redis-10k": ("redis", 10000, 1, "", []),
    "redis-1k-2x": ("redis", 1000, 2, "", []),
    "memory-1k-batch": ("memory", 1000, 1, BATCH, []),
    "memory-1k-deflate": ("memory", 1000, 1, "permessage_deflate: true", ["--deflate"]),
}
QUICK = ["memory-1k", "redis-1k", "redis-1k-2x", "memory-1k-batch", "memory-1k-deflate"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Bridge(Proc):
    """A bridge process; its banner lines give the WebSocket and BridgeControl addresses."""

    def __init__(self, binary, config_path, io_threads):  # pylint: disable=super-init-not-called
        self.name = "bridge"
        self.p = subprocess.Popen([binary, f"--config={config_path}",
                                   f"--io_threads={io_threads}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                  cwd=ROOT, preexec_fn=raise_fd_limit)
        self.ws = self.control = None
        deadline = time.time() + 30
        while time.time() < deadline and not (self.ws and self.control):
            line = self.p.stdout.readline()
            if not line:
                break
            m = re.search(r"(ws://127\.0\.0\.1:\d+/ws)", line)
            if m:
                self.ws = m.group(1)
            m = re.search(r"BridgeControl on (127\.0\.0\.1:\d+)", line)
            if m:
                self.control = m.group(1)
        if not (self.ws and self.control):
            self.stop()
            raise RuntimeError("the bridge printed no ws:// or BridgeControl address")
        threading.Thread(target=lambda: self.p.stdout.read(), daemon=True).start()


class Redis:
    def __init__(self):
        self.port = free_port()
        self.p = subprocess.Popen(["/usr/bin/redis-server", "--port", str(self.port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no",
                                   "--daemonize", "no", "--logfile", ""],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=raise_fd_limit)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("redis-server did not answer PING")
        self.version = subprocess.run(["/usr/bin/redis-server", "--version"],
                                      capture_output=True, text=True).stdout.strip()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(10)


def write_config(tmp, name, broker, redis, extra, serial):
    with open(os.path.join(ROOT, "bench/load/bridge_load.textproto")) as f:
        text = f.read()
    text += '\ncontrol_listen: "127.0.0.1:0"\n'
    if broker == "redis":
        # A prefix of its own per cell and run: nothing left over from the one before.
        text += (f'broker {{ type: "redis" redis_address: "127.0.0.1:{redis.port}" '
                 f'redis_prefix: "fanout{serial}" }}\n')
    text += extra + "\n"
    path = os.path.join(tmp, f"{name}-{serial}.textproto")
    with open(path, "w") as f:
        f.write(text)
    return path


def run_fanout(binary, bridges, n, flags):
    argv = [binary, "--json", f"--targets={','.join(b.ws for b in bridges)}",
            f"--control={bridges[0].control}", f"--pids={','.join(str(b.pid) for b in bridges)}",
            f"--subscribers={n}"] + flags
    r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=300,
                       preexec_fn=raise_fd_limit)
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"fanout printed nothing: {argv}\n{r.stderr}")
    out = json.loads(lines[-1])
    out["exit"] = r.returncode
    return out


KEYS = ["deliveries_per_s", "p50_us", "p90_us", "p99_us", "max_us", "complete_p50_us",
        "complete_max_us", "publish_rpc_p50_us", "bridge_cpu_us_per_delivery",
        "bytes_per_delivery", "client_cpu_s", "setup_s"]
CHECKS = ["missing", "duplicates", "out_of_order", "unexpected", "epoch_mismatches", "errors",
          "broken", "publish_errors", "unparsed"]


def summarize(runs):
    s = {k: median([r.get(k) for r in runs]) for k in KEYS}
    for k in CHECKS:
        s[k] = sum(r[k] for r in runs)
    s["incomplete"] = sum(0 if r["all_delivered"] else 1 for r in runs)
    s["deflated"] = min(r["deflated"] for r in runs)
    s["runs"] = len(runs)
    s["first_error"] = next((r["first_error"] for r in runs if r["first_error"]), "")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run, the N=1k cells")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cells", default="", help="comma-separated cell names (default: all)")
    ap.add_argument("--deliveries", type=int, default=20000,
                    help="fixed-rate mode: deliveries/s asked for; the rate is this over N")
    ap.add_argument("--burst_deliveries", type=int, default=50000,
                    help="burst mode: deliveries per round; a burst is this over N publishes")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--payload", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="fanout's subscriber io threads")
    ap.add_argument("--io_threads", type=int, default=2, help="each bridge's io threads")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--bindir", default="",
                    help="bazel-bin of --config=bench (default: asked of bazel info)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/load/FANOUT.md"))
    ap.add_argument("--json-out", default=os.path.join(ROOT, "bench/load/fanout.json"))
    ap.add_argument("--render", action="store_true", help="only rewrite --out from --json-out")
    args = ap.parse_args()
    if args.render:
        with open(args.json_out) as f:
            rep = json.load(f)
        with open(args.out, "w") as f:
            f.write(render(rep))
        return
    names = [c for c in args.cells.split(",") if c] or (QUICK if args.quick else list(CELLS))
    runs = 1 if args.quick else args.runs

    if not args.skip_build:
        log("building", " ".join(TARGETS))
        subprocess.run(["bazel", "build", "--config=bench"] + TARGETS, cwd=ROOT, check=True)
    bindir = args.bindir or subprocess.run(
        ["bazel", "info", "--config=bench", "bazel-bin"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout.strip()
    bridge_bin = os.path.join(bindir, "bridge/bridge")
    fanout_bin = os.path.join(bindir, "bench/load/fanout")

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rep = {"machine": machine(), "started": started, "loadavg": {"start": loadavg()},
           "runs": runs, "duration_s": args.duration, "warmup_s": args.warmup,
           "payload": args.payload, "threads": args.threads, "io_threads": args.io_threads,
           "deliveries": args.deliveries, "burst_deliveries": args.burst_deliveries,
           "rounds": args.rounds, "cells": {}, "order": names}
    got = {name: {"rate": [], "burst": []} for name in names}
    redis = Redis() if any(CELLS[c][0] == "redis" for c in names) else None
    rep["redis"] = redis.version if redis else ""
    serial = 0
    t0 = time.time()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rnd in range(runs):
                for name in names:
                    broker, n, count, extra, flags = CELLS[name]
                    serial += 1
                    config = write_config(tmp, name, broker, redis, extra, serial)
                    bridges = []
                    try:
                        for _ in range(count):
                            bridges.append(Bridge(bridge_bin, config, args.io_threads))
                        common = [f"--threads={args.threads}", f"--payload={args.payload}",
                                  "--per_source=4000"] + flags
                        rate = args.deliveries / n
                        burst = max(1, args.burst_deliveries // n)
                        for mode, mflags in (
                                ("rate", [f"--rate={rate:g}", f"--duration={args.duration}",
                                          f"--warmup={args.warmup}", "--channel_prefix=r"]),
                                ("burst", [f"--burst={burst}", f"--rounds={args.rounds}",
                                           "--channel_prefix=b"])):
                            r = run_fanout(fanout_bin, bridges, n, common + mflags)
                            r["loadavg"] = loadavg()
                            got[name][mode].append(r)
                            log(f"run {rnd + 1} {name:<18} {mode:<5} "
                                f"{r['deliveries_per_s']:>9.0f}/s p50 {r['p50_us']:.0f} "
                                f"p99 {r['p99_us']:.0f} us cpu/d "
                                f"{r['bridge_cpu_us_per_delivery']:.2f} us "
                                f"{r['bytes_per_delivery']:.0f} B missing {r['missing']} "
                                f"dup {r['duplicates']} ok {r['ok']} {r['first_error'][:80]}")
                    finally:
                        for b in bridges:
                            b.stop()
                rep["loadavg"][f"run {rnd + 1} end"] = loadavg()
    finally:
        if redis:
            redis.stop()
    rep["elapsed_s"] = round(time.time() - t0)
    for name in names:
        broker, n, count, extra, flags = CELLS[name]
        rep["cells"][name] = {"broker": broker, "subscribers": n, "bridges": count,
                              "config": extra, "rate": args.deliveries / n,
                              "burst": max(1, args.burst_deliveries // n),
                              "fixed": summarize(got[name]["rate"]),
                              "bursts": summarize(got[name]["burst"]),
                              "raw": got[name]}
    with open(args.json_out, "w") as f:
        json.dump(rep, f, indent=1)
    with open(args.out, "w") as f:
        f.write(render(rep))
    log("wrote", args.out, "and", args.json_out)


def checks(s):
    bad = {k: s[k] for k in CHECKS if s[k]}
    if s["incomplete"]:
        bad["incomplete runs"] = s["incomplete"]
    return "0" if not bad else ", ".join(f"{k} {v}" for k, v in bad.items())


def render(rep):
    m = rep["machine"]
    out = []
    w = out.append
    w("# Channel fan-out: one publish to N subscribers\n")
    w("Written by `bench/load/run_fanout.py` with `//bench/load:fanout`; every figure is the "
      f"median of {rep['runs']} run(s), the cells interleaved within each run.\n")
    w("## Conditions\n")
    w(f"- Machine: {m['cores']} vCPU ({m['cpu']}), {m['memory_gb']} GB, kernel {m['kernel']}; "
      f"{m['gcc']}; `--config=bench` (-c opt, -O2). Loopback only.")
    w(f"- Started {rep['started']}, {rep['elapsed_s']} s in all. Load average (1/5/15 min): "
      + "; ".join(f"{k} {v}" for k, v in rep["loadavg"].items())
      + ". Other engineers' builds and tests shared the machine; no pinning.")
    w(f"- Processes: `bridge` (bridge/main.cc, {rep['io_threads']} io threads each, "
      "bench/load/bridge_load.textproto plus `control_listen`, the cell's broker, batching and "
      "deflate), `fanout` (the subscribers on "
      f"{rep['threads']} io threads, from source addresses 127.0.0.2, .3, ... 4,000 each, and "
      "the publisher: gRPC callback client to BridgeControl/Publish on the first bridge)"
      + (f", `redis-server` ({rep['redis']}), no persistence, for the Redis cells" if rep.get(
          "redis") else "") + ". All share the 2 cores.")
    w(f"- Every subscriber on one channel. Publication data: `{{\"i\":<n>,\"t\":<send time ns>,"
      f"\"m\":0|1,\"p\":\"<{rep['payload']} x>\"}}` (about {rep['payload'] + 40} B).")
    w(f"- Fixed rate: {rep['deliveries']:,} deliveries/s asked for (publishes/s = that / N), "
      f"{rep['warmup_s']} s warm-up, {rep['duration_s']} s measured. Bursts: "
      f"{rep['burst_deliveries']:,} / N publishes sent at once (up to 256 Publish calls in "
      f"flight), {rep['rounds']} measured rounds after one warm-up round, each round waiting "
      "until every subscriber has every publication.")
    w("- Latency: publish-to-receive, from the publisher's send time (in the data) to the "
      "subscriber's read, per delivery; *whole fan-out* is per publish, to its last delivery. "
      "Deliveries/s, bridge CPU and bytes are over the window from the first measured publish "
      "to the last delivery. Bridge CPU: utime + stime from /proc/<pid>/stat (10 ms ticks), "
      "summed over the bridges, per delivery. Bytes: what the subscribers read (WebSocket frames "
      "with their headers; batches and compression included) per delivery.")
    w("- Checks: missing (an offset a Publish answered with that a subscriber never got), "
      "duplicates, out of order, unexpected offsets, epoch mismatches, error frames, broken "
      "connections, failed publishes: must all be 0.\n")

    cells = rep["cells"]

    def table(title, names, note=""):
        names = [n for n in names if n in cells]
        if not names:
            return
        w(f"## {title}\n")
        if note:
            w(note + "\n")
        w("| cell | N | bridges | mode | deliveries/s | p50 / p90 / p99 / max µs | whole fan-out "
          "p50 / max µs | bridge CPU µs/delivery | bytes/delivery | checks |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name in names:
            c = cells[name]
            for mode, key, what in (("fixed", "fixed", f"{c['rate']:g} pub/s"),
                                    ("burst", "bursts", f"{c['burst']} at once")):
                s = c[key]
                w(f"| {name} | {c['subscribers']:,} | {c['bridges']} | {what} | "
                  f"{fmt(s['deliveries_per_s'])} | {fmt(s['p50_us'])} / {fmt(s['p90_us'])} / "
                  f"{fmt(s['p99_us'])} / {fmt(s['max_us'])} | {fmt(s['complete_p50_us'])} / "
                  f"{fmt(s['complete_max_us'])} | {fmt(s['bridge_cpu_us_per_delivery'], 2)} | "
                  f"{fmt(s['bytes_per_delivery'], 1)} | {checks(s)} |")
        w("")

    table("In-memory broker", ["memory-1k", "memory-10k"])
    table("Redis broker", ["redis-1k", "redis-10k", "redis-1k-2x"],
          "`redis-1k-2x`: 500 subscribers on each of two bridges sharing the Redis, the "
          "publisher on the first; CPU is both bridges' (redis-server's own CPU not counted).")

    def saved(title, off, on, what):
        if off not in cells or on not in cells:
            return
        w(f"## {title}\n")
        w(f"N=1,000, memory broker; `{cells[on]['config']}` against the same cell without it, "
          "in the same runs.\n")
        w("| mode | bytes/delivery off → on | saved | bridge CPU µs/delivery off → on | saved | "
          "p50 µs off → on | p99 µs off → on | checks on |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for key, label in (("fixed", f"{cells[on]['rate']:g} pub/s"),
                           ("bursts", f"{cells[on]['burst']} at once")):
            a, b = cells[off][key], cells[on][key]

            def pct(x, y):
                return "-" if not x or x < 0 or y is None or y < 0 else f"{(1 - y / x) * 100:.0f} %"
            w(f"| {label} | {fmt(a['bytes_per_delivery'], 1)} → {fmt(b['bytes_per_delivery'], 1)}"
              f" | {pct(a['bytes_per_delivery'], b['bytes_per_delivery'])} | "
              f"{fmt(a['bridge_cpu_us_per_delivery'], 2)} → "
              f"{fmt(b['bridge_cpu_us_per_delivery'], 2)} | "
              f"{pct(a['bridge_cpu_us_per_delivery'], b['bridge_cpu_us_per_delivery'])} | "
              f"{fmt(a['p50_us'])} → {fmt(b['p50_us'])} | {fmt(a['p99_us'])} → "
              f"{fmt(b['p99_us'])} | {checks(b)} |")
        w("")
        if what:
            w(what + "\n")

    saved("Batching", "memory-1k", "memory-1k-batch",
          "A session batches only its own frames: at a fixed rate below 1 publication per "
          "session per max_delay_ms a frame waits max_delay_ms and goes alone, so batching "
          "saves nothing there and adds up to 5 ms; in bursts it coalesces up to 16 "
          "publications per WebSocket message.")
    dc = cells.get("memory-1k-deflate")
    saved("permessage-deflate", "memory-1k", "memory-1k-deflate",
          f"Sessions that negotiated permessage-deflate: {dc['fixed']['deflated']:,} of "
          f"{dc['subscribers']:,} (fanout offers it; it inflates what comes)." if dc else "")
    notes = os.path.join(ROOT, "bench/load/FANOUT_NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            w(f.read())
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
