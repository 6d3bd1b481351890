//! The configuration files of the throwaway HA cluster: etcd's command line and each member's
//! `patroni.yml`.

use std::path::Path;

/// Failover timing: the leader key lives `TTL` seconds unless renewed; Patroni's loop runs every
/// `LOOP_WAIT` seconds; a DCS or PostgreSQL call is retried for `RETRY_TIMEOUT` seconds. Patroni
/// wants `loop_wait + 2 * retry_timeout <= ttl`. A failover after a crash of the primary takes
/// about `TTL` seconds (the dead leader's key must expire) plus one loop.
pub const TTL: u32 = 10;
/// See [`TTL`].
pub const LOOP_WAIT: u32 = 2;
/// See [`TTL`].
pub const RETRY_TIMEOUT: u32 = 3;

/// The ports one member listens on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    /// PostgreSQL's, on 127.0.0.1 (and the number in its unix socket's name).
    pub pg: u16,
    /// Patroni's REST API, on 127.0.0.1.
    pub api: u16,
}

/// `patroni.yml` of the member `name`, whose files live in `dir` (its data directory is
/// `dir/data`, its unix socket in `dir`).
///
/// Synchronous replication, strict: a commit returns once one standby has flushed it, Patroni
/// promotes only that standby after a crash of the primary, and with no standby left the
/// primary stops accepting commits rather than taking them unreplicated. So an acknowledged
/// commit survives the loss of any one member. `synchronous_node_count: 1` with three members
/// leaves a spare: when the synchronous standby fails (or is promoted), the other one becomes
/// synchronous and writes go on.
pub(crate) fn patroni_yml(
    name: &str,
    dir: &Path,
    ports: Ports,
    etcd_client_port: u16,
    bindir: &Path,
) -> String {
    let dir = dir.display();
    let bindir = bindir.display();
    let Ports { pg, api } = ports;
    format!(
        r#"scope: botbox-test
namespace: /service/
name: {name}
log:
  level: INFO
restapi:
  listen: 127.0.0.1:{api}
  connect_address: 127.0.0.1:{api}
etcd3:
  hosts: 127.0.0.1:{etcd_client_port}
watchdog:
  mode: "off"
bootstrap:
  dcs:
    ttl: {TTL}
    loop_wait: {LOOP_WAIT}
    retry_timeout: {RETRY_TIMEOUT}
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    synchronous_mode_strict: true
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 64
        shared_buffers: 16MB
        fsync: "on"
        synchronous_commit: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 64MB
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {dir}/data
  bin_dir: {bindir}
  pgpass: {dir}/pgpass
  authentication:
    superuser:
      username: {user}
    replication:
      username: replicator
  parameters:
    unix_socket_directories: {dir}
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - local replication all trust
    - host replication all 127.0.0.1/32 trust
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
"#,
        user = crate::USER,
    )
}

/// etcd's arguments: one member, its data in `data_dir`, clients and peers on private ports of
/// 127.0.0.1.
pub(crate) fn etcd_args(data_dir: &Path, client_port: u16, peer_port: u16) -> Vec<String> {
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    vec![
        "--name=etcd0".into(),
        format!("--data-dir={}", data_dir.display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=etcd0={peer}"),
        "--initial-cluster-state=new".into(),
        "--initial-cluster-token=botbox-test".into(),
        // No metrics or pprof listeners beyond the client port.
        "--log-level=warn".into(),
    ]
}
