"""The NIXL-Python side of kvx's benchmark suite: the C program's in-flight ring and post->done loop,
made through NIXL's own Python API (nixl_cu13: nixl_agent, initialize_xfer, transfer,
check_xfer_state) as a Python serving stack would make them. jmh/run-benchmarks.sh unpacks the
nixl-cu13 and numpy wheels for it and runs it in the same invocation as the C and Java figures.
NIXL's Python API creates its agents with the progress thread's delay at 0 (it spins, a core per
agent); the initiator here runs without one (its own polling drives it), the target with one. Output: "name<TAB>param<TAB>value<TAB>unit" lines, like nixl_baseline.c."""
import ctypes
import os
import time

from nixl_cu13 import nixl_agent, nixl_agent_config

SECONDS = float(os.environ.get("KVX_BENCH_SECONDS", "2"))
DEPTH = 64
MAX = 64 * 65536


def main():
    # The target needs a progress thread (nobody polls it); the initiator's own polling drives its
    # progress, so it runs without one: one spinning thread instead of two, the kinder setup for Python.
    init = nixl_agent("py-bench-initiator", nixl_agent_config(enable_prog_thread=False, backends=["UCX"]))
    target = nixl_agent("py-bench-target", nixl_agent_config(enable_prog_thread=True, backends=["UCX"]))
    src = ctypes.create_string_buffer(b"\x01" * MAX, MAX)
    dst = ctypes.create_string_buffer(MAX)
    src_addr, dst_addr = ctypes.addressof(src), ctypes.addressof(dst)
    init.register_memory([(src_addr, MAX, 0, "")], "DRAM")
    target.register_memory([(dst_addr, MAX, 0, "")], "DRAM")
    init.add_remote_agent(target.get_agent_metadata())

    def write(offset, size):
        local = init.get_xfer_descs([(src_addr + offset, size, 0)], "DRAM")
        remote = init.get_xfer_descs([(dst_addr + offset, size, 0)], "DRAM")
        return init.initialize_xfer("WRITE", local, remote, "py-bench-target")

    def wait(h):
        while True:
            s = init.check_xfer_state(h)
            if s == "DONE":
                return
            if s == "ERR":
                raise RuntimeError("transfer failed")

    # post -> done of one prepared 4 KiB WRITE
    h = write(0, 4096)
    for rnd in range(2):
        n, t0 = 0, time.perf_counter()
        while True:
            if init.transfer(h) == "PROC":
                wait(h)
            n += 1
            t = time.perf_counter()
            if t - t0 >= SECONDS / 2:
                break
        if rnd == 1:
            print(f"py_post_done\t4096\t{(t - t0) * 1e9 / n:.1f}\tns/op")
    # status poll of a finished transfer (one getXferStatus through the Python API)
    for rnd in range(2):
        n, t0 = 0, time.perf_counter()
        while True:
            for _ in range(1000):
                init.check_xfer_state(h)
            n += 1000
            t = time.perf_counter()
            if t - t0 >= SECONDS / 2:
                break
        if rnd == 1:
            print(f"py_status_poll\t-\t{(t - t0) * 1e9 / n:.2f}\tns/op")
    init.release_xfer_handle(h)

    # many in flight, round robin: wait for the oldest, repost it
    for size in (4096, 65536):
        ring = [write(i * size, size) for i in range(DEPTH)]
        for x in ring:
            init.transfer(x)
        for rnd in range(2):
            n, nxt, t0 = 0, 0, time.perf_counter()
            while True:
                for _ in range(256):
                    x = ring[nxt]
                    wait(x)
                    init.transfer(x)
                    nxt = (nxt + 1) % DEPTH
                n += 256
                t = time.perf_counter()
                if t - t0 >= SECONDS / 2:
                    break
            if rnd == 1:
                print(f"py_inflight\t{size}\t{n / (t - t0):.0f}\ttransfers/s", flush=True)
        for x in ring:
            wait(x)
            init.release_xfer_handle(x)
    os._exit(0)  # agents are left to process exit, as in the C program


if __name__ == "__main__":
    main()
