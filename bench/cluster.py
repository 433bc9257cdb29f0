#!/usr/bin/env python3
"""cluster: three `keymeter serve` members of one consumer group on a topic of their own (the
broker of scripts/kafka, KEYMETER_BROKERS), measuring what the cluster adds (docs/scale.md):

- forwarding: GET /v1/authorize of one key driven by wrk (keep-alive, 8 connections, one thread;
  then 1 connection) at the member that owns the key's account, then at a member that forwards
  to it; the added p50 and p99 are the cost of the hop (goal: ≤ 200 µs at p50 on loopback). The
  owner's own figures are the same-run baseline.
- handover: the owner SIGKILLed (--kills times, 10; --quick 1), authorize polled through the
  survivors: the time to the first answer (a standby's, X-Keymeter-Standby) and to the first
  answer of a new owner; the killed member is started again on its data dir before the next kill.
- ingest with 1, 2 and 3 members (given --ingest-topic, the topic bench_ingest wrote, and its
  bare-consumer rate from the same run): fresh members (empty data dirs, a new group, no
  standbys, so each event is applied once) on that topic; from the moment the group has split
  the partitions, events/s until all of it is applied, in total and per member.

  bench/cluster.py [--quick] [--bin BUILD_DIR] [--seconds S] [--kills N]
                   [--ingest-topic T --ingest-events N --ingest-baseline EVENTS_PER_S]

Scaling: the figures are for up to 3 members and 4 partitions on one machine (all members share
its cores). Prints one JSON object.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import authorize_http  # noqa: E402  (run_wrk: the same wrk driver and script)
TOKEN = "bench-cluster-operator-token"


def call(port, method, path, body=None, token=None, headers=None):
    """(status, headers, body) of one request; status 0 when nothing answered."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=body.encode() if body is not None else None)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, {}, ""


class Member:
    def __init__(self, args, work, topic, group, i, extra=()):
        self.args, self.i = args, i
        self.data = work / f"m{i}"
        self.log = work / f"m{i}.log"
        self.argv = [str(args.bin / "cli" / "keymeter"), "serve", "--data-dir", str(self.data),
                     "--listen", "127.0.0.1:0", "--brokers", args.brokers, "--topic", topic,
                     "--group", group, "--operator-token", TOKEN, *extra]
        self.proc, self.port = None, 0

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE,
                                     stderr=open(self.log, "a"), text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if not m:
            raise SystemExit(f"cluster: member {self.i} did not start: {line}\n"
                             + self.log.read_text()[-3000:])
        self.port = int(m.group(1))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def settled(members, timeout=120):
    """Waits until every member is live, owns a partition, and each partition has a standby."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, _, body = call(members[0].port, "GET", "/v1/cluster", token=TOKEN)
        if status == 200:
            view = json.loads(body)
            owning = [m for m in view["members"] if m["live"] and m["owned"]]
            covered = all(o["owner"] and o["standbys"] for o in view["owners"])
            if view["settled"] and len(owning) == len(members) and covered:
                return
        time.sleep(0.25)
    raise SystemExit("cluster: the members did not settle")


def served_by(port):
    return call(port, "GET", "/healthz")[1].get("X-Keymeter-Served-By", "")


def wrk(port, keys_file, seconds, connections=8):
    """One wrk thread, unpinned: the members share the machine's cores."""
    authorize_http.PIN = False
    return authorize_http.run_wrk(port, keys_file, seconds, os.cpu_count() or 1, 1,
                                  connections=connections)


def handover(members, owner, key):
    """Kills `owner`; seconds to the first answer through the others, and to a new owner's."""
    others = [m for m in members if m is not owner]
    owner.kill()
    t0 = time.time()
    first = new_owner = None
    i = 0
    while time.time() - t0 < 60 and new_owner is None:
        status, headers, _ = call(others[i % len(others)].port, "GET", "/v1/authorize",
                                  headers={"X-Api-Key": key})
        i += 1
        if status == 204:
            first = first if first is not None else time.time() - t0
            if headers.get("X-Keymeter-Standby") != "true":
                new_owner = time.time() - t0
        time.sleep(0.02)
    return first, new_owner


