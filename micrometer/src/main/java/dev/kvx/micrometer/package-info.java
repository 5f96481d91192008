/**
 * Optional Micrometer binding of a {@link dev.kvx.transceiver.CacheTransceiver}'s metrics:
 * {@link dev.kvx.micrometer.TransceiverMeterBinder} registers counters, gauges and a function timer that
 * read the transceiver's own counters at scrape time.
 */
package dev.kvx.micrometer;
