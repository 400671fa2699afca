"""Runs a Google Benchmark binary pinned to one CPU and returns the median of its
repetitions for each benchmark, as the JSON reporter gives it (cpu_time, time_unit,
bytes_per_second, label, ...). Shared by bench/micro/compare.py and bench/transcode_report.py.
"""

import json
import subprocess

UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def medians(binary, cpu, min_time, repetitions=3):
    out = subprocess.run(
        ["taskset", "-c", str(cpu), binary, f"--benchmark_repetitions={repetitions}",
         "--benchmark_report_aggregates_only=true", f"--benchmark_min_time={min_time}",
         "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    return {b["run_name"]: b for b in json.loads(out)["benchmarks"]
            if b.get("aggregate_name") == "median"}


def cpu_ns(benchmark):
    """The CPU time of one iteration of a benchmark entry, in nanoseconds."""
    return benchmark["cpu_time"] * UNIT_NS[benchmark["time_unit"]]
