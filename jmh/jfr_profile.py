#!/usr/bin/env python3
"""Where kvx's time goes in one cell of the request-level benchmark, from flight recordings.

Run the driver with recordings on, one file per process (%p is the pid):
  jmh/request_driver.py ... --impls kvx --rounds 1 \\
    '--jvm-args=-XX:StartFlightRecording:filename=/tmp/jfr/rec-%p.jfr,settings=profile,jdk.CPUTimeSample#enabled=true,jdk.CPUTimeSample#throttle=1ms'
then
  jmh/jfr_profile.py --results OUT --jfr-dir /tmp/jfr --shape 64x16KiB --cell c16
prints, for the prefill and the decode process and only inside the cell's measured window (its marks
in OUT/requests-marks.tsv): CPU by thread and by method (JDK 25's CPU-time sampler, jdk.CPUTimeSample,
weighted by each sample's CPU period; it drops samples under load, so read shares, and take each
thread's whole CPU from OUT/requests-threads.tsv), the JVM operations (handshakes, safepoints) per
request, allocation by class and by the first kvx frame, kvx's own Transfer events (time per phase)
and JIT compilation time. Figures are per request.
"""
import argparse
import collections
import json
import os
import subprocess
from datetime import datetime


def events(jfr, path, types, depth):
    out = subprocess.run([jfr, "print", "--json", "--stack-depth", str(depth), "--events", ",".join(types), path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["recording"]["events"]


def epoch(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def seconds(d):
    """JFR durations print as ISO-8601, e.g. PT0.0012S."""
    if not d or not d.startswith("PT"):
        return 0.0
    d = d[2:]
    total = 0.0
    for unit, mul in (("H", 3600), ("M", 60), ("S", 1)):
        if unit in d:
            v, d = d.split(unit, 1)
            total += float(v) * mul
    return total


def frame_name(f):
    m = f["method"]
    return m["type"]["name"].replace("/", ".").rsplit(".", 1)[-1] + "." + m["name"]


def thread(e):
    t = e["values"].get("eventThread") or e["values"].get("sampledThread") or {}
    return (t.get("javaName") or t.get("osName") or "?")


def first_kvx(frames):
    for f in frames:
        t = f["method"]["type"]["name"]
        if t.startswith("dev/kvx/") and not t.startswith("dev/kvx/bench/"):
            return frame_name(f)
    for f in frames:
        if f["method"]["type"]["name"].startswith("dev/kvx/"):
            return frame_name(f)
    return frame_name(frames[0]) if frames else "?"


def profile(jfr, path, t0, t1, n, top):
    inside = lambda e: t0 <= epoch(e["values"]["startTime"]) <= t1
    print(f"  {n} requests in the window ({t1 - t0:.2f} s)")
    samples = [e for e in events(jfr, path, ["jdk.CPUTimeSample"], 64) if inside(e)]
    by_thread, self_time, incl = collections.Counter(), collections.Counter(), collections.Counter()
    for e in samples:
        w = seconds(e["values"].get("samplingPeriod"))
        frames = (e["values"].get("stackTrace") or {}).get("frames") or []
        by_thread[thread(e)] += w
        if frames:
            self_time[(thread(e), frame_name(frames[0]))] += w
            for name in {frame_name(f) for f in frames}:
                incl[name] += w
    total = sum(by_thread.values())
    print(f"  CPU-time samples: {len(samples)}, {total * 1e3 / max(n, 1):.3f} ms per request in Java threads")
    print("  by thread (ms per request):  " + ", ".join(f"{t} {w * 1e3 / n:.3f}" for t, w in by_thread.most_common(8)))
    print("  hottest methods, self (thread: method, ms per request, share of sampled CPU):")
    for (t, m), w in self_time.most_common(top):
        print(f"    {t}: {m}  {w * 1e3 / n:.4f}  {100 * w / total:.1f}%")
    print("  hottest methods, inclusive (kvx's and FFM's):")
    for m, w in [x for x in incl.most_common(200) if any(k in x[0] for k in ("Transceiver", "Nixl", "Transfer", "Request",
                                                                            "Arena", "Downcall", "Pool", "Completable",
                                                                            "Notification", "WireCodec", "Lock"))][:top]:
        print(f"    {m}  {w * 1e3 / n:.4f} ms  {100 * w / total:.1f}%")
    ops = [e for e in events(jfr, path, ["jdk.ExecuteVMOperation"], 1) if inside(e)]
    c = collections.Counter((e["values"]["operation"], e["values"].get("caller", {}) and e["values"]["caller"].get("javaName")) for e in ops)
    d = collections.defaultdict(list)
    for e in ops:
        d[e["values"]["operation"]].append(seconds(e["values"]["duration"]))
    print("  JVM operations (count per request, VM-thread time):")
    for (op, caller), k in c.most_common(6):
        ds = sorted(d[op])
        print(f"    {op} from {caller}: {k / n:.2f}/request; median {ds[len(ds) // 2] * 1e6:.0f} us, "
              f"p99 {ds[int(len(ds) * 0.99)] * 1e6:.0f} us, max {ds[-1] * 1e6:.0f} us, total {sum(ds) * 1e3 / n:.4f} ms/request")
    allocs = [e for e in events(jfr, path, ["jdk.ObjectAllocationSample"], 64) if inside(e)]
    by_class, by_site = collections.Counter(), collections.Counter()
    for e in allocs:
        w = e["values"]["weight"]
        by_class[e["values"]["objectClass"]["name"].replace("/", ".")] += w
        by_site[first_kvx((e["values"].get("stackTrace") or {}).get("frames") or [])] += w
    wsum = sum(by_class.values())
    print(f"  allocation (sampled weight): {wsum / n:,.0f} B per request")
    print("    by class: " + ", ".join(f"{k} {v / n:,.0f}" for k, v in by_class.most_common(top)))
    print("    by first kvx frame: " + ", ".join(f"{k} {v / n:,.0f}" for k, v in by_site.most_common(top)))
    xfers = [e for e in events(jfr, path, ["dev.kvx.Transfer"], 1) if inside(e)]
    if xfers:
        print("  kvx's Transfer events (the engine's view of each request; median / p99 ms):")
        for field in ("latency", "queued", "waitingForRequestInfo", "waitingForBuffer", "dataInFlight", "waitingForData"):
            vals = sorted(seconds(e["values"].get(field)) for e in xfers)
            print(f"    {field}: {vals[len(vals) // 2] * 1e3:.3f} / {vals[int(len(vals) * 0.99)] * 1e3:.3f}")
    comp = [e for e in events(jfr, path, ["jdk.Compilation"], 1) if inside(e)]
    secs = sorted(((seconds(e["values"]["duration"]), e["values"]["method"]["type"]["name"].rsplit("/", 1)[-1] + "."
                    + e["values"]["method"]["name"]) for e in comp), reverse=True)
    print(f"  JIT: {len(comp)} compilations, {sum(s for s, _ in secs) * 1e3:.0f} ms of compiler-thread time in the window"
          + ("; longest: " + ", ".join(f"{m} {s * 1e3:.0f} ms" for s, m in secs[:5]) if secs else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", required=True, help="the driver's --out")
    ap.add_argument("--jfr-dir", required=True)
    ap.add_argument("--shape", default="64x16KiB")
    ap.add_argument("--cell", default="c16")
    ap.add_argument("--impl", default="kvx")
    ap.add_argument("--round", default="0")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--jfr", default=os.path.join(os.environ.get("JAVA_HOME", "/usr"), "bin", "jfr"))
    a = ap.parse_args()
    win = {}
    for line in open(os.path.join(a.results, "requests-marks.tsv")):
        impl, shape, rnd, cell, what, t, pre, dec = line.rstrip("\n").split("\t")
        if (impl, shape, rnd, cell) == (a.impl, a.shape, a.round, a.cell):
            win[what] = (float(t), pre, dec)
    if set(win) != {"begin", "end"}:
        raise SystemExit(f"no marks of {a.impl} {a.shape} {a.cell} round {a.round} in requests-marks.tsv")
    n = None
    for line in open(os.path.join(a.results, "requests.tsv")):
        p = line.rstrip("\n").split("\t")
        if p[:4] == [a.impl, a.shape, a.cell, "requests"]:
            n = int(float(p[4]))
    t0, t1 = win["begin"][0], win["end"][0]
    for side, pid in (("prefill", win["begin"][1]), ("decode", win["begin"][2])):
        path = os.path.join(a.jfr_dir, f"rec-{pid}.jfr")
        print(f"== {a.impl} {side} process (pid {pid}), {a.shape}, cell {a.cell}")
        profile(a.jfr, path, t0, t1, n, a.top)


if __name__ == "__main__":
    main()
