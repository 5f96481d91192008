/** The {@code kvx} command line: {@code doctor}, {@code demo} and {@code soak}, on picocli. */
package dev.kvx.cli;
