#!/usr/bin/env python3
"""freshness_sweep: the offered load at which freshness p99 crosses 50 ms.

  bench/freshness_sweep.py [--bin BUILD_DIR] [--seconds S] [--loads N,N,...]

Runs bench_freshness (same machine, same broker: KEYMETER_BROKERS) once per load, lowest first,
for S seconds each (default 10), and stops after the first load whose p99 is above 50 ms or
whose producer could not offer it (the producer shares the machine's two cores with keymeter,
so the crossing is that of keymeter and its producer together). Prints one JSON object: every
point (load offered, produced, applied, p50, p99) and `crossing_events_per_s`, the first load
tried whose p99 exceeded 50 ms (null when none did).
"""
import argparse
import json
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/release")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--loads", default="150000,200000,300000,400000,500000,600000")
    a = ap.parse_args()
    points, crossing = [], None
    for load in [int(x) for x in a.loads.split(",")]:
        out = subprocess.run([f"{a.bin}/bench/bench_freshness", "--load", str(load),
                              "--seconds", str(a.seconds)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        points.append({"load": load, "produced_events_per_s": r["produced_events_per_s"],
                       "applied_events_per_s": r["applied_events_per_s"],
                       "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "timeouts": r["timeouts"]})
        print(f"freshness_sweep: {load}/s offered: p99 {r['p99_ms']:.1f} ms", file=sys.stderr)
        if r["p99_ms"] > 50 or r["timeouts"] or r["produced_events_per_s"] < 0.95 * load:
            crossing = load
            break
    print(json.dumps({"bench": "freshness-sweep", "seconds_per_load": a.seconds,
                      "points": points, "crossing_events_per_s": crossing, "goal_p99_ms": 50}))


if __name__ == "__main__":
    main()
