#!/usr/bin/python3
"""Runs the bridge's load matrix and writes bench/load/RESULTS.md.

Builds with --config=bench, starts the demo backend, the bridge (bridge/main.cc, routing
demo.v1.Echo to the backend) and echo_bridge (the WebSocket layer alone) as separate
processes, then for every payload x in-flight cell runs //bench/load:load against the three
paths in turn - direct gRPC to the backend, echo_bridge, the full bridge - repeating the round
`--runs` times and reporting medians. Then: latency at constant rates (50 % and 80 % of the
bridge's closed-loop maximum at 64 in flight, 64 B) for the bridge and direct gRPC, and idle
connections (memory per connection, setup rate) against a fresh bridge.

  /usr/bin/python3 bench/load/run_matrix.py            # full matrix, about 8 minutes
  /usr/bin/python3 bench/load/run_matrix.py --quick    # a smaller one, about 1 minute

--compare "NAME=PATH [FLAG...]" (repeatable) adds another bridge binary, for example one built
from an earlier commit or with --define=bridge_allocator=glibc, measured in the same rounds as
the others, so a change is compared with its baseline under the same conditions. FLAGs go
after the usual ones (a second --config=FILE replaces the first).
"""

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = [
    "//bench/load:load",
    "//bench/load:echo_bridge",
    "//bench/load:setup_floor",
    "//bridge:bridge",
    "//harness/backend:demo_backend",
    "//proto:demo_v1_descriptor_set",
]
PATHS = ["grpc", "echo", "bridge"]
# Idle mode: client connections per source address (127.0.0.2, .3, ...). connect()'s search
# for a free port per 4-tuple slows as one source's ports fill: at 19,000 connections from one
# address, setup_floor's rate halves.
IDLE_PER_SOURCE = 5000
PATH_NAMES = {
    "grpc": "direct gRPC",
    "echo": "WS layer alone (echo_bridge)",
    "bridge": "full bridge",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def raise_fd_limit():
    """Soft fd limit up to the hard one (raising the hard one needs CAP_SYS_RESOURCE)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    gcc = gcc.splitlines()[0] if gcc else "?"
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "gcc": gcc,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "fd_hard_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
    }


class Proc:
    """A server process whose banner line gives its address."""

    def __init__(self, argv, pattern, name):
        self.name = name
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, cwd=ROOT, preexec_fn=raise_fd_limit)
        deadline = time.time() + 30
        self.port = None
        while time.time() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            m = re.search(pattern, line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"{name} printed no address")
        # Drain its stdout from here on so it never blocks.
        import threading
        threading.Thread(target=lambda: self.p.stdout.read(), daemon=True).start()

    @property
    def pid(self):
        return self.p.pid

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Bench:
    def __init__(self, args, bindir):
        self.args = args
        self.bin = bindir
        self.load = os.path.join(bindir, "bench/load/load")
        self.pin = args.taskset.split(",") if args.taskset else None

    def taskset(self, role):
        """taskset prefix for `role` (load, bridge, backend) when --taskset asks for one."""
        if not self.pin:
            return []
        roles = dict(p.split("=") for p in self.pin)
        return ["taskset", "-c", roles[role]] if role in roles else []

    def start_backend(self):
        return Proc(self.taskset("backend") +
                    [os.path.join(self.bin, "harness/backend/demo_backend"),
                     "--listen=127.0.0.1:0"], r"127\.0\.0\.1:(\d+)", "demo_backend")

    def start_bridge(self, backend_port, binary=None, name="bridge"):
        words = binary.split() if binary else [os.path.join(self.bin, "bridge/bridge")]
        return Proc(self.taskset("bridge") +
                    [words[0],
                     "--config=bench/load/bridge_load.textproto",
                     f"--io_threads={self.args.io_threads}",
                     f"--routes=demo.v1.Echo=127.0.0.1:{backend_port}",
                     "--descriptor_sets=" +
                     os.path.join(self.bin, "proto/demo_v1.descriptor_set.pb")] + words[1:],
                    r"ws://127\.0\.0\.1:(\d+)", name)

    def start_echo(self):
        return Proc(self.taskset("bridge") +
                    [os.path.join(self.bin, "bench/load/echo_bridge"),
                     "--config=bench/load/bridge_load.textproto",
                     f"--io_threads={self.args.io_threads}"],
                    r"ws://127\.0\.0\.1:(\d+)", "echo_bridge")

    def run_load(self, flags):
        argv = self.taskset("load") + [self.load, "--json"] + flags
        r = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=900)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise RuntimeError(f"load printed nothing: {argv}\n{r.stderr}")
        out = json.loads(lines[-1])
        out["exit"] = r.returncode
        return out


def cell_flags(path, procs, payload, inflight_total, connections, extra):
    conns = max(1, min(inflight_total, connections))
    per = max(1, inflight_total // conns)
    flags = [f"--connections={conns}", f"--inflight={per}", f"--payload={payload}"] + extra
    if path == "grpc":
        flags.append(f"--target=grpc://127.0.0.1:{procs['backend'].port}")
    else:
        p = procs[path]
        flags += [f"--target=ws://127.0.0.1:{p.port}/ws", f"--pid={p.pid}"]
    return flags


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs):
    keys = ["rps", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "bridge_cpu_us_per_rt",
            "client_cpu_s"]
    s = {k: median([r.get(k) for r in runs]) for k in keys}
    s["errors"] = sum(r["errors"] for r in runs)
    s["runs"] = len(runs)
    return s


def fmt(v, digits=0):
    if v is None or v < 0:
        return "-"
    return f"{v:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="64 B and 1 KiB, K 1 and 64, 1 run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--connections", type=int, default=4,
                    help="connections a cell spreads its in-flight calls over (K=1: one)")
    ap.add_argument("--idle", default="10000", help="idle connection counts, comma-separated")
    ap.add_argument("--taskset", default="",
                    help="pinning, e.g. load=0,bridge=1,backend=0 (default: none)")
    ap.add_argument("--io_threads", type=int, default=2,
                    help="io threads of the bridge and echo_bridge (default 2, one per core)")
    ap.add_argument("--only", default="", help="run just these sections: matrix,open,idle")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                    help="another bridge binary measured in the same rounds (repeatable)")
    ap.add_argument("--payloads", default="", help="payload sizes, comma-separated")
    ap.add_argument("--inflight", default="", help="in-flight counts (K), comma-separated")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/load/RESULTS.md"))
    ap.add_argument("--json-out", default=os.path.join(ROOT, "bench/load/results.json"))
    ap.add_argument("--render", action="store_true",
                    help="only rewrite --out from --json-out (after editing RESULTS_NOTES.md)")
    args = ap.parse_args()
    if args.render:
        with open(args.json_out) as f:
            rep = json.load(f)
        sizes = sorted({int(k.split("/")[0]) for k in rep["cells"]})
        ks = sorted({int(k.split("/")[1]) for k in rep["cells"]})
        with open(args.out, "w") as f:
            f.write(render(rep, sizes, ks))
        return
    if args.quick:
        payloads, ks, runs, duration = [64, 1024], [1, 64], 1, 1.0
    else:
        payloads, ks, runs, duration = [64, 1024, 16384], [1, 16, 64, 256], args.runs, \
            args.duration

    if args.payloads:
        payloads = [int(x) for x in args.payloads.split(",")]
    if args.inflight:
        ks = [int(x) for x in args.inflight.split(",")]
    compare = dict(c.split("=", 1) for c in args.compare)
    paths = PATHS + list(compare)
    if not args.skip_build:
        log("building", " ".join(TARGETS))
        subprocess.run(["bazel", "build", "--config=bench"] + TARGETS, cwd=ROOT, check=True)
    bindir = subprocess.run(["bazel", "info", "--config=bench", "bazel-bin"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout.strip()
    b = Bench(args, bindir)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = {"machine": machine(), "started": started, "loadavg": {}, "cells": {},
              "open_loop": {}, "idle": {}, "duration_s": duration, "warmup_s": args.warmup,
              "runs": runs, "connections": args.connections, "taskset": args.taskset or "none",
              "io_threads": args.io_threads, "compare": compare}
    common = [f"--duration={duration}", f"--warmup={args.warmup}"]

    procs = {"backend": b.start_backend()}
    try:
        procs["bridge"] = b.start_bridge(procs["backend"].port)
        procs["echo"] = b.start_echo()
        for name, binary in compare.items():
            procs[name] = b.start_bridge(procs["backend"].port, binary, name)
        report["loadavg"]["matrix_start"] = loadavg()
        sections = set(args.only.split(",")) if args.only else {"matrix", "open", "idle"}
        for payload in (payloads if "matrix" in sections else []):
            for k in ks:
                got = {p: [] for p in paths}
                for rep in range(runs):
                    for path in paths:
                        r = b.run_load(cell_flags(path, procs, payload, k, args.connections,
                                                  common))
                        got[path].append(r)
                        log(f"{payload:>6} B K={k:<3} run {rep + 1} {path:<6} "
                            f"{r['rps']:>9.0f}/s p50 {r['p50_us']:.0f} p99 {r['p99_us']:.0f} us "
                            f"cpu/rt {r['bridge_cpu_us_per_rt']:.1f} errors {r['errors']}")
                cell = {p: summarize(got[p]) for p in paths}
                for name in compare:
                    cell[f"bridge_over_{name}"] = median(
                        [o["rps"] and w["rps"] / o["rps"] for o, w in zip(got[name], got["bridge"])])
                ratios = [g["rps"] and w["rps"] / g["rps"]
                          for g, w in zip(got["grpc"], got["bridge"])]
                cell["bridge_over_grpc"] = median(ratios)
                cell["echo_over_grpc"] = median(
                    [g["rps"] and w["rps"] / g["rps"] for g, w in zip(got["grpc"], got["echo"])])
                report["cells"][f"{payload}/{k}"] = cell
        report["loadavg"]["matrix_end"] = loadavg()

        # Constant rates, from the bridge's closed-loop maximum at 64 in flight and 64 B.
        top = report["cells"].get("64/64", {}).get("bridge", {}).get("rps")
        if "open" in sections and not top:
            top = b.run_load(cell_flags("bridge", procs, 64, 64, args.connections, common))["rps"]
        if "open" in sections and top:
            report["open_loop"]["max_rps"] = top
            for share in (0.5, 0.8):
                rate = round(top * share)
                open_paths = ["grpc", "bridge"] + list(compare)
                got = {p: [] for p in open_paths}
                for rep in range(runs):
                    for path in open_paths:
                        flags = cell_flags(path, procs, 64, 4 * 256, args.connections,
                                           common + [f"--rate={rate}"])
                        r = b.run_load(flags)
                        got[path].append(r)
                        log(f"open loop {rate}/s run {rep + 1} {path:<6} p50 {r['p50_us']:.0f} "
                            f"p99 {r['p99_us']:.0f} us late {r['late']} errors {r['errors']}")
                report["open_loop"][str(share)] = {
                    "rate": rate,
                    "grpc": summarize(got["grpc"]),
                    "bridge": summarize(got["bridge"]),
                    "p99_ratio": median([g["p99_us"] and w["p99_us"] / g["p99_us"]
                                         for g, w in zip(got["grpc"], got["bridge"])]),
                    **{name: summarize(got[name]) for name in compare},
                }
        report["loadavg"]["open_loop_end"] = loadavg()
        procs["bridge"].stop()
        procs["echo"].stop()
        for name in compare:
            procs[name].stop()

        # Idle connections, each count against a fresh bridge (and each --compare bridge, in
        # the same rounds).
        # setup_floor (bench/load/setup_floor.cc) answers the same handshakes with nothing
        # behind them: what this machine and load tool allow any server.
        if "idle" in sections:
            report["idle_when"] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "loadavg_start": loadavg()}
        idle_paths = {"bridge": None, **compare,
                      "floor": os.path.join(b.bin, "bench/load/setup_floor")}
        for n in [int(x) for x in args.idle.split(",") if x and "idle" in sections]:
            got = {name: [] for name in idle_paths}
            for rep in range(max(1, runs)):
                for name, binary in idle_paths.items():
                    br = b.start_bridge(procs["backend"].port, binary, name)
                    try:
                        time.sleep(0.3)
                        r = b.run_load([f"--target=ws://127.0.0.1:{br.port}/ws",
                                        f"--pid={br.pid}", "--idle", f"--connections={n}",
                                        "--threads=2", f"--per_source={IDLE_PER_SOURCE}"])
                    finally:
                        br.stop()
                    got[name].append(r)
                    log(f"idle {n} {name}: {r['established']} established, {r['failures']} "
                        f"failed, {r['rss_per_connection']:.0f} B/conn, "
                        f"{r['setup_per_s']:.0f}/s")
            for name, runs_of in got.items():
                summary = {
                    "established": min(r["established"] for r in runs_of),
                    "failures": sum(r["failures"] for r in runs_of),
                    "rss_per_connection": median([r["rss_per_connection"] for r in runs_of]),
                    "setup_per_s": median([r["setup_per_s"] for r in runs_of]),
                    "rss_before": median([r["rss_before"] for r in runs_of]),
                    "runs": len(runs_of),
                }
                if name == "bridge":
                    report["idle"][str(n)] = summary
                elif name == "floor":
                    report.setdefault("idle_floor", {})[str(n)] = summary
                else:
                    report.setdefault("idle_compare", {}).setdefault(name, {})[str(n)] = summary
        report["loadavg"]["end"] = loadavg()
        if "idle" in sections:
            report["idle_when"]["loadavg_end"] = report["loadavg"]["end"]
    finally:
        for p in procs.values():
            p.stop()

    with open(args.json_out, "w") as f:
        json.dump(report, f, indent=1)
    with open(args.out, "w") as f:
        f.write(render(report, payloads, ks))
    log("wrote", args.out, "and", args.json_out)


def render(rep, payloads, ks):
    m = rep["machine"]
    out = []
    w = out.append
    w("# Load results: direct gRPC, the WebSocket layer alone, the full bridge\n")
    w("Written by `bench/load/run_matrix.py`; every figure is the median of "
      f"{rep['runs']} runs, the three paths interleaved within each run so they share the "
      "machine's conditions. Ratios are taken within a run, then the median.\n")
    w("## Conditions\n")
    w(f"- Machine: {m['cores']} vCPU ({m['cpu']}), {m['memory_gb']} GB, kernel {m['kernel']}; "
      f"{m['gcc']}; `--config=bench` (-c opt, -O2).")
    w(f"- Started {rep['started']}. Load average (1/5/15 min): "
      + "; ".join(f"{k} {v}" for k, v in rep["loadavg"].items())
      + ". The load average counts the benchmark's own processes: the load generator, the "
      "backend and the bridges keep both cores busy at 64 in flight.")
    w(f"- Each cell: {rep['warmup_s']} s warm-up, {rep['duration_s']} s measured. "
      f"K calls in flight in all, over min(K, {rep['connections']}) connections "
      "(K=1: one connection). Unary `demo.v1.Echo/Say` with a text of the payload size.")
    w(f"- Pinning: {rep['taskset']} (all processes float over both cores). Processes: "
      f"`demo_backend` (gRPC C++ 1.51 callback server), `bridge` (bridge/main.cc, {rep['io_threads']} io threads, "
      "bench/load/bridge_load.textproto: production defaults with the per-session call and "
      "message-rate limits raised), `echo_bridge` (the same server, sessions, codec and "
      "transcoder with an in-process upstream that echoes), and `load` (1 io thread; the gRPC "
      "baseline is gRPC's callback client, one channel per connection).")
    w("- Bridge CPU: utime + stime of the bridge process from /proc/<pid>/stat over the "
      "measured window, divided by its round trips (10 ms ticks).\n")

    for payload in payloads:
        w(f"## {payload} B\n")
        w("| K | direct gRPC /s | WS layer alone /s | full bridge /s | bridge ÷ gRPC | "
          "gRPC p50 / p99 µs | bridge p50 / p99 µs | bridge CPU µs/rt | echo CPU µs/rt | "
          "errors |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for k in ks:
            c = rep["cells"].get(f"{payload}/{k}")
            if not c:
                continue
            g, e, br = c["grpc"], c["echo"], c["bridge"]
            w(f"| {k} | {fmt(g['rps'])} | {fmt(e['rps'])} | {fmt(br['rps'])} | "
              f"{fmt(c['bridge_over_grpc'], 2)} | {fmt(g['p50_us'])} / {fmt(g['p99_us'])} | "
              f"{fmt(br['p50_us'])} / {fmt(br['p99_us'])} | "
              f"{fmt(br['bridge_cpu_us_per_rt'], 1)} | {fmt(e['bridge_cpu_us_per_rt'], 1)} | "
              f"{g['errors'] + e['errors'] + br['errors']} |")
        w("")
        for name, binary in rep.get("compare", {}).items():
            w(f"Compared in the same rounds: `{name}` ({binary}).\n")
            w(f"| K | {name} /s | full bridge /s | bridge ÷ {name} | {name} p50 / p99 µs | "
              f"bridge p50 / p99 µs | {name} CPU µs/rt | bridge CPU µs/rt |")
            w("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for k in ks:
                c = rep["cells"].get(f"{payload}/{k}")
                if not c or name not in c:
                    continue
                o, br = c[name], c["bridge"]
                w(f"| {k} | {fmt(o['rps'])} | {fmt(br['rps'])} | {fmt(c[f'bridge_over_{name}'], 2)} | "
                  f"{fmt(o['p50_us'])} / {fmt(o['p99_us'])} | {fmt(br['p50_us'])} / "
                  f"{fmt(br['p99_us'])} | {fmt(o['bridge_cpu_us_per_rt'], 1)} | "
                  f"{fmt(br['bridge_cpu_us_per_rt'], 1)} |")
            w("")

    ol = rep["open_loop"]
    if ol:
        w("## Constant rate (open loop), 64 B\n")
        w(f"Rates are shares of the bridge's closed-loop maximum at 64 in flight "
          f"({fmt(ol['max_rps'])}/s). Latency from each call's scheduled send time.\n")
        w("| rate | gRPC p50 / p99 / p99.9 µs | bridge p50 / p99 / p99.9 µs | bridge p99 ÷ gRPC "
          "p99 | bridge CPU µs/rt | errors |")
        w("| --- | --- | --- | --- | --- | --- |")
        for share in ("0.5", "0.8"):
            if share not in ol:
                continue
            o = ol[share]
            g, br = o["grpc"], o["bridge"]
            w(f"| {o['rate']:,}/s ({int(float(share) * 100)} %) | {fmt(g['p50_us'])} / "
              f"{fmt(g['p99_us'])} / {fmt(g['p999_us'])} | {fmt(br['p50_us'])} / "
              f"{fmt(br['p99_us'])} / {fmt(br['p999_us'])} | {fmt(o['p99_ratio'], 2)} | "
              f"{fmt(br['bridge_cpu_us_per_rt'], 1)} | {g['errors'] + br['errors']} |")
        w("")

    if rep["idle"]:
        w("## Idle connections\n")
        w("Upgraded and confirmed sessions (upgrade, `connect`, `connect_confirm`), opened "
          "256 at a time per client thread (2 threads) from source addresses 127.0.0.2, .3, ... "
          f"({IDLE_PER_SOURCE:,} each), fd limits raised to the hard limit (setrlimit; "
          f"{rep['machine'].get('fd_hard_limit')} here). Memory is the bridge's VmRSS after minus before, over the connections; "
          "the setup rate is connections over first connect to last connect_confirm.\n")
        if rep.get("idle_when"):
            iw = rep["idle_when"]
            w(f"This section was measured from {iw['started']}, load average "
              f"{iw['loadavg_start']} at its start and {iw.get('loadavg_end', '?')} at its end.\n")
        w("| connections | established | failures | bridge RSS before | bytes per connection "
          "| setups/s |")
        w("| --- | --- | --- | --- | --- | --- |")
        for n, r in rep["idle"].items():
            w(f"| {int(n):,} | {r['established']:,} | {r['failures']} | "
              f"{fmt(r['rss_before'] / 1e6, 1)} MB | {fmt(r['rss_per_connection'])} | "
              f"{fmt(r['setup_per_s'])} |")
        w("")
        if rep.get("idle_floor"):
            w("The floor, in the same rounds: `setup_floor` (bench/load/setup_floor.cc) answers "
              "the same upgrade and `connect` with a 101 and a `connect_confirm` and then only "
              "waits on the socket: asio, the kernel and the allocator, no WebSocket library, "
              "no session.\n")
            w("| connections | established | failures | bytes per connection | setups/s |")
            w("| --- | --- | --- | --- | --- |")
            for n, r in rep["idle_floor"].items():
                w(f"| {int(n):,} | {r['established']:,} | {r['failures']} | "
                  f"{fmt(r['rss_per_connection'])} | {fmt(r['setup_per_s'])} |")
            w("")
        for name, by_n in rep.get("idle_compare", {}).items():
            w(f"Compared in the same rounds: `{name}` ({rep['compare'].get(name, '')}).\n")
            w("| connections | established | failures | bytes per connection | setups/s |")
            w("| --- | --- | --- | --- | --- |")
            for n, r in by_n.items():
                w(f"| {int(n):,} | {r['established']:,} | {r['failures']} | "
                  f"{fmt(r['rss_per_connection'])} | {fmt(r['setup_per_s'])} |")
            w("")
    w(targets(rep))
    notes = os.path.join(ROOT, "bench/load/RESULTS_NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            w(f.read())
    return "\n".join(out) + "\n"


def targets(rep):
    """The targets of record (docs/performance.md) against this run's figures."""
    rows = []

    def row(name, target, value, ok):
        verdict = "-" if ok is None else ("met" if ok else "missed")
        rows.append(f"| {name} | {target} | {value} | {verdict} |")

    cells = rep["cells"]
    c = cells.get("64/1")
    if c:
        d50 = c["bridge"]["p50_us"] - c["grpc"]["p50_us"]
        d99 = c["bridge"]["p99_us"] - c["grpc"]["p99_us"]
        row("added latency, one in flight, 64 B, p50", "<= +60 us", f"+{d50:.0f} us", d50 <= 60)
        row("added latency, one in flight, 64 B, p99", "<= +150 us", f"+{d99:.0f} us", d99 <= 150)
    for payload, need in ((64, 0.75), (1024, 0.7), (16384, 0.5)):
        c = cells.get(f"{payload}/64")
        if c:
            r = c["bridge_over_grpc"]
            row(f"round trips/s, 64 in flight, {payload} B", f">= {need} x direct gRPC",
                f"{r:.3f} x ({fmt(c['bridge']['rps'])} vs {fmt(c['grpc']['rps'])}/s)", r >= need)
    c = cells.get("64/64")
    if c:
        v = c["bridge"]["bridge_cpu_us_per_rt"]
        row("bridge CPU per round trip, 64 in flight, 64 B", "<= 35 us", f"{v:.1f} us", v <= 35)
    for share in ("0.5", "0.8"):
        o = rep["open_loop"].get(share)
        if o:
            errors = o["grpc"]["errors"] + o["bridge"]["errors"]
            row(f"p99 at {int(float(share) * 100)} % of max ({o['rate']:,}/s)",
                "<= 1.5 x direct gRPC p99, no errors",
                f"{o['p99_ratio']:.2f} x ({fmt(o['bridge']['p99_us'])} vs "
                f"{fmt(o['grpc']['p99_us'])} us), {errors} errors",
                o["p99_ratio"] <= 1.5 and errors == 0)
    for n, r in rep["idle"].items():
        row(f"memory per idle connection, {int(n):,} held", "<= 6 KB",
            f"{r['rss_per_connection'] / 1024:.1f} KiB ({fmt(r['rss_per_connection'])} B)",
            r["rss_per_connection"] <= 6144)
        row(f"connection setup, {int(n):,}", ">= 20k/s", f"{fmt(r['setup_per_s'])}/s",
            r["setup_per_s"] >= 20000)
    if not rows:
        return ""
    head = ["## Against the targets (docs/performance.md)\n", "| figure | target | this run | |",
            "| --- | --- | --- | --- |"]
    return "\n".join(head + rows) + "\n"


if __name__ == "__main__":
    main()
