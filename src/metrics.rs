//! Every metric name, in one place (Prometheus conventions: `_total` for counters, base
//! units in the name). Workers keep plain per-peer counters and flush them here on a tick;
//! RIB gauges are set from the published snapshot, so nothing atomic runs per message.

/// Gauge, labels `neighbor`: RFC 4271 FSM state, 1 Idle .. 6 Established.
pub const NEIGHBOR_STATE: &str = "reflectd_neighbor_session_state";
/// Counter, labels `neighbor`.
pub const NEIGHBOR_ESTABLISHED: &str = "reflectd_neighbor_established_transitions_total";
/// Gauge, labels `neighbor`: seconds in Established (0 when down).
pub const NEIGHBOR_UPTIME: &str = "reflectd_neighbor_uptime_seconds";
/// Counters, labels `neighbor`, `type` (open, update, notification, keepalive, route_refresh).
pub const NEIGHBOR_MESSAGES_IN: &str = "reflectd_neighbor_messages_received_total";
pub const NEIGHBOR_MESSAGES_OUT: &str = "reflectd_neighbor_messages_sent_total";
/// Counters, labels `neighbor`.
pub const NEIGHBOR_UPDATES_IN: &str = "reflectd_neighbor_updates_received_total";
pub const NEIGHBOR_UPDATES_OUT: &str = "reflectd_neighbor_updates_sent_total";
pub const NEIGHBOR_BYTES_IN: &str = "reflectd_neighbor_received_bytes_total";
pub const NEIGHBOR_BYTES_OUT: &str = "reflectd_neighbor_sent_bytes_total";
/// Counters, labels `neighbor`, `code`, `subcode`.
pub const NEIGHBOR_NOTIFICATIONS_OUT: &str = "reflectd_neighbor_notifications_sent_total";
pub const NEIGHBOR_NOTIFICATIONS_IN: &str = "reflectd_neighbor_notifications_received_total";
/// Counter, labels `neighbor`, `action` (treat_as_withdraw, attribute_discard).
pub const NEIGHBOR_ATTR_ERRORS: &str = "reflectd_neighbor_update_errors_total";
/// Gauges, labels `neighbor`, `family`.
pub const NEIGHBOR_PREFIXES_RECEIVED: &str = "reflectd_neighbor_prefixes_received";
pub const NEIGHBOR_PREFIXES_ACCEPTED: &str = "reflectd_neighbor_prefixes_accepted";
pub const NEIGHBOR_PREFIXES_ADVERTISED: &str = "reflectd_neighbor_prefixes_advertised";
/// Gauges, labels `family`.
pub const RIB_PREFIXES: &str = "reflectd_rib_prefixes";
pub const RIB_PATHS: &str = "reflectd_rib_paths";
/// Gauge: messages waiting in the RIB thread's inbox.
pub const RIB_QUEUE_DEPTH: &str = "reflectd_rib_queue_depth";
/// Histogram: seconds the RIB thread spent applying one inbox message and its output.
pub const RIB_BATCH_SECONDS: &str = "reflectd_rib_batch_duration_seconds";
/// Counter: sessions lost with Graceful Restart whose routes were kept stale (RFC 4724).
pub const GR_RESTARTS: &str = "reflectd_graceful_restarts_total";
/// Counter, labels `reason` (end_of_rib, stale_timer, restart_timer, not_preserved,
/// consecutive_restart: the session was lost again before End-of-RIB): stale routes
/// withdrawn.
pub const GR_STALE_SWEPT: &str = "reflectd_graceful_restart_stale_routes_swept_total";
/// Gauge: routes currently kept as stale for restarting peers.
pub const RIB_STALE_ROUTES: &str = "reflectd_rib_stale_routes";
/// Counter, labels `reason`: unknown_source; ttl_security (GTSM: opened from further than
/// one hop); md5_setup (the key could not be set on the accepted socket).
pub const CONNECTIONS_REJECTED: &str = "reflectd_connections_rejected_total";
/// Counter: GTSM neighbors' connections admitted with no SYN saved to check (SYN cookies,
/// so a SYN flood is likely on); only the minimum TTL set after accept guards them.
pub const GTSM_SYN_NOT_SAVED: &str = "reflectd_connections_gtsm_syn_not_saved_total";
