/**
 * "Hosts" on one machine for multi-host runs and tests: Linux network namespaces cabled to a bridge
 * in a namespace of its own ({@link dev.kvx.cli.hosts.NetnsHosts}), faults on their links (cut,
 * loss, delay, partition, host kill), and a real etcd server inside one of them
 * ({@link dev.kvx.cli.hosts.EtcdProcess}) for NIXL's central metadata store.
 */
package dev.kvx.cli.hosts;
