"""The NIXL-Python side of the request-level benchmark: kvx's transfer protocol written as Python
glue over NIXL's own Python API (nixl_cu13: nixl_agent, prep_xfer_dlist, make_prepped_xfer,
transfer, check_xfer_state, send_notif, get_new_notifs), the way vLLM's NIXL connector moves KV
blocks: descriptor lists prepared once per pool and peer, a transfer made per request from block
indices. jmh/request_driver.py starts a prefill and a decode process of it, next to kvx's and the C
program's processes doing the same (jmh/c/request_bench.c has the protocol in words).

Arguments are the C program's key=value ones (jmh/c/request_bench_common.h); push mode only.
The agent gets the settings kvx's and the C program's agents get (progress thread on, 1 ms delay,
no thread sync, UCX parameters from $KVX_UCX_PARAMS): NIXL's Python API fixes the progress thread's
delay at 0 (a spinning thread), so the agent is made through the API's own binding module with the
same config fields, and everything else goes through nixl_agent. py_api_config=1 keeps the API's
own config instead. mem=vram registers a torch tensor on the GPU."""
import collections
import os
import struct
import sys
import threading
import time

import numpy as np
from numpy._core.multiarray import _set_madvise_hugepage
from nixl_cu13 import nixl_agent, nixl_agent_config
from nixl_cu13 import _bindings as nixl_bind

HDR = struct.Struct("<3sBBqiI")  # kvx WireCodec: magic, version, type, request id, epoch, payload length
INFO = struct.Struct("<iqiBi")  # buffer index, block bytes, device, vram, block count
POOL = struct.Struct("<QI")  # this benchmark's set-up message: pool base, block count
T_REQUEST_INFO, T_DATA_DONE, T_POOL = 1, 2, 100
MAGIC = np.uint64(0x48434E4542584B56)
K1, K2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD1B54A32D192ED03)


def die(msg):
    sys.stderr.write(f"request_bench.py {ARGS.get('name', '?')}: {msg}\n")
    sys.stdout.flush()
    os._exit(2)


def parse_args(argv):
    a = {"dir": ".", "timeout_ms": "30000", "progress_thread": "1", "progress_delay_us": "1000", "busy_park_us": "50",
         "seed": "1", "verify_every": "8", "mem": "dram", "device": "0", "mode": "push", "sessions": "", "py_api_config": "0",
         "hugepages": "0"}
    for arg in argv:
        k, eq, v = arg.partition("=")
        if not eq:
            die(f"argument '{arg}' is not key=value")
        a[k] = v
    for k in ("role", "name", "block_bytes", "pool_blocks", "plan"):
        if k not in a:
            die(f"needs {k}= (see jmh/c/request_bench_common.h)")
    if a["mode"] != "push":
        die("the Python glue runs push mode only")
    return a


ARGS = {}


def parse_plan(text):
    phases = []
    for ph in text.split(","):
        label, inflight, blocks, warmup, measured = ph.split(":")
        phases.append((label, int(inflight), int(blocks), int(warmup), int(measured)))
    return phases


def make_agent(name):
    params = dict(kv.split("=", 1) for kv in os.environ.get("KVX_UCX_PARAMS", "").split(",") if kv)
    pthr = ARGS["progress_thread"] == "1"
    agent = nixl_agent(name, nixl_agent_config(enable_prog_thread=pthr, backends=[]))
    if ARGS["py_api_config"] != "1":
        conf = nixl_bind.nixlAgentConfig()
        conf.useProgThread = pthr
        conf.useListenThread = False
        conf.syncMode = nixl_bind.NIXL_THREAD_SYNC_NONE
        conf.pthrDelay = int(ARGS["progress_delay_us"])
        conf.lthrDelay = 100000
        agent.agent = nixl_bind.nixlAgent(name, conf)
        agent.plugin_list = agent.agent.getAvailPlugins()
    agent.create_backend("UCX", params)
    return agent


