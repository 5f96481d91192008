package dev.kvx.transceiver.internal.engine;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Timespan;

/**
 * A JDK Flight Recorder event per finished transfer ({@code dev.kvx.Transfer}): request id, side,
 * bytes, outcome, the phase it ended in, its latency, the time it spent in each phase and the blocks
 * it left in quarantine. Record
 * with {@code -XX:StartFlightRecording} or JFR streaming; it costs nothing when recording is off.
 */
@Name("dev.kvx.Transfer")
@Label("KV-cache transfer")
@Category({"kvx", "Transceiver"})
@Description("One request's KV-cache transfer, from submission to its outcome")
public final class TransferEvent extends Event {
    @Label("Request id")
    public long requestId;

    @Label("Side")
    @Description("context (sending) or generation (receiving)")
    public String side;

    @Label("Peer")
    public String peer;

    @Label("Bytes")
    @DataAmount
    public long bytes;

    @Label("Outcome")
    public String outcome;

    @Label("Phase")
    @Description("The phase the transfer ended in")
    public String phase;

    @Label("Latency")
    @Timespan(Timespan.NANOSECONDS)
    public long latency;

    @Label("Quarantined blocks")
    public int quarantinedBlocks;

    @Label("Queued")
    @Description("Submitted, not yet taken up by the engine")
    @Timespan(Timespan.NANOSECONDS)
    public long queued;

    @Label("Waiting for request info")
    @Timespan(Timespan.NANOSECONDS)
    public long waitingForRequestInfo;

    @Label("Waiting for a staging slot")
    @Timespan(Timespan.NANOSECONDS)
    public long waitingForBuffer;

    @Label("Data in flight")
    @Description("Context side: the NIXL WRITE posted until it ended")
    @Timespan(Timespan.NANOSECONDS)
    public long dataInFlight;

    @Label("Waiting for data")
    @Description("Generation side: request info sent until the blocks arrived")
    @Timespan(Timespan.NANOSECONDS)
    public long waitingForData;
}
