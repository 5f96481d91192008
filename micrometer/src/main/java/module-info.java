/**
 * kvx's optional Micrometer binding: {@link dev.kvx.micrometer.TransceiverMeterBinder} exports a
 * {@code CacheTransceiver}'s metrics to any Micrometer {@code MeterRegistry}. In a modular application:
 * {@code requires dev.kvx.micrometer;} (it brings {@code dev.kvx} and {@code micrometer.core} with it).
 */
@SuppressWarnings("requires-transitive-automatic") // micrometer.core: an automatic module with a stable Automatic-Module-Name
module dev.kvx.micrometer {
    requires transitive dev.kvx;
    requires transitive micrometer.core;

    exports dev.kvx.micrometer;
}
