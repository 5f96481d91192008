"""The "What authentication costs" section of BENCHMARKS.md: MacBenchmark's JMH figures (mac.json: HMAC-SHA256
signing and checking of kvx's frames, per message size) next to the transfer they protect, a whole
64 x 16 KiB request of the request-level benchmark (requests.tsv, kvx, 1 in flight) measured by the same
invocation of jmh/run-benchmarks.sh (with --mac-only: only this section, and a kvx-only request run)."""
import json
import os

BEGIN = "<!-- mac:begin -->"
END = "<!-- mac:end -->"
SHAPE = "64x16KiB"
# MacBenchmark's @Param blocks: 0 is a completion notice (Done, also the size of an Abort), else an announcement
SIZES = (("0", "Done / Abort (56 B)"), ("12", "Announce, 12 blocks (105 B)"), ("64", "Announce, 64 blocks (313 B)"))


def _jmh(path):
    out = {}
    if not os.path.exists(path):
        return out
    for e in json.load(open(path)):
        name = e["benchmark"].rsplit(".", 1)[1]
        raw = [x for fork in e["primaryMetric"].get("rawData", []) for x in fork]
        out[(name, e.get("params", {}).get("blocks", "-"))] = (min(raw) if raw else e["primaryMetric"]["score"], e["primaryMetric"]["score"])
    return out


def _request(results):
    """kvx's 64 x 16 KiB request at 1 in flight: (p50 µs, CPU ms per request decode + prefill, requests), or None."""
    path = os.path.join(results, "requests.tsv")
    if not os.path.exists(path):
        return None
    d = {}
    for line in open(path):
        p = line.rstrip("\n").split("\t")
        if len(p) == 5 and p[0] == "kvx" and p[1] == SHAPE and p[2] == "c1" and p[3] != "failed":
            d[p[3]] = float(p[4])
    if "p50_us" not in d:
        return None
    cpu = d.get("decode_cpu_ms_per_req", 0) + d.get("prefill_cpu_ms_per_req", 0)
    return d["p50_us"], cpu, d.get("requests", 0), d.get("req_per_s")


def _f(v, digits=1):
    return "–" if v is None else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}f}")


def mac_section(results, request_results=None):
    j = _jmh(os.path.join(results, "mac.json"))
    L = [BEGIN, "## What authentication costs per message (HMAC-SHA256, JMH)", ""]
    if not j:
        L += ["Not measured in this run (`jmh/run-benchmarks.sh` runs `MacBenchmark`; `--mac-only` runs just this part).", "", END]
        return L

    def s(name, blocks):
        return j.get((name, blocks), (None, None))[0]

    def bm(name, blocks):
        best, mean = j.get((name, blocks), (None, None))
        return f"{_f(best)} / {_f(mean)}"

    L.append("Every kvx message carries its session id, a sequence number and a 16-byte HMAC-SHA256 tag under the "
             "session's key (JDK `Mac`, constant-time compare). `jmh/src/main/java/dev/kvx/transceiver/internal/wire/MacBenchmark.java`, "
             "one thread, ns per message: the fastest 200-ms iteration / the mean of all of them (24 by default; on a shared "
             "machine the fastest is the least disturbed; the error columns are in `jmh/target/bench/mac.json`; the "
             "per-request sum and the shares use the fastest):")
    L.append("")
    L.append("| message | sign (sender) | verify (receiver) | encode + sign | check header + verify + decode | decode alone | MAC share of the receive-side frame work |")
    L.append("|---|---|---|---|---|---|---|")
    for blocks, label in SIZES:
        vd, do = s("verifyAndDecode", blocks), s("decodeOnly", blocks)
        share = None if vd in (None, 0) or do is None else (vd - do) / vd * 100
        L.append(f"| {label} | {bm('sign', blocks)} | {bm('verify', blocks)} | {bm('encodeSigned', blocks)} | "
                 f"{bm('verifyAndDecode', blocks)} | {bm('decodeOnly', blocks)} | {_f(share, 0)} % |")
    L.append("")
    per_req = None
    parts = [s("sign", "64"), s("verify", "64"), s("sign", "0"), s("verify", "0")]
    if all(p is not None for p in parts):
        per_req = sum(parts)
    req = _request(request_results or results)
    L.append("**Next to the transfer it protects.** A push-mode request sends one announcement (here of 64 blocks) and one "
             "completion notice; each is signed once and verified once: "
             f"**{_f(per_req)} ns of MAC work per request** (sign + verify of both).")
    L.append("")
    if req is None:
        L.append("The request-level figures of this run are missing (`--skip-requests`), so there is nothing to set it beside.")
    else:
        p50_us, cpu_ms, n, rps = req
        L.append("| per request, 64 × 16 KiB (1 MiB), kvx, 1 in flight | figure | MAC work as a share of it |")
        L.append("|---|---|---|")
        L.append(f"| latency p50, submit → verified completion ({int(n)} requests, {_f(rps, 0)} req/s) | {_f(p50_us)} µs | "
                 f"{_f(per_req / (p50_us * 1e3) * 100, 3)} % |")
        L.append(f"| CPU, decode + prefill process (all threads) | {_f(cpu_ms * 1e3)} µs | {_f(per_req / (cpu_ms * 1e6) * 100, 3)} % |")
        L.append("")
        L.append("Both columns come from this invocation on this machine (the request figures from "
                 + ("a kvx-only run of `jmh/request_driver.py`, `--mac-only`" if request_results else "the whole-requests section")
                 + "). The MAC is not where a request's time goes: the tag adds 16 B to each frame and the handshake "
                 "(3 messages per connection) is not per request.")
    L.append("")
    L.append(END)
    return L
