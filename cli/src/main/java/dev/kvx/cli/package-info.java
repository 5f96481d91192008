/** The {@code kvx} command line: {@code doctor} and {@code demo}. */
package dev.kvx.cli;
