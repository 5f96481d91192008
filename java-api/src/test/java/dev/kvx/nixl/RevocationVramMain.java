package dev.kvx.nixl;

import dev.kvx.cuda.Cuda;
import dev.kvx.cuda.CudaInfo;
import java.util.Map;

/**
 * The revocation experiments of {@link RevocationTest} with both buffers in GPU memory, writer and
 * target in two processes (UCX then uses {@code cuda_ipc}); prints one line per case and the UCX lanes.
 * For the GPU machine (ci/device-test.sh); it asserts nothing, because what it measures is what we do
 * not know yet.
 *
 * <p>Usage: {@code RevocationVramMain [memory] [ucxParams]}: memory {@code vram:N} (default {@code vram:0})
 * for both processes, {@code vram:0,vram:1} for the target on GPU 0 and the writer on GPU 1, or {@code dram};
 * ucxParams like {@code ucx_error_handling_mode=none}, default NIXL's. UCX settings ({@code UCX_TLS}, {@code UCX_LOG_LEVEL=info} for the lanes) come from the
 * environment, which both child JVMs inherit. Exit status 0 after all cases ran, 2 without a GPU.
 */
public final class RevocationVramMain {
    private RevocationVramMain() {}

    /** Runs every case once and prints the outcomes. */
    public static void main(String[] args) throws Exception {
        String memory = args.length > 0 ? args[0] : "vram:0";
        String params = args.length > 1 ? args[1] : "";
        if (memory.contains("vram")) {
            CudaInfo info = Cuda.probe();
            if (!info.available()) {
                System.out.println("REVOCATION skipped: no GPU (" + info.reason() + ")");
                System.exit(2);
            }
            for (String m : memory.split(",")) {
                int device = m.startsWith("vram:") ? Integer.parseInt(m.substring(5)) : 0;
                if (device >= info.deviceCount()) {
                    System.out.println("REVOCATION skipped: " + memory + " needs GPU " + device + ", this machine has "
                            + info.deviceCount());
                    System.exit(2);
                }
            }
        }
        RevocationCases.Setup s = new RevocationCases.Setup("main", memory, params, Map.of());
        String where = memory + (params.isEmpty() ? "" : " " + params) + (System.getenv("UCX_TLS") == null ? ""
                : " UCX_TLS=" + System.getenv("UCX_TLS"));
        System.out.println("REVOCATION " + where + " baseline: " + RevocationCases.baseline(s));
        System.out.println("REVOCATION " + where + " write after deregister: " + RevocationCases.writeAfterDeregister(s));
        RevocationCases.InFlightOutcome f = RevocationCases.deregisterDuringWrite(s);
        System.out.println("REVOCATION " + where + " deregister during 256 MiB write: post '" + f.post() + "', target '"
                + f.deregister() + "', then " + f.end());
        System.out.println("REVOCATION " + where + " write after target invalidated writer: "
                + RevocationCases.writeAfterTargetInvalidatesWriter(s));
        RevocationCases.KillOutcome k = RevocationCases.killWriterDuringWrite(s, 5_000);
        System.out.println("REVOCATION " + where + " writer SIGKILLed during 256 MiB write: target notice '" + k.notice()
                + "', landed " + k.landedAtNotice() + " B at notice, " + k.landedLater() + " B 0.5 s later (of " + k.bytes()
                + "), lanes " + k.lanes());
        RevocationCases.StopOutcome st = RevocationCases.stopWriterDuringWrite(s, 3_000);
        System.out.println("REVOCATION " + where + " writer SIGSTOPped during 256 MiB write: target notice '" + st.notice()
                + "', landed " + st.landedWhileStopped() + " B while stopped; after deregistration and SIGCONT " + st.end());
        System.exit(0);
    }
}
