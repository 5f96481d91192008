package dev.kvx.transceiver;

/**
 * Which side moves the data. Both sides of a connection must use the same mode (the handshake refuses
 * a mismatch, naming it).
 */
public enum TransferMode {
    /**
     * The generation side announces its blocks; the context side WRITEs into them with a completion
     * notification (the reference transceiver's protocol).
     */
    PUSH,
    /**
     * The context side announces its blocks as soon as the request is submitted; the generation side
     * READs them with a one-sided READ (as vLLM's, Dynamo's and SGLang's connectors do) and the context
     * side is told when the READ ended.
     */
    PULL
}
