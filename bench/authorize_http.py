#!/usr/bin/env python3
"""authorize-http: GET /v1/authorize on a running `keymeter serve` (embedded mode), driven by wrk
(keep-alive, 64 connections, bench/authorize_http.lua rotating through keys with mixed outcomes),
against two baselines measured in the same run on the same machine with the same load generator:
nginx from Debian answering a fixed 204 (one worker), and Redis INCR with redis-benchmark
(64 connections, no pipelining) on a private redis-server.

  bench/authorize_http.py [--quick] [--bin BUILD_DIR] [--rounds R] [--seconds S] [--threads N]
                          [--no-pin]

Fairness: each server gets one core and the load generator the other (taskset: server on CPU 0,
wrk / redis-benchmark on CPU 1, one wrk thread); keymeter runs with --http-threads 1, nginx
with worker_processes 1, and redis is single-threaded. --threads N gives keymeter N HTTP
threads, nginx N workers and wrk N threads; --no-pin leaves placement to the scheduler (both for
a quiet machine with more cores, or to see what pinning costs on a busy one). The population (100,000 keys; --quick
20,000) is written into the store by bench_population through the embedded log, before serve
starts. Prints one JSON object.

Rounds: the three servers take turns, R rounds (3; --quick 1) of S seconds each (5; --quick 2)
after a 1 s warm-up, each server started afresh in its round. This machine's neighbours come and
go within seconds, so one long run of each gives ratios that swing ±10 % between runs; the
ratios are taken within a round (keymeter against the nginx and Redis measured right after it)
and the median round is reported, with every round's figures beside it.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status in (200, 204):
                    return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"authorize_http: {url} did not answer within {seconds} s")


def wait_port(port, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"authorize_http: nothing listens on port {port}")


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


PIN = True


def pinned(cpu, argv, ncpu):
    return (["taskset", "-c", str(cpu)] if PIN and ncpu >= 2 else []) + argv


def run_wrk(port, keys_file, seconds, ncpu, threads, connections=64):
    """wrk with authorize_http.lua on `port`: its WRKJSON line, plus req_per_s (bench/cluster.py
    uses it too)."""
    env = dict(os.environ, KEYMETER_BENCH_KEYS=str(keys_file))
    argv = pinned(1, ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                      "-s", str(HERE / "authorize_http.lua"), f"http://127.0.0.1:{port}/"], ncpu)
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise SystemExit(f"authorize_http: wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(m.group(1))
    r["req_per_s"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def make_population(args, work):
    data = work / "data"
    keys_file = work / "keys.txt"
    pop = subprocess.run([str(args.bin / "bench" / "bench_population"), "--data-dir", str(data),
                          "--keys-out", str(keys_file)] + (["--quick"] if args.quick else []),
                         capture_output=True, text=True, timeout=600)
    if pop.returncode != 0:
        raise SystemExit(f"authorize_http: bench_population failed: {pop.stderr}")
    return json.loads(pop.stdout), data, keys_file


def warm_then_measure(port, keys_file, args, ncpu):
    run_wrk(port, keys_file, 1, ncpu, args.threads)
    return run_wrk(port, keys_file, args.seconds, ncpu, args.threads)


def bench_keymeter(args, work, data, keys_file, ncpu):
    port = free_port()
    log = open(work / "serve.log", "w")
    # Embedded mode: none of the KEYMETER_* settings of the caller (its brokers, above all).
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYMETER_")}
    serve = subprocess.Popen(pinned(0, [str(args.bin / "cli" / "keymeter"), "serve", "--data-dir", str(data),
                                        "--listen", f"127.0.0.1:{port}", "--http-threads", str(args.threads)],
                                    ncpu), stdout=log, stderr=log, env=env)
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz")
        except SystemExit:
            log.flush()
            sys.stderr.write((work / "serve.log").read_text())
            raise
        return warm_then_measure(port, keys_file, args, ncpu)
    finally:
        stop(serve)
        log.close()


def bench_nginx(args, work, keys_file, ncpu):
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(f"""worker_processes {args.threads};
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  server {{
    listen 127.0.0.1:{port};
    keepalive_requests 1000000;
    location / {{ return 204; }}
  }}
}}
""")
    nginx = subprocess.Popen(pinned(0, ["nginx", "-p", str(work), "-e", str(work / "nginx-error.log"),
                                        "-c", str(conf)], ncpu),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        return warm_then_measure(port, keys_file, args, ncpu)
    finally:
        stop(nginx)


def bench_redis(args, work, ncpu):
    port = free_port()
    redis = subprocess.Popen(pinned(0, ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                        "--save", "", "--appendonly", "no", "--dir", str(work),
                                        "--daemonize", "no"], ncpu),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        n = 50_000 if args.quick else 1_000_000 // args.rounds
        out = subprocess.run(pinned(1, ["redis-benchmark", "-p", str(port), "-t", "incr", "-c", "64",
                                        "-n", str(n), "--csv"], ncpu),
                             capture_output=True, text=True, timeout=600)
        rows = [l.replace('"', "").split(",") for l in out.stdout.strip().splitlines()]
        head, row = rows[0], next(r for r in rows[1:] if r[0].upper().startswith("INCR"))
        v = dict(zip(head, row))
        return {"requests": n, "req_per_s": float(v["rps"]),
                "p50_us": float(v["p50_latency_ms"]) * 1000, "p99_us": float(v["p99_latency_ms"]) * 1000}
    finally:
        stop(redis)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--bin", default=os.environ.get("KEYMETER_BUILD_DIR", str(ROOT / "build" / "release")))
    p.add_argument("--rounds", type=int)
    p.add_argument("--seconds", type=int)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-pin", action="store_true")
    args = p.parse_args()
    global PIN
    PIN = not args.no_pin
    args.bin = pathlib.Path(args.bin).resolve()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 5)
    for tool in ("wrk", "nginx", "redis-server", "redis-benchmark", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"authorize_http: {tool} is missing (scripts/deps installs it)")
    ncpu = os.cpu_count() or 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="keymeter-bench-http-"))
    rounds = []
    try:
        population, data, keys_file = make_population(args, work)
        for _ in range(args.rounds):
            ours = bench_keymeter(args, work, data, keys_file, ncpu)
            nginx = bench_nginx(args, work, keys_file, ncpu)
            redis = bench_redis(args, work, ncpu)
            rounds.append({"keymeter": ours, "nginx_204": nginx, "redis_incr": redis,
                           "ratio_vs_nginx": ours["req_per_s"] / nginx["req_per_s"],
                           "ratio_vs_redis": ours["req_per_s"] / redis["req_per_s"]})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The median round by its ratio to nginx; every round is printed too.
    median = sorted(rounds, key=lambda r: r["ratio_vs_nginx"])[len(rounds) // 2]
    print(json.dumps({
        "bench": "authorize-http", "quick": args.quick, "keys": population["keys"],
        "rounds": args.rounds, "seconds": args.seconds, "connections": 64,
        "http_threads": args.threads, "pinned": PIN and ncpu >= 2,
        "setup": (f"keymeter serve --http-threads {args.threads} (embedded) pinned to CPU 0; nginx "
                  f"worker_processes {args.threads} pinned to CPU 0; redis-server pinned to CPU 0; "
                  f"wrk -t{args.threads} -c64 and redis-benchmark -c64 pinned to CPU 1")
                 if PIN and ncpu >= 2 else
                 (f"keymeter serve --http-threads {args.threads} (embedded), nginx worker_processes "
                  f"{args.threads}, redis-server, wrk -t{args.threads} -c64, redis-benchmark -c64; unpinned"),
        "keymeter": median["keymeter"], "nginx_204": median["nginx_204"],
        "redis_incr": median["redis_incr"],
        "ratio_vs_nginx": median["ratio_vs_nginx"], "ratio_vs_redis": median["ratio_vs_redis"],
        "by_round": [{"keymeter_req_per_s": r["keymeter"]["req_per_s"],
                      "keymeter_p99_us": r["keymeter"]["p99_us"],
                      "nginx_req_per_s": r["nginx_204"]["req_per_s"],
                      "redis_req_per_s": r["redis_incr"]["req_per_s"],
                      "ratio_vs_nginx": r["ratio_vs_nginx"], "ratio_vs_redis": r["ratio_vs_redis"]}
                     for r in rounds],
        "goal": "≥ 1.0 × nginx, > redis INCR, p99 ≤ 1 ms",
    }))


if __name__ == "__main__":
    main()