class Pool:
    """One registered region of fixed-size blocks with a FIFO free list (first filled in a seeded shuffle)."""

    def __init__(self, agent, nblocks, bb, fill):
        self.bb, self.nblocks = bb, nblocks
        self.vram = ARGS["mem"] == "vram"
        self.dev = int(ARGS["device"]) if self.vram else 0
        self.mem = "VRAM" if self.vram else "DRAM"
        words = bb // 8
        if self.vram:
            try:
                import torch
            except ImportError:
                die("mem=vram registers torch tensors: this Python has no torch")
            self.torch = torch
            self.tensor = torch.zeros(nblocks * bb, dtype=torch.uint8, device=f"cuda:{self.dev}")
            self.base = self.tensor.data_ptr()
            step = max(1, (64 << 20) // bb)
            for b in range(0, nblocks if fill else 0, step):  # 64 MiB at a time through host memory
                chunk = block_contents(b, min(b + step, nblocks), words)
                self.tensor[b * bb:b * bb + chunk.nbytes] = torch.from_numpy(chunk.reshape(-1).view(np.uint8)).to(self.tensor.device)
            agent.register_memory(self.tensor)
        else:
            # numpy asks for transparent huge pages on large arrays by default; kvx's pools get none: all
            # three implementations run with the same hugepages= setting
            _set_madvise_hugepage(ARGS["hugepages"] == "1")
            raw = np.zeros(nblocks * bb + 4096, dtype=np.uint8)
            off = (-raw.ctypes.data) % 4096
            self.host = raw[off:off + nblocks * bb]
            self.words = self.host.view(np.uint64).reshape(nblocks, words)
            self.base = self.host.ctypes.data
            step = max(1, (64 << 20) // bb)
            for b in range(0, nblocks if fill else 0, step):
                self.words[b:min(b + step, nblocks)] = block_contents(b, min(b + step, nblocks), words)
            agent.register_memory([(self.base, nblocks * bb, 0, "")], "DRAM")
        order = np.random.RandomState(int(ARGS["seed"])).permutation(nblocks)
        self.free = collections.deque(int(b) for b in order)
        self.verify_every = int(ARGS["verify_every"])

    def descs(self, base):
        d = np.zeros((self.nblocks, 3), dtype=np.uint64)
        d[:, 0] = base + np.arange(self.nblocks, dtype=np.uint64) * np.uint64(self.bb)
        d[:, 1] = self.bb
        d[:, 2] = self.dev
        return d

    def alloc(self, n):
        free = self.free
        return np.array([free.popleft() for _ in range(n)], dtype=np.int32)

    def release(self, ids):
        self.free.extend(ids.tolist())

    def clear_headers(self, rid, ids):
        if not self.vram:
            self.words[ids, :4] = 0
        elif rid % self.verify_every == 0:
            b = int(ids[(rid // self.verify_every) % len(ids)])
            self.tensor[b * self.bb:b * self.bb + 32].zero_()
            self.torch.cuda.synchronize(self.tensor.device)  # zeroed before the peer's copy can land

    def verify(self, rid, ids):
        pick = (rid // self.verify_every) % len(ids)
        if not self.vram:
            h = self.words[ids, :4]
            if not ((h[:, 0] == MAGIC).all() and (h[:, 3] == (h[:, 0] ^ h[:, 1] ^ h[:, 2])).all()):
                die(f"request {rid}: a block did not arrive intact")
            if rid % self.verify_every == 0:
                w = self.words[ids[pick]]
                if w[4:].sum(dtype=np.uint64) != w[2]:
                    die(f"request {rid}: block {pick} did not arrive intact")
        elif rid % self.verify_every == 0:
            b = int(ids[pick])
            w = self.tensor[b * self.bb:(b + 1) * self.bb].cpu().numpy().view(np.uint64)
            if w[0] != MAGIC or w[3] != (w[0] ^ w[1] ^ w[2]) or w[4:].sum(dtype=np.uint64) != w[2]:
                die(f"request {rid}: block {pick} did not arrive intact")


def block_contents(b0, b1, words):
    """Blocks b0..b1-1 as rows of words: header {magic, block, body sum, magic^block^sum}, then the body."""
    b = np.arange(b0, b1, dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):  # the pattern wraps around 2^64 on purpose
        w = b * K1 + np.arange(words, dtype=np.uint64)[None, :] * K2
    s = w[:, 4:].sum(axis=1, dtype=np.uint64)
    w[:, 0], w[:, 1], w[:, 2], w[:, 3] = MAGIC, b[:, 0], s, MAGIC ^ b[:, 0] ^ s
    return w


def encode(mtype, rid, payload=b""):
    return HDR.pack(b"KVX", 1, mtype, rid, 1, len(payload)) + payload


def request_info(rid, pool, ids):
    addrs = np.uint64(pool.base) + ids.astype(np.uint64) * np.uint64(pool.bb)
    return encode(T_REQUEST_INFO, rid, INFO.pack(0, pool.bb, pool.dev, int(pool.vram), len(ids)) + addrs.tobytes())


def messages(agent):
    """Yields (type, id, payload bytes) of every notification that arrived."""
    for _sender, msgs in agent.get_new_notifs().items():
        for m in msgs:
            magic, ver, mtype, rid, _epoch, plen = HDR.unpack_from(m)
            if magic != b"KVX" or ver != 1 or plen != len(m) - HDR.size:
                die(f"malformed notification of {len(m)} B")
            yield mtype, rid, m


def info_addrs(m):
    n = INFO.unpack_from(m, HDR.size)[4]
    return np.frombuffer(m, dtype="<u8", count=n, offset=HDR.size + INFO.size)


def publish_md(agent):
    path = os.path.join(ARGS["dir"], ARGS["name"] + ".md")
    with open(path + ".tmp", "wb") as f:
        f.write(agent.get_agent_metadata())
    os.rename(path + ".tmp", path)


def load_peer(agent, name):
    path = os.path.join(ARGS["dir"], name + ".md")
    until = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > until:
            die(f"no metadata of {name} at {path} within 120 s")
        time.sleep(0.002)
    with open(path, "rb") as f:
        return agent.add_remote_agent(f.read())


class Backoff:
    """kvx's engine policy: after a loop without progress, park 1 us doubling to 1 ms (50 us while busy)."""

    def __init__(self):
        self.pause = 1e-6
        self.busy_max = int(ARGS["busy_park_us"]) * 1e-6

    def __call__(self, progressed, busy):
        if progressed:
            self.pause = 1e-6
            return
        time.sleep(min(self.pause, self.busy_max) if busy else self.pause)
        self.pause = min(self.pause * 2, 1e-3)


class Request:
    __slots__ = ("id", "blocks", "state", "deadline", "t_submit", "measured", "xfer")

    def __init__(self, rid, blocks, deadline):
        self.id, self.blocks, self.deadline = rid, blocks, deadline
        self.state, self.xfer, self.measured, self.t_submit = "new", None, False, 0.0


def check_deadlines(active, now):
    for r in active.values():
        if now > r.deadline:
            die(f"request {r.id} timed out in state {r.state}")


def prefill(agent):
    bb = int(ARGS["block_bytes"])
    pool = Pool(agent, int(ARGS["pool_blocks"]), bb, fill=True)
    publish_md(agent)
    local = agent.prep_xfer_dlist("NIXL_INIT_AGENT", pool.descs(pool.base), pool.mem)
    marks = threading.Thread(target=mark_thread, daemon=True)
    marks.start()
    timeout = int(ARGS["timeout_ms"]) / 1e3
    for name, plan in zip(ARGS["sessions"].split(","), ARGS["plan"].split(";")):
        phases = parse_plan(plan)
        peer = load_peer(agent, name)
        early = {}
        remote = None
        while remote is None:  # the decode side's pool description comes first
            for mtype, rid, m in messages(agent):
                if mtype == T_POOL:
                    rbase, rcount = POOL.unpack_from(m, HDR.size)
                    rpool_descs = np.zeros((rcount, 3), dtype=np.uint64)
                    rpool_descs[:, 0] = rbase + np.arange(rcount, dtype=np.uint64) * np.uint64(bb)
                    rpool_descs[:, 1], rpool_descs[:, 2] = bb, pool.dev
                    remote = agent.prep_xfer_dlist(peer, rpool_descs, pool.mem)
                elif mtype == T_REQUEST_INFO:
                    early[rid] = info_addrs(m)
            time.sleep(0.001)
        rbase = np.uint64(rbase)
        ends = np.cumsum([w + n for _, _, _, w, n in phases])
        total, next_id, done = int(ends[-1]), 1, 0
        active = {}
        backoff = Backoff()

        def start_write(r, addrs):
            ridx = ((addrs - rbase) // np.uint64(bb)).astype(np.int32)
            r.xfer = agent.make_prepped_xfer("WRITE", local, r.blocks, remote, ridx, notif_msg=encode(T_DATA_DONE, r.id))
            st = agent.transfer(r.xfer)
            if st == "ERR":
                die(f"request {r.id}: post failed")
            r.state = "written" if st == "DONE" else "in_flight"

        while done < total:
            progressed = False
            now = time.monotonic()
            while next_id <= total:  # admission, ahead of the request infos (as kvx's context side does)
                _, inflight, nblocks, _, _ = phases[int(np.searchsorted(ends, next_id, side="left"))]
                if len(active) >= 2 * inflight or len(pool.free) < nblocks:
                    break
                r = Request(next_id, pool.alloc(nblocks), now + timeout)
                active[next_id] = r
                next_id += 1
                addrs = early.pop(r.id, None)
                if addrs is not None:
                    start_write(r, addrs)
                else:
                    r.state = "wait_info"
                progressed = True
            for mtype, rid, m in messages(agent):
                progressed = True
                r = active.get(rid)
                if mtype != T_REQUEST_INFO:
                    die(f"unexpected message type {mtype} for request {rid}")
                if r is None:
                    early[rid] = info_addrs(m)
                elif r.state == "wait_info":
                    start_write(r, info_addrs(m))
                else:
                    die(f"request {rid}: unexpected request info in state {r.state}")
            for r in list(active.values()):
                if r.state == "in_flight":
                    st = agent.check_xfer_state(r.xfer)
                    if st == "ERR":
                        die(f"request {r.id}: transfer failed")
                    if st == "DONE":
                        r.state = "written"
                if r.state == "written":
                    agent.release_xfer_handle(r.xfer)
                    pool.release(r.blocks)
                    del active[r.id]
                    done += 1
                    progressed = True
            check_deadlines(active, now)
            backoff(progressed, bool(active))
        agent.release_dlist_handle(remote)
        print(f"RB\tSESSION_DONE\t{name}", flush=True)
    marks.join()  # the driver closes stdin once the last decode process is done: its end mark came first


def decode(agent):
    bb = int(ARGS["block_bytes"])
    pool = Pool(agent, int(ARGS["pool_blocks"]), bb, fill=False)
    publish_md(agent)
    peer = load_peer(agent, ARGS["peer"])
    agent.send_notif(peer, encode(T_POOL, 0, POOL.pack(pool.base, pool.nblocks)))
    timeout = int(ARGS["timeout_ms"]) / 1e3
    rid = 1
    for label, inflight, nblocks, warmup, measured in parse_plan(ARGS["plan"]):
        first, end = rid, rid + warmup + measured
        active, lat, done = {}, [], 0
        t0 = cpu0 = last = 0
        backoff = Backoff()
        while first + done < end:
            progressed = False
            now = time.monotonic()
            while rid < end and len(active) < inflight and len(pool.free) >= nblocks:
                if rid - first == warmup:
                    print(f"RB\tMARK\t{label}\tbegin", flush=True)
                    sys.stdin.readline()  # the driver answers once it has read both processes' counters
                    t0, cpu0 = time.monotonic(), time.process_time_ns()
                r = Request(rid, pool.alloc(nblocks), 0)
                r.measured = rid - first >= warmup
                pool.clear_headers(rid, r.blocks)
                r.t_submit = time.monotonic()
                r.deadline = r.t_submit + timeout
                agent.send_notif(peer, request_info(rid, pool, r.blocks))
                r.state = "wait_data"
                active[rid] = r
                rid += 1
                progressed = True
            for mtype, done_id, _m in messages(agent):
                progressed = True
                r = active.pop(done_id, None)
                if mtype != T_DATA_DONE or r is None:
                    die(f"unexpected message type {mtype} for request {done_id}")
                t = time.monotonic()
                pool.verify(r.id, r.blocks)
                if r.measured:
                    lat.append(t - r.t_submit)
                    last = t
                pool.release(r.blocks)
                done += 1
            check_deadlines(active, now)
            backoff(progressed, bool(active))
        cpu = time.process_time_ns() - cpu0
        print(f"RB\tMARK\t{label}\tend", flush=True)
        sys.stdin.readline()
        path = os.path.join(ARGS["dir"], f"lat-{ARGS['name']}-{label}.txt")
        with open(path, "w") as f:
            f.write("".join(f"{x * 1e9:.0f}\n" for x in lat))
        print(f"RB\tRESULT\t{label}\trequests\t{len(lat)}\nRB\tRESULT\t{label}\tseconds\t{last - t0:.6f}\n"
              f"RB\tRESULT\t{label}\tcpu_ns\t{cpu}\nRB\tRESULT\t{label}\tlatency_file\t{path}", flush=True)


def mark_thread():
    for line in sys.stdin:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "MARK":
            print(f"RB\tCPU\t{parts[1]}\t{parts[2]}\t{time.process_time_ns()}\t{time.monotonic_ns()}", flush=True)


def main():
    ARGS.update(parse_args(sys.argv[1:]))
    agent = make_agent(ARGS["name"])
    if ARGS["role"] == "prefill":
        prefill(agent)
    elif ARGS["role"] == "decode":
        decode(agent)
    else:
        die("role must be prefill or decode")
    sys.stdout.flush()
    os._exit(0)  # agents are left to process exit, as in the C program


if __name__ == "__main__":
    main()
