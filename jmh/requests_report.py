"""The "Whole requests" section of BENCHMARKS.md, from jmh/request_driver.py's requests.tsv,
requests-threads.tsv and requests-settings.txt (write_benchmarks.py calls it; with --requests-only it
replaces just this section of an existing report). Every ratio comes from figures of the same run."""
import os

BEGIN = "<!-- whole-requests:begin -->"
END = "<!-- whole-requests:end -->"
IMPLS = (("kvx", "kvx transceiver (engine thread)"), ("kvx-poll", "kvx transceiver, caller-driven poll()"),
         ("kvx-aot", "kvx transceiver, JDK 25 AOT cache (trained by a short run)"),
         ("kvx-warm", "kvx transceiver, builder's JIT warm-up (twins at build until the JIT is quiet, at most 20,000 requests)"),
         ("kvx-warm-poll", "kvx, JIT warm-up, caller-driven"), ("kvx-warm-pull", "kvx, JIT warm-up, pull mode"),
         ("c", "C, same protocol"), ("python", "NIXL Python API, same protocol"),
         ("kvx-pull", "kvx transceiver, pull mode (READ)"), ("kvx-pull-poll", "kvx, pull mode, caller-driven"),
         ("c-pull", "C, one-sided READ (pull)"), ("cuda-d2d", "cudaMemcpy D2D block by block, one process"))
KVX_PUSH = (("kvx", "engine thread"), ("kvx-poll", "caller-driven"), ("kvx-aot", "engine thread, AOT cache"), ("kvx-warm", "engine thread, JIT warm-up"),
            ("kvx-warm-poll", "caller-driven, JIT warm-up"))


def _cells(data):
    """The cells present: cN (N in flight) by N, then startup."""
    names = {k[2] for k in data}
    warm = sorted((c for c in names if c.startswith("c") and c[1:].isdigit()), key=lambda c: int(c[1:]))
    return [(c, f"{c[1:]} in flight") for c in warm] + ([("startup", "startup: a fresh decode process's first requests")]
                                                           if "startup" in names else [])


def _read(results):
    path = os.path.join(results, "requests.tsv")
    if not os.path.exists(path):
        return None
    data, failed = {}, {}
    for line in open(path):
        p = line.rstrip("\n").split("\t")
        if len(p) != 5:
            continue
        if p[3] == "failed":
            failed[(p[0], p[1])] = p[4]
            continue
        data[(p[0], p[1], p[2], p[3])] = float(p[4])
    threads = {}
    tpath = os.path.join(results, "requests-threads.tsv")
    if os.path.exists(tpath):
        for line in open(tpath):
            p = line.rstrip("\n").split("\t")
            if len(p) == 6:
                threads.setdefault((p[0], p[1], p[2], p[3]), []).append((p[4], float(p[5])))
    spath = os.path.join(results, "requests-settings.txt")
    settings = open(spath).read().strip() if os.path.exists(spath) else "?"
    return data, failed, threads, settings


def _f(v, digits=2):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def _ratio(x, y):
    return None if x is None or not y else x / y


