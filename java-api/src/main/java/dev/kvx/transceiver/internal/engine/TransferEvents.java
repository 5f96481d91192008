package dev.kvx.transceiver.internal.engine;

import dev.kvx.transceiver.TransferOutcome;
import dev.kvx.transceiver.TransferPhase;

/** Commits the JFR event {@code dev.kvx.Transfer} of a finished request (nothing when no recording is on). */
final class TransferEvents {
    private TransferEvents() {}

    static void commit(RequestTask t, TransferOutcome.Status status, TransferPhase phase, long latency, int quarantined, long now) {
        TransferEvent event = new TransferEvent();
        if (!event.shouldCommit()) {
            return;
        }
        event.requestId = t.id;
        event.side = t.side();
        event.peer = t.peerName;
        event.bytes = t.bytes;
        event.outcome = status.name();
        event.phase = phase.name();
        event.latency = latency;
        long[] spent = t.phaseNanos.clone();
        spent[t.phase.ordinal()] += now - t.phaseSinceNanos;
        event.queued = spent[TransferPhase.SUBMITTED.ordinal()];
        event.waitingForRequestInfo = spent[TransferPhase.WAITING_FOR_REQUEST_INFO.ordinal()];
        event.waitingForBuffer = spent[TransferPhase.WAITING_FOR_BUFFER.ordinal()];
        event.dataInFlight = spent[TransferPhase.DATA_IN_FLIGHT.ordinal()];
        event.waitingForData = spent[TransferPhase.WAITING_FOR_DATA.ordinal()];
        event.quarantinedBlocks = quarantined;
        event.commit();
    }
}
