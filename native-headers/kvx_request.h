/*
 * kvx_request.h — the fixed-layout native record of one KV-cache transfer request. Each Java
 * LlmRequest handle owns one in its own arena; the progress engine reads and writes it, and it dies
 * (with its block table) when both the serving code and the engine have released the request.
 * Not a C API of any library: only its layout is used (jextract generates the accessors).
 */
#ifndef KVX_REQUEST_H
#define KVX_REQUEST_H

#include <stdint.h>

typedef struct kvx_request {
    uint64_t request_id;      /* the serving code's id, unique per transceiver */
    uint32_t epoch;           /* attempt number; messages of older attempts are dropped */
    int32_t  state;           /* dev.kvx.transceiver.RequestState ordinal */
    int32_t  phase;           /* dev.kvx.transceiver.TransferPhase ordinal */
    int32_t  cancel_requested;/* set by any thread, acted on by the engine */
    int64_t  deadline_nanos;  /* System.nanoTime() at which the transfer times out */
    int64_t  created_nanos;
    int64_t  started_nanos;   /* transfer start (kvTransferTimeout counts from here) */
    int64_t  finished_nanos;
    int32_t  buffer_index;    /* leased staging slot, -1 if none */
    int32_t  error_code;      /* raw native status of a failure, 0 if none */
    int32_t  block_count;     /* valid entries in block_ids */
    int32_t  block_capacity;  /* length of the block_ids array that follows */
    int32_t  block_ids[];     /* KV block table (flexible array member) */
} kvx_request_t;

#endif /* KVX_REQUEST_H */