def requests_section(results):
    got = _read(results)
    L = [BEGIN, "## Whole requests (two processes, kvx's protocol end to end)", ""]
    if got is None:
        L += ["Not measured in this run (`jmh/run-benchmarks.sh` runs it unless `--skip-requests`).", "", END]
        return L
    data, failed, threads, settings = got
    CELLS = _cells(data)
    shapes = []
    for (impl, shape, _, _) in data:
        if shape not in shapes:
            shapes.append(shape)

    def v(impl, shape, cell, metric):
        return data.get((impl, shape, cell, metric))

    def cpu(impl, shape, cell):
        d, p = v(impl, shape, cell, "decode_cpu_ms_per_req"), v(impl, shape, cell, "prefill_cpu_ms_per_req")
        return None if d is None or p is None else d + p

    L.append("A prefill process and a decode process on this machine, three implementations of the same protocol side "
             "by side: the decode side sends a RequestInfo notification (its block addresses, kvx's wire layout), the "
             "prefill side WRITEs the blocks there with a DataDone notification attached and polls the WRITE until "
             "terminal, the decode side completes the request on the DataDone; per-request deadlines are checked on "
             "every loop. **kvx**: `jmh/src/main/java/dev/kvx/bench/RequestBench.java` (the transceiver's public API: "
             "`createRequest`, `send`/`receive`), with its own engine thread and, as *kvx-poll*, caller-driven (the "
             "benchmark's loop calls `poll()` while it waits, so outcomes complete on that thread); kvx's messages also "
             "carry a session, a sequence number and an HMAC-SHA256 tag each, which the C and Python programs do not. "
             "**kvx pull**: the same with `TransferMode.PULL` (the prefill side announces, the decode side READs). **C**: `jmh/c/request_bench.c` over `libnixl_capi.so` with "
             "descriptor lists prepared once per pool and peer (`prep_xfer_dlist`, `make_xfer_req` per request). "
             "**Python**: `jmh/python/request_bench.py`, NIXL's Python API (`prep_xfer_dlist`, `make_prepped_xfer`, "
             "as vLLM's connector does). **C READ**: the decode side READs the blocks one-sidedly after the prefill "
             "side announced them (the comparison for a pull mode). Started by `jmh/request_driver.py`: per shape, one "
             "prefill process serves a warm decode process (the 1- and 16-in-flight cells, each after its own warm-up) "
             "and then a fresh one (the startup cell: its first requests, JIT cold for kvx, no warm-up). Latency: "
             "submit on the decode side to its completion there. CPU: each process's whole CPU time (all threads) over "
             "the measured requests, divided by them. Every request's headers, and one whole block of every 8th "
             "request, are verified on the decode side. The implementations run one after the other, in rounds; each "
             "cell shows its round with the most requests per second (all figures of that round), which on a shared "
             "machine is the run least disturbed by other load.")
    L.append("")
    L.append(f"**Settings (all):** `{settings}`. NIXL's progress thread is off in kvx's transceiver (its engine drives "
             "UCX's progress on every cycle); the C and Python programs run with the setting above (the driver's default "
             "matches kvx) and park like kvx's engine (1 µs doubling, at most 50 µs while requests are in flight). "
             "Python's agent gets these settings through the API's binding module, since `nixl_agent` fixes them. "
             "DRAM pools are on transparent huge pages when `hugepages=1` (kvx's `HostBuffer` and numpy ask for them).")
    L.append("")
    for shape in shapes:
        L.append(f"### {shape} per request")
        L.append("")
        L.append("| cell | implementation | req/s | GB/s | p50 ms | p99 ms | CPU ms/req decode + prefill | decode | prefill |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for cell, clabel in CELLS:
            for impl, ilabel in IMPLS:
                if (impl, shape) in failed:
                    if cell == "c1":
                        L.append(f"| – | {ilabel} | failed: {failed[(impl, shape)]} | | | | | | |")
                    continue
                if v(impl, shape, cell, "req_per_s") is None:
                    continue
                p50, p99 = v(impl, shape, cell, "p50_us"), v(impl, shape, cell, "p99_us")
                L.append(f"| {clabel} ({int(v(impl, shape, cell, 'requests'))} req) | {ilabel} | "
                         f"{_f(v(impl, shape, cell, 'req_per_s'), 0)} | {_f(v(impl, shape, cell, 'gb_per_s'))} | "
                         f"{_f(p50 and p50 / 1e3, 3)} | {_f(p99 and p99 / 1e3, 3)} | {_f(cpu(impl, shape, cell), 3)} | "
                         f"{_f(v(impl, shape, cell, 'decode_cpu_ms_per_req'), 3)} | {_f(v(impl, shape, cell, 'prefill_cpu_ms_per_req'), 3)} |")
        L.append("")
    L.append("### kvx against the others (ratios of the figures above; issue 15's targets)")
    L.append("")
    d2d = any(k[0] == "cuda-d2d" for k in data)
    L.append("| shape | cell | kvx | req/s kvx/Python (≥ 1.0) | req/s kvx/C (≥ 0.95) | CPU/req kvx/C (≤ 1.2) | CPU/req kvx/Python | "
             "p99 kvx/C (≤ 1.5 at 1 in flight) | p99 kvx/Python |" + (" GB/s kvx/cudaMemcpy (≥ 0.8 from 16 MiB) |" if d2d else ""))
    L.append("|---|---|---|---|---|---|---|---|---|" + ("---|" if d2d else ""))
    for shape in shapes:
        for cell, clabel in CELLS:
            for kimpl, klabel in KVX_PUSH:
                rk = v(kimpl, shape, cell, "req_per_s")
                if rk is None:
                    continue
                pk = v(kimpl, shape, cell, "p99_us")
                cells = [_ratio(rk, v("python", shape, cell, "req_per_s")), _ratio(rk, v("c", shape, cell, "req_per_s")),
                         _ratio(cpu(kimpl, shape, cell), cpu("c", shape, cell)), _ratio(cpu(kimpl, shape, cell), cpu("python", shape, cell)),
                         _ratio(pk, v("c", shape, cell, "p99_us")), _ratio(pk, v("python", shape, cell, "p99_us"))]
                if d2d:
                    cells.append(_ratio(v(kimpl, shape, cell, "gb_per_s"), v("cuda-d2d", shape, cell, "gb_per_s")))
                L.append(f"| {shape} | {clabel.split(':')[0]} | {klabel} | " + " | ".join(_f(x) + "×" if x is not None else "–" for x in cells) + " |")
    L.append("")
    pulls = [(shape, cell, clabel, k, kl) for shape in shapes for cell, clabel in CELLS for k, kl in (("kvx-pull", "engine thread"),
             ("kvx-pull-poll", "caller-driven")) if v(k, shape, cell, "req_per_s") is not None]
    if pulls:
        L.append("Pull mode (the decode side READs): kvx against the C READ loop (target ≥ 0.95×).")
        L.append("")
        L.append("| shape | cell | kvx | req/s kvx pull / C READ | CPU/req kvx pull / C READ | p99 kvx pull / C READ |")
        L.append("|---|---|---|---|---|---|")
        for shape, cell, clabel, k, kl in pulls:
            L.append(f"| {shape} | {clabel.split(':')[0]} | {kl} | "
                     + " | ".join(_f(x) + "×" if x is not None else "–" for x in (
                         _ratio(v(k, shape, cell, "req_per_s"), v("c-pull", shape, cell, "req_per_s")),
                         _ratio(cpu(k, shape, cell), cpu("c-pull", shape, cell)),
                         _ratio(v(k, shape, cell, "p99_us"), v("c-pull", shape, cell, "p99_us")))) + " |")
        L.append("")
    L.append("### kvx's JVM during each cell")
    L.append("")
    L.append("| shape | cell | JIT compilation ms (decode / prefill) | B allocated per request (decode / prefill) | GCs (decode / prefill) |")
    L.append("|---|---|---|---|---|")
    for shape in shapes:
        for cell, clabel in CELLS:
            if v("kvx", shape, cell, "decode_jit_ms") is None:
                continue
            L.append(f"| {shape} | {clabel.split(':')[0]} | {_f(v('kvx', shape, cell, 'decode_jit_ms'), 0)} / "
                     f"{_f(v('kvx', shape, cell, 'prefill_jit_ms'), 0)} | {_f(v('kvx', shape, cell, 'decode_alloc_bytes_per_req'), 0)} / "
                     f"{_f(v('kvx', shape, cell, 'prefill_alloc_bytes_per_req'), 0)} | {_f(v('kvx', shape, cell, 'decode_gc_count'), 0)} / "
                     f"{_f(v('kvx', shape, cell, 'prefill_gc_count'), 0)} |")
    L.append("")
    busiest = [c for c, _ in CELLS if c != "startup"][-1:]
    if threads and shapes and busiest:
        shape, cell = shapes[0], busiest[0]
        L.append(f"### Where the CPU goes, by thread ({shape}, {cell[1:]} in flight; CPU ms per request, from /proc)")
        L.append("")
        L.append("| implementation | decode process | prefill process |")
        L.append("|---|---|---|")
        for impl, ilabel in IMPLS:
            parts = []
            for side in ("decode", "prefill"):
                rows = sorted(threads.get((impl, shape, cell, side), []), key=lambda x: -x[1])
                parts.append(", ".join(f"{n} {t:.3f}" for n, t in rows if t >= 0.005) or "–")
            if parts != ["–", "–"]:
                L.append(f"| {ilabel} | {parts[0]} | {parts[1]} |")
        L.append("")
    L.append(END)
    return L


def replace_section(path, lines, begin=BEGIN, end=END):
    """Puts the section (between the begin and end markers) into an existing report, in place of the old one
    (or before "Reading the ratios", or at the end)."""
    text = open(path).read() if os.path.exists(path) else "# kvx benchmarks\n"
    block = "\n".join(lines)
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    elif "\n## Reading the ratios" in text:
        head, rest = text.split("\n## Reading the ratios", 1)
        text = head.rstrip("\n") + "\n\n" + block + "\n\n## Reading the ratios" + rest
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(path, "w").write(text)