def partition_lags(port):
    """{partition: messages behind} of the partitions the member on `port` follows (/metrics)."""
    status, _, body = call(port, "GET", "/metrics")
    if status != 200:
        return {}
    return {int(m.group(1)): float(m.group(2)) for m in re.finditer(
        r'^keymeter_partition_lag_messages\{partition="(\d+)"\} (\S+)$', body, re.M)}


def ingest(args, work, n, partitions=4, timeout=900):
    """`n` fresh members (no standbys) on the ingest topic: events/s from the moment the group
    has split the partitions (each member following its own) until the topic is applied."""
    group = f"bench-cluster-ingest-{n}-{os.getpid()}-{int(time.time())}"
    (work / f"ingest{n}").mkdir()
    members = [Member(args, work / f"ingest{n}", args.ingest_topic, group, i,
                      ["--standby-replicas", "0"]) for i in range(n)]
    try:
        for m in members:
            m.start()
        t0 = time.time()
        stable = None    # (time, {member: messages it had left then})
        done = {}        # member: seconds after `stable` when it had applied all of its own
        while time.time() - t0 < timeout:
            lags = [partition_lags(m.port) for m in members]
            owned = [set(l) for l in lags]
            split = (all(owned) and sum(len(o) for o in owned) == partitions
                     and len(set().union(*owned)) == partitions)
            if stable is None:
                if split:
                    stable = (time.time(), [sum(l.values()) for l in lags])
                continue
            if not split:  # the group moved partitions again: start over
                stable, done = None, {}
                continue
            for i, l in enumerate(lags):
                if i not in done and sum(l.values()) == 0:
                    done[i] = time.time() - stable[0]
            if len(done) == n:
                break
            time.sleep(0.05)
        if stable is None or len(done) != n:
            raise SystemExit(f"cluster: {n} members did not apply the ingest topic in {timeout} s")
        total = sum(stable[1])
        seconds = max(done.values())
        # Members started one after the other: the first applies alone until the group splits
        # the partitions. A topic that small is measured by nothing (quick mode: 300k events).
        measured = total >= 0.25 * args.ingest_events and seconds >= 1
        return {"members": n, "events": int(total), "seconds": round(seconds, 3),
                "events_per_s": total / seconds if measured else None,
                "per_member_events_per_s": [stable[1][i] / done[i] if measured and done[i] > 0
                                            else None for i in range(n)],
                "join_s": round(stable[0] - t0, 2),
                "note": None if measured else "too few events left once the group split the "
                                              "partitions to measure; run without --quick"}
    finally:
        for m in members:
            m.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--bin", default=os.environ.get("KEYMETER_BUILD_DIR", str(ROOT / "build" / "release")))
    p.add_argument("--seconds", type=int)
    p.add_argument("--kills", type=int)
    p.add_argument("--ingest-topic", default="")
    p.add_argument("--ingest-events", type=int, default=0)
    p.add_argument("--ingest-baseline", type=float, default=0)
    args = p.parse_args()
    args.bin = pathlib.Path(args.bin).resolve()
    args.seconds = args.seconds or (2 if args.quick else 10)
    args.kills = args.kills or (1 if args.quick else 10)
    args.brokers = os.environ.get("KEYMETER_BROKERS", "127.0.0.1:19092")
    if not shutil.which("wrk"):
        raise SystemExit("cluster: wrk is missing (scripts/deps installs it)")
    port = args.brokers.rsplit(":", 1)[1]
    suffix = f"{os.getpid()}-{int(time.time())}"
    topic, group = f"bench.cluster.{suffix}", f"bench-cluster-{suffix}"
    subprocess.run([str(ROOT / "scripts" / "kafka"), "topic", topic, "4"], check=True,
                   env=dict(os.environ, KEYMETER_KAFKA_PORT=port), stdout=subprocess.DEVNULL)
    work = pathlib.Path(tempfile.mkdtemp(prefix="keymeter-bench-cluster-"))
    members = [Member(args, work, topic, group, i) for i in range(3)]
    try:
        for m in members:
            m.start()
        settled(members)
        # An account made through member 0 lands on a partition member 0 owns.
        status, _, body = call(members[0].port, "POST", "/v1/accounts", '{"name":"bench"}', TOKEN)
        if status != 201:
            raise SystemExit(f"cluster: POST /v1/accounts answered {status}: {body}")
        admin = json.loads(body)["admin_token"]
        status, _, body = call(members[0].port, "POST", "/v1/keys",
                               '{"label":"bench","status":"active"}', admin)
        if status != 201:
            raise SystemExit(f"cluster: POST /v1/keys answered {status}: {body}")
        key = json.loads(body)["key"]
        keys_file = work / "keys.txt"
        keys_file.write_text(key + "\n")
        owner_id = served_by(members[0].port)
        direct = wrk(members[0].port, keys_file, args.seconds)
        forwarded = wrk(members[1].port, keys_file, args.seconds)
        # One connection: the hop's own cost, without the queueing of 8 connections on 2 cores.
        direct1 = wrk(members[0].port, keys_file, args.seconds, connections=1)
        forwarded1 = wrk(members[1].port, keys_file, args.seconds, connections=1)
        status, headers, _ = call(members[1].port, "GET", "/v1/authorize",
                                  headers={"X-Api-Key": key})
        if status != 204 or headers.get("X-Keymeter-Served-By") != owner_id:
            raise SystemExit("cluster: member 1 did not forward to the owner")
        firsts, owners = [], []
        for _ in range(args.kills):
            owner = next(m for m in members if served_by(m.port) == call(
                members[0].port if m is not members[0] else members[1].port, "GET",
                "/v1/authorize", headers={"X-Api-Key": key})[1].get("X-Keymeter-Served-By"))
            first, new_owner = handover(members, owner, key)
            if first is None or new_owner is None:
                raise SystemExit("cluster: no answer within 60 s of a SIGKILL")
            firsts.append(first)
            owners.append(new_owner)
            owner.start()
            settled(members)
        for m in members:
            m.stop()
        scaling = [ingest(args, work, n) for n in (1, 2, 3)] if args.ingest_topic else []
    finally:
        for m in members:
            m.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({
        "bench": "cluster", "quick": args.quick, "members": 3, "partitions": 4,
        "seconds": args.seconds, "connections": 8, "kills": args.kills,
        "setup": "3 keymeter serve members (Kafka mode, --standby-replicas 1) on this machine; "
                 "wrk -t1 -c8 on one key, at its owner and at a member that forwards",
        "owner": direct, "forwarded": forwarded,
        "added_p50_us": forwarded["p50_us"] - direct["p50_us"],
        "added_p99_us": forwarded["p99_us"] - direct["p99_us"],
        "one_connection": {"owner": direct1, "forwarded": forwarded1,
                           "added_p50_us": forwarded1["p50_us"] - direct1["p50_us"],
                           "added_p99_us": forwarded1["p99_us"] - direct1["p99_us"]},
        "ratio": forwarded["req_per_s"] / direct["req_per_s"],
        "first_answer_s": {"p50": statistics.median(firsts), "max": max(firsts)},
        "new_owner_s": {"p50": statistics.median(owners), "max": max(owners)},
        "ingest": {
            "topic": args.ingest_topic, "events": args.ingest_events,
            "setup": "fresh members, --standby-replicas 0, the rate from the moment the group "
                     "split the partitions until the topic is applied",
            "baseline": "bare librdkafka consumer, same topic (bench_ingest, same run)",
            "baseline_events_per_s": args.ingest_baseline,
            "by_members": [dict(r, ratio=r["events_per_s"] / args.ingest_baseline
                                if args.ingest_baseline and r["events_per_s"] else None)
                           for r in scaling],
        } if scaling else None,
        "goal": "added p50 ≤ 200 µs; every account answered within 5 s of a SIGKILL",
    }))


if __name__ == "__main__":
    main()
