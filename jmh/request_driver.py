#!/usr/bin/env python3
"""Runs the request-level benchmark: for each implementation (kvx's transceiver, the C program, NIXL's
Python API; and the C program's one-sided READ protocol) and each request shape, one prefill process
serves two decode processes in turn: a warm one that runs the 1- and 16-in-flight cells (each after
its own warm-up), then a fresh one whose first requests are the startup cell. "cuda-d2d" is the
one-process baseline of GPU runs (jmh/c/cuda_block_copy.c: cudaMemcpy device to device, block by block). The driver relays the
decode side's phase marks to the prefill process (which answers with its CPU counters), reads every
thread's CPU time of both processes from /proc at the marks, and writes:
  OUT/requests.tsv          impl, shape, cell, metric, value
  OUT/requests-threads.tsv  impl, shape, cell, side, thread, CPU ms per request
  OUT/requests-settings.txt the settings every implementation ran with
  OUT/requests-marks.tsv    when each cell began and ended (epoch s) and the process ids (for jmh/jfr_profile.py)
  OUT/logs/                 each process's stderr
Usage: request_driver.py --out DIR --java JAVA --jar JAR --native DIR --cbin BIN [--pypath DIR] [options]
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import threading
import time

SINGLE = ("cuda-d2d",)  # one-process baselines: no prefill process, no startup session


def shape_tag(blocks, bb):
    return f"{blocks}x{bb // 1024}KiB" if bb < 1 << 20 else f"{blocks}x{bb >> 20}MiB"


def threads_of(pid, impl):
    """{label: cpu ns} of a process's threads, from /proc (schedstat's first field: time on a CPU).
    Threads named like the process (the main thread and the ones native code starts unnamed, such as
    NIXL's progress thread) are told apart by creation order; numbered JVM pools are summed."""
    base = f"/proc/{pid}/task"
    try:
        with open(f"/proc/{pid}/comm") as f:
            exe = f.read().strip()
        tids = sorted(os.listdir(base), key=int)
    except OSError:
        return {}
    unnamed = ["launcher", "main", "nixl-progress"] if impl.startswith("kvx") else ["main", "nixl-progress"]
    out, k = {}, 0
    for tid in tids:
        try:
            with open(f"{base}/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"{base}/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if name == exe:
            name = unnamed[k] if k < len(unnamed) else f"native-{k}"
            k += 1
        elif "#" in name:
            name = name.split("#")[0] + "#*"
        elif name == "async":
            name = "ucx-async"
        out[name] = out.get(name, 0) + ns
    return out


def thread_delta(before, after):
    return {name: ns - before.get(name, 0) for name, ns in after.items()}


def wait_for_quiet(limit):
    """Waits (at most limit s) until other processes leave the CPUs alone for half a second (runnable
    tasks from /proc/loadavg, this one not counted): on a shared machine, a run then starts undisturbed."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        busy = 0.0
        for _ in range(10):
            with open("/proc/loadavg") as f:
                busy += int(f.read().split()[3].split("/")[0]) - 1
            time.sleep(0.05)
        if busy / 10 <= 0.5:
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


class Run:
    """One implementation and shape: a prefill process and its decode sessions."""

    def __init__(self, a, impl, blocks, bb):
        self.a, self.impl, self.blocks, self.bb = a, impl, blocks, bb
        self.cells = [c for c in a.cells if c[2] or impl not in SINGLE]
        self.tag = shape_tag(blocks, bb)
        self.dir = os.path.join(a.out, "run", f"{impl}-{self.tag}-r{a.round}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.results = {}  # cell -> metric -> value
        self.prefill_marks = {}  # (cell, what) -> [cpu_ns, wall_ns, (jvm counters...)]
        self.thread_marks = {}  # (cell, what) -> (prefill threads, decode threads)
        self.failed = None
        self.marked = threading.Event()
        self.mark_times = []  # (cell, begin|end, epoch seconds, prefill pid, decode pid), for profiles

    def command(self, role, name, extra):
        a = self.a
        common = [f"role={role}", f"name={name}", f"dir={self.dir}", f"block_bytes={self.bb}", f"timeout_ms={a.timeout_ms}",
                  f"mem={a.mem}", f"device={a.device}", f"verify_every={a.verify_every}", f"hugepages={a.hugepages}"] + extra
        knobs = [f"progress_thread={a.progress_thread}", f"progress_delay_us={a.progress_delay_us}", f"busy_park_us={a.busy_park_us}"]
        if self.impl.startswith("kvx"):
            # kvx: engine thread (kvx), caller-driven poll() (kvx-poll), pull mode (kvx-pull); its agent has NIXL's
            # progress thread off (the engine drives progress), so C and Python run the same way by default.
            variant = {"kvx": [], "kvx-poll": ["engine=poll"], "kvx-pull": ["mode=pull"], "kvx-pull-poll": ["mode=pull", "engine=poll"],
                       "kvx-aot": [], "kvx-warm": ["jit_warmup=20000"], "kvx-warm-poll": ["jit_warmup=20000", "engine=poll"],
                       "kvx-warm-pull": ["jit_warmup=20000", "mode=pull"]}
            aot = []
            if self.impl == "kvx-aot" or getattr(a, "training", False):
                # JDK 25's AOT cache, one per role, trained by a short run of the same benchmark (--aot-dir)
                cache = os.path.join(a.aot_dir, f"kvx-{role}.aot")
                aot = [f"-XX:AOTCacheOutput={cache}"] if getattr(a, "training", False) else [f"-XX:AOTCache={cache}"]
            return [a.java, "--enable-native-access=ALL-UNNAMED", f"-Dkvx.native.dir={a.native}",
                    f"-Dkvx.hugePages={'true' if a.hugepages else 'false'}"] + aot + a.jvm_args.split() + [
                "-cp", a.jar, "dev.kvx.bench.RequestBench"] + common + variant[self.impl]
        if self.impl in ("c", "c-pull"):
            return [a.cbin] + common + knobs + (["mode=pull"] if self.impl == "c-pull" else [])
        if self.impl == "cuda-d2d":
            return [a.d2dbin] + common
        return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "request_bench.py")] + common + knobs

    def env(self):
        e = dict(os.environ)
        e["KVX_SECRET_FILE"] = self.a.secret
        if self.a.ucx_params:
            e["KVX_UCX_PARAMS"] = self.a.ucx_params
        if self.impl == "python":
            e["OPENBLAS_NUM_THREADS"] = "1"  # numpy's BLAS threads are not used; they would only blur the thread table
            e["PYTHONPATH"] = self.a.pypath + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
        return e

    def plan(self, cells):
        return ",".join(f"{c}:{k}:{self.blocks}:{self.a.warmup if warm else 0}:{self.a.count(c)}"
                        for c, k, warm in cells)

    def run(self):
        a = self.a
        sessions = [x for x in ([c for c in self.cells if c[2]], [c for c in self.cells if not c[2]]) if x]
        max_inflight = max(k for _, k, _ in self.cells)
        pre_name = f"{self.impl}-pre-{self.tag}".replace("-pull", "p")
        dec_names = [f"{self.impl}-dec{i}-{self.tag}".replace("-pull", "p") for i in range(len(sessions))]
        logs = os.path.join(a.out, "logs")
        os.makedirs(logs, exist_ok=True)
        pre, reader, pre_err = None, None, None
        if self.impl not in SINGLE:
            pre_err = open(os.path.join(logs, f"{self.impl}-{self.tag}-r{a.round}-prefill.log"), "w")
            pre = subprocess.Popen(self.command("prefill", pre_name, [
                f"pool_blocks={(2 * max_inflight + 1) * self.blocks}", f"sessions={','.join(dec_names)}",
                "plan=" + ";".join(self.plan(s) for s in sessions)]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=pre_err, text=True, env=self.env())
            reader = threading.Thread(target=self.read_prefill, args=(pre,), daemon=True)
            reader.start()
        deadline = time.monotonic() + a.run_timeout
        try:
            for name, cells in zip(dec_names, sessions):
                err = open(os.path.join(logs, f"{self.impl}-{self.tag}-r{a.round}-{name}.log"), "w")
                dec = subprocess.Popen(self.command("decode", name, [
                    f"pool_blocks={(max_inflight + 1) * self.blocks}", f"peer={pre_name}", "plan=" + self.plan(cells)]),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, env=self.env())
                watchdog = threading.Timer(max(1.0, deadline - time.monotonic()), self.kill, args=(pre, dec))
                watchdog.start()
                self.read_decode(dec, pre)
                rc = dec.wait()
                watchdog.cancel()
                err.close()
                if rc != 0:
                    raise RuntimeError(f"decode process {name} exited with {rc} (see {err.name})")
            if pre:
                pre.stdin.close()
                rc = pre.wait(timeout=max(1.0, deadline - time.monotonic()))
                reader.join(timeout=5)
                if rc != 0:
                    raise RuntimeError(f"prefill process exited with {rc} (see {pre_err.name})")
        except (RuntimeError, subprocess.TimeoutExpired, BrokenPipeError) as e:
            self.failed = str(e)
            self.kill(pre)
        finally:
            if pre_err:
                pre_err.close()
        return self

    @staticmethod
    def kill(*procs):
        for p in procs:
            if p and p.poll() is None:
                p.kill()

    def read_prefill(self, pre):
        for line in pre.stdout:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 6 and p[:2] == ["RB", "CPU"]:
                self.prefill_marks[(p[2], p[3])] = [int(x) for x in p[4:]]
                self.marked.set()

    def read_decode(self, dec, pre):
        for line in dec.stdout:
            p = line.rstrip("\n").split("\t")
            if len(p) < 4 or p[0] != "RB":
                continue
            if p[1] == "MARK":
                # the decode process waits for the answer: the prefill process's counters and both processes'
                # thread times are read while nothing of the phase has started yet, or is over
                key = (p[2], p[3])
                self.mark_times.append((p[2], p[3], time.time(), pre.pid if pre else 0, dec.pid))
                self.marked.clear()
                if pre:
                    pre.stdin.write(f"MARK {p[2]} {p[3]}\n")
                    pre.stdin.flush()
                if self.a.threads:
                    self.thread_marks[key] = (threads_of(pre.pid, self.impl) if pre else {}, threads_of(dec.pid, self.impl))
                if pre and not self.marked.wait(10):
                    raise RuntimeError(f"the prefill process did not answer mark {key}")
                dec.stdin.write("GO\n")
                dec.stdin.flush()
            elif p[1] == "RESULT":
                self.results.setdefault(p[2], {})[p[3]] = p[4]

    def rows(self):
        """(cell, metric, value) and (cell, side, thread, ms per request) rows."""
        out, threads = [], []
        for cell, _, _ in self.cells:
            r = self.results.get(cell)
            if not r:
                continue
            n = int(r["requests"])
            secs = float(r["seconds"])
            with open(r["latency_file"]) as f:
                lat = sorted(int(x) for x in f if x.strip())
            out += [(cell, "requests", n), (cell, "req_per_s", n / secs), (cell, "gb_per_s", n * self.blocks * self.bb / secs / 1e9),
                    (cell, "p50_us", percentile(lat, 0.50) / 1e3), (cell, "p99_us", percentile(lat, 0.99) / 1e3),
                    (cell, "max_us", lat[-1] / 1e3), (cell, "decode_cpu_ms_per_req", int(r["cpu_ns"]) / 1e6 / n)]
            for k in ("jit_ms", "gc_count", "gc_ms"):
                if k in r:
                    out.append((cell, "decode_" + k, float(r[k])))
            if "alloc_bytes" in r:
                out.append((cell, "decode_alloc_bytes_per_req", int(r["alloc_bytes"]) / n))
            b, e = self.prefill_marks.get((cell, "begin")), self.prefill_marks.get((cell, "end"))
            if b and e:
                out.append((cell, "prefill_cpu_ms_per_req", (e[0] - b[0]) / 1e6 / n))
                if len(b) >= 6:
                    out += [(cell, "prefill_jit_ms", e[2] - b[2]), (cell, "prefill_alloc_bytes_per_req", (e[3] - b[3]) / n),
                            (cell, "prefill_gc_count", e[4] - b[4])]
            tb, te = self.thread_marks.get((cell, "begin")), self.thread_marks.get((cell, "end"))
            if tb and te:
                for side, i in (("prefill", 0), ("decode", 1)):
                    for name, ns in sorted(thread_delta(tb[i], te[i]).items(), key=lambda x: -x[1]):
                        if ns > 0:
                            threads.append((cell, side, name, ns / 1e6 / n))
        return out, threads


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--java", default="java")
    ap.add_argument("--jar")
    ap.add_argument("--native")
    ap.add_argument("--cbin")
    ap.add_argument("--d2dbin", help="jmh/c/cuda_block_copy built (for --impls ...,cuda-d2d)")
    ap.add_argument("--pypath", default="")
    ap.add_argument("--impls", default="kvx,kvx-warm,kvx-poll,kvx-warm-poll,c,python,kvx-pull,kvx-warm-pull,c-pull")
    ap.add_argument("--shapes", default="64x16384,12x458752", help="BLOCKSxBYTES, comma separated")
    ap.add_argument("--inflight", default="1,16", help="requests in flight of the warm cells")
    ap.add_argument("--counts", default="2000:4000,600:1200",
                    help="measured requests of each warm cell (':' separated, as --inflight), per shape (comma separated)")
    ap.add_argument("--quiet-wait", type=float, default=10,
                    help="before each run, wait up to this many seconds for the machine to be idle")
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of every implementation and shape, interleaved; each cell reports its round with the most req/s")
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--startup", type=int, default=200,
                    help="requests of the startup cell (a fresh decode process, the largest in-flight count); 0: none")
    ap.add_argument("--timeout-ms", type=int, default=30000)
    ap.add_argument("--run-timeout", type=float, default=180, help="seconds for one implementation and shape")
    ap.add_argument("--mem", default="dram", choices=("dram", "vram"))
    ap.add_argument("--device", type=int, default=0)
    ap.add_argument("--verify-every", type=int, default=8)
    ap.add_argument("--progress-thread", type=int, default=0,
                    help="NIXL progress thread on (C, Python; kvx's transceiver: off, its engine drives progress)")
    ap.add_argument("--progress-delay-us", type=int, default=1000, help="its delay (C, Python)")
    ap.add_argument("--busy-park-us", type=int, default=50, help="C and Python loops' longest park while busy (kvx: 50)")
    ap.add_argument("--ucx-params", default=os.environ.get("KVX_UCX_PARAMS", ""), help="UCX backend key=value,... for all")
    ap.add_argument("--jvm-args", default="", help="extra JVM options of kvx's processes (e.g. JFR)")
    ap.add_argument("--hugepages", type=int, default=1, choices=(0, 1),
                    help="DRAM pools on transparent huge pages (1: what kvx's HostBuffer and numpy do) or 4 KiB pages (0), "
                         "the same for all")
    ap.add_argument("--threads", type=int, default=1, help="read per-thread CPU from /proc at the marks")
    ap.add_argument("--aot-dir", default="", help="where kvx-aot's AOT caches go (trained first by a short run); default OUT/aot")
    a = ap.parse_args()
    impls = a.impls.split(",")
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    inflight = [int(x) for x in a.inflight.split(",")]
    a.cells = [(f"c{k}", k, True) for k in inflight] + ([("startup", max(inflight), False)] if a.startup > 0 else [])
    counts = [dict(zip((f"c{k}" for k in inflight), (int(x) for x in c.split(":")))) for c in a.counts.split(",")]
    if len(counts) != len(shapes) or any(len(c) != len(inflight) for c in counts):
        sys.exit(f"request_driver: --counts needs {len(shapes)} entries (one per shape) of {len(inflight)} counts each")
    if any(i.startswith("kvx") for i in impls) and a.progress_thread != 0:
        print("request_driver: kvx's transceiver runs without NIXL's progress thread (its engine drives progress); "
              "only C and Python take --progress-thread/--progress-delay-us", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    a.secret = os.path.join(a.out, "kvx.secret")  # the run's shared secret for kvx's processes, mode 600
    fd = os.open(a.secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, os.urandom(32).hex().encode())
    os.close(fd)
    rows, trows = [], []
    load0 = open("/proc/loadavg").read().split()[0]
    if "kvx-aot" in impls:
        a.aot_dir = a.aot_dir or os.path.join(a.out, "aot")
        os.makedirs(a.aot_dir, exist_ok=True)
        for f in os.listdir(a.aot_dir):
            os.remove(os.path.join(a.aot_dir, f))
        # training: one short run of each shape with AOTCacheOutput (the JVM writes the cache at exit)
        a.training, a.round = True, -1
        for (blocks, bb), count in zip(shapes, counts):
            a.count = lambda cell, c=count: min(200, a.startup if cell == "startup" else c[cell])
            t = Run(a, "kvx-aot", blocks, bb).run()
            print(f"request_driver: AOT training run {t.tag}: " + ("failed: " + t.failed if t.failed else "ok"), file=sys.stderr)
            break  # one cache per role; the first shape exercises the same code as the others
        a.training = False
    best = {}  # (impl, shape, cell) -> (req/s, rows, thread rows)
    marks = open(os.path.join(a.out, "requests-marks.tsv"), "w")
    for a.round in range(a.rounds):
        for (blocks, bb), count in zip(shapes, counts):
            a.count = lambda cell, c=count: a.startup if cell == "startup" else c[cell]
            for impl in impls:
                if impl == "python" and not (a.pypath and os.path.isdir(os.path.join(a.pypath, "nixl_cu13"))):
                    if a.round == 0:
                        print(f"request_driver: no nixl_cu13 under --pypath '{a.pypath}': Python skipped", file=sys.stderr)
                    continue
                if impl == "cuda-d2d" and not a.d2dbin:
                    continue
                waited = wait_for_quiet(a.quiet_wait)
                t0 = time.monotonic()
                run = Run(a, impl, blocks, bb).run()
                if run.failed:
                    print(f"request_driver: {impl} {run.tag} FAILED: {run.failed}", file=sys.stderr)
                    rows.append((impl, run.tag, "-", "failed", run.failed.replace("\t", " ")))
                    continue
                r, t = run.rows()
                for m in run.mark_times:
                    marks.write("\t".join(str(x) for x in (impl, run.tag, a.round) + m) + "\n")
                marks.flush()
                summary = {(c, m): v for c, m, v in r}
                for cell, _, _ in a.cells:
                    rate = summary.get((cell, "req_per_s"))
                    if rate is not None and rate > best.get((impl, run.tag, cell), (-1,))[0]:
                        best[(impl, run.tag, cell)] = (rate, [x for x in r if x[0] == cell], [x for x in t if x[0] == cell])
                print(f"request_driver: round {a.round + 1} {impl:7s} {run.tag:10s} " + "  ".join(
                    f"{c}: {summary.get((c, 'req_per_s'), 0):6.0f} req/s p99 {summary.get((c, 'p99_us'), 0) / 1e3:6.2f} ms "
                    f"cpu {summary.get((c, 'decode_cpu_ms_per_req'), 0):.3f}+{summary.get((c, 'prefill_cpu_ms_per_req'), 0):.3f} ms"
                    for c, _, _ in run.cells) + f"  ({time.monotonic() - t0:.0f} s, after {waited:.0f} s for quiet)", file=sys.stderr)
    for (impl, tag, _cell), (_rate, r, t) in best.items():
        rows += [(impl, tag) + x for x in r]
        trows += [(impl, tag) + x for x in t]
    with open(os.path.join(a.out, "requests.tsv"), "w") as f:
        for row in rows:
            f.write("\t".join(str(x) for x in row) + "\n")
    with open(os.path.join(a.out, "requests-threads.tsv"), "w") as f:
        for row in trows:
            f.write("\t".join(str(x) for x in row) + "\n")
    with open(os.path.join(a.out, "requests-settings.txt"), "w") as f:
        f.write(f"date={time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} progress_thread={a.progress_thread} progress_delay_us={a.progress_delay_us} busy_park_us={a.busy_park_us} "
                f"ucx_params={a.ucx_params or '(NIXL defaults)'} warmup={a.warmup} startup={a.startup} mem={a.mem} "
                f"counts={a.counts} rounds={a.rounds} verify_every={a.verify_every} hugepages={a.hugepages} jvm_args={a.jvm_args or '-'} "
                f"loadavg={load0}..{open('/proc/loadavg').read().split()[0]}\n")


if __name__ == "__main__":
    main()
