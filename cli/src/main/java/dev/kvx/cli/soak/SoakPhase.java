package dev.kvx.cli.soak;

/** The phases of a soak run, in order. */
enum SoakPhase { WARMUP, BURST, IDLE, PROBES }
