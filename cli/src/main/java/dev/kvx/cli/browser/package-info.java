/**
 * A headless Chromium driven over the Chrome DevTools Protocol (a {@code java.net.http.WebSocket} on
 * loopback): loads a page, waits for it to say it is ready, takes a screenshot and collects console
 * errors. The soak uses it for {@code report.png}; the report's browser test uses it to check the charts.
 */
package dev.kvx.cli.browser;
