//! Every metric name, in one place, with its type and HELP text (Prometheus conventions:
//! `_total` for counters, base units in the name, `_info` gauges always 1, snake_case
//! labels). Names are a contract: add, never rename.
//!
//! Two kinds of family, never both for one name (a page must not show a family twice):
//! - Process-wide counters, gauges and the histogram go through the `metrics` facade into
//!   the recorder (`control::exporter`), which never forgets a series: counters live as long
//!   as the process.
//! - Per-neighbor series, RIB counts per family, build and process information are written
//!   at scrape time from the published snapshots (`control::gauges`, `control::exporter`),
//!   so they are exactly the configured neighbors' current values. Workers keep plain
//!   counters and publish them with their status on a tick: nothing atomic per message.

use std::fmt::Write;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

#[derive(Copy, Clone, Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// Declares each name as a constant (its doc comment says type and labels) and lists them all
/// in [`FAMILIES`] with their HELP text.
macro_rules! families {
    ($($(#[$doc:meta])* $id:ident: $kind:ident = $name:literal, $help:literal;)*) => {
        $($(#[$doc])* pub const $id: &str = $name;)*
        /// Every family this process exposes, for `# HELP` and `# TYPE`.
        pub const FAMILIES: &[Family] = &[$(Family { name: $name, kind: Kind::$kind, help: $help }),*];
    };
}

families! {
    // Per neighbor, written at scrape time for the configured neighbors only.
    /// Gauge, labels `neighbor`, `remote_as`, `description`, `rr_client`: always 1.
    NEIGHBOR_INFO: Gauge = "reflectd_neighbor_info",
        "Configured neighbor (always 1); labels carry its AS, description and client flag.";
    /// Gauge, labels `neighbor`: RFC 4271 FSM state, 1 Idle .. 6 Established (BGP4-MIB
    /// bgpPeerState numbering).
    NEIGHBOR_STATE: Gauge = "reflectd_neighbor_session_state",
        "BGP session state, BGP4-MIB numbering: 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established.";
    /// Gauge, labels `neighbor`, `state` (idle, connect, active, opensent, openconfirm,
    /// established): a stateset, 1 for the current state and 0 for the others.
    NEIGHBOR_STATE_SET: Gauge = "reflectd_neighbor_state",
        "BGP session state as a stateset: 1 for the current state, 0 for the others.";
    /// Counter, labels `neighbor`.
    NEIGHBOR_ESTABLISHED: Counter = "reflectd_neighbor_established_transitions_total",
        "Times the session reached Established.";
    /// Gauge, labels `neighbor`: seconds in Established (0 when down).
    NEIGHBOR_UPTIME: Gauge = "reflectd_neighbor_uptime_seconds",
        "Seconds since the session reached Established; 0 when it is not established.";
    /// Counters, labels `neighbor`, `type` (open, update, notification, keepalive, route_refresh).
    NEIGHBOR_MESSAGES_IN: Counter = "reflectd_neighbor_messages_received_total",
        "BGP messages received, by type.";
    NEIGHBOR_MESSAGES_OUT: Counter = "reflectd_neighbor_messages_sent_total",
        "BGP messages sent, by type.";
    /// Counters, labels `neighbor`.
    NEIGHBOR_UPDATES_IN: Counter = "reflectd_neighbor_updates_received_total",
        "UPDATE messages received.";
    NEIGHBOR_UPDATES_OUT: Counter = "reflectd_neighbor_updates_sent_total",
        "UPDATE messages sent.";
    NEIGHBOR_BYTES_IN: Counter = "reflectd_neighbor_received_bytes_total",
        "Bytes of BGP messages received.";
    NEIGHBOR_BYTES_OUT: Counter = "reflectd_neighbor_sent_bytes_total",
        "Bytes of BGP messages sent.";
    /// Counters, labels `neighbor`, `code`, `subcode`.
    NEIGHBOR_NOTIFICATIONS_OUT: Counter = "reflectd_neighbor_notifications_sent_total",
        "NOTIFICATION messages sent, by error code and subcode.";
    NEIGHBOR_NOTIFICATIONS_IN: Counter = "reflectd_neighbor_notifications_received_total",
        "NOTIFICATION messages received, by error code and subcode.";
    /// Counter, labels `neighbor`, `action` (treat_as_withdraw, attribute_discard).
    NEIGHBOR_ATTR_ERRORS: Counter = "reflectd_neighbor_update_errors_total",
        "Malformed UPDATEs handled per RFC 7606, by action taken.";
    /// Gauges, labels `neighbor`, `family`: 0 for a configured family while the session is
    /// down.
    NEIGHBOR_PREFIXES_RECEIVED: Gauge = "reflectd_neighbor_prefixes_received",
        "Prefixes held from the neighbor (Adj-RIB-In), by address family.";
    NEIGHBOR_PREFIXES_ACCEPTED: Gauge = "reflectd_neighbor_prefixes_accepted",
        "Prefixes from the neighbor accepted into the Loc-RIB (not looped), by address family.";
    NEIGHBOR_PREFIXES_ADVERTISED: Gauge = "reflectd_neighbor_prefixes_advertised",
        "Prefixes advertised to the neighbor, by address family.";
    /// Gauge, labels `neighbor`: bytes in the worker's write queue for the peer's sockets.
    NEIGHBOR_OUTPUT_QUEUE_BYTES: Gauge = "reflectd_neighbor_output_queue_bytes",
        "Bytes queued for the neighbor and not yet accepted by its socket.";
    /// Gauges, labels `family`.
    RIB_PREFIXES: Gauge = "reflectd_rib_prefixes",
        "Prefixes in the Loc-RIB, by address family.";
    RIB_PATHS: Gauge = "reflectd_rib_paths",
        "Paths in the RIB, by address family.";
    /// Gauge, labels `version`, `rustc`: always 1.
    BUILD_INFO: Gauge = "reflectd_build_info",
        "Build information (always 1): version and compiler.";

    // Process-wide, through the recorder.
    /// Gauge: messages waiting in the RIB thread's inbox.
    RIB_QUEUE_DEPTH: Gauge = "reflectd_rib_queue_depth",
        "Messages waiting in the RIB thread's inbox after its last batch.";
    /// Histogram: seconds the RIB thread spent applying one inbox message and its output.
    RIB_BATCH_SECONDS: Histogram = "reflectd_rib_batch_duration_seconds",
        "Seconds the RIB thread spent applying one batch of inbox messages and its output.";
    /// Counter: sessions lost with Graceful Restart whose routes were kept stale (RFC 4724).
    GR_RESTARTS: Counter = "reflectd_graceful_restarts_total",
        "Sessions lost with Graceful Restart whose routes were kept as stale (RFC 4724).";
    /// Counter, labels `reason` (end_of_rib, stale_timer, restart_timer, not_preserved,
    /// consecutive_restart: the session was lost again before End-of-RIB): stale routes
    /// withdrawn.
    GR_STALE_SWEPT: Counter = "reflectd_graceful_restart_stale_routes_swept_total",
        "Stale routes withdrawn after a graceful restart, by reason.";
    /// Gauge: routes currently kept as stale for restarting peers.
    RIB_STALE_ROUTES: Gauge = "reflectd_rib_stale_routes",
        "Routes currently kept as stale for restarting peers.";
    /// Counter, labels `reason`: unknown_source; ttl_security (GTSM: opened from further than
    /// one hop); md5_setup (the key could not be set on the accepted socket).
    CONNECTIONS_REJECTED: Counter = "reflectd_connections_rejected_total",
        "Inbound connections closed before a byte was read, by reason.";
    /// Counter: GTSM neighbors' connections admitted with no SYN saved to check (SYN cookies,
    /// so a SYN flood is likely on); only the minimum TTL set after accept guards them.
    GTSM_SYN_NOT_SAVED: Counter = "reflectd_connections_gtsm_syn_not_saved_total",
        "GTSM neighbors' connections admitted without a saved SYN to check (SYN cookies in use).";
    /// Gauge: 1 when the last config load (start or SIGHUP) applied the whole file, 0 when
    /// it failed (the running config stays) or a neighbor in it could not be started.
    CONFIG_RELOAD_SUCCESS: Gauge = "reflectd_config_last_reload_success",
        "Whether the last config load (start or SIGHUP) applied the whole file (1) or not (0).";
    /// Gauge: Unix time of the last config load that applied the whole file.
    CONFIG_RELOAD_SUCCESS_TIME: Gauge = "reflectd_config_last_reload_success_timestamp_seconds",
        "Unix time of the last config load that applied the whole file.";
    /// Counter, labels `result` (success, failure): SIGHUP reloads.
    CONFIG_RELOADS: Counter = "reflectd_config_reloads_total",
        "Config reloads on SIGHUP, by result.";

    // Process, written at scrape time under the names Prometheus client libraries use.
    /// Counter: user and system CPU seconds.
    PROCESS_CPU: Counter = "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.";
    /// Gauge: resident set size.
    PROCESS_RESIDENT: Gauge = "process_resident_memory_bytes",
        "Resident memory size in bytes.";
    /// Gauge: virtual memory size.
    PROCESS_VIRTUAL: Gauge = "process_virtual_memory_bytes",
        "Virtual memory size in bytes.";
    /// Gauge: open file descriptors.
    PROCESS_OPEN_FDS: Gauge = "process_open_fds",
        "Number of open file descriptors.";
    /// Gauge: the soft limit on open file descriptors.
    PROCESS_MAX_FDS: Gauge = "process_max_fds",
        "Maximum number of open file descriptors.";
    /// Gauge: Unix time the process started.
    PROCESS_START_TIME: Gauge = "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.";
}

pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// Gives the recorder the HELP text of the families it holds (it writes `# TYPE` itself).
pub fn describe_recorded() {
    for f in FAMILIES {
        match f.kind {
            Kind::Counter => metrics::describe_counter!(f.name, f.help),
            Kind::Gauge => metrics::describe_gauge!(f.name, f.help),
            Kind::Histogram => metrics::describe_histogram!(f.name, f.help),
        }
    }
}

/// A sample value: counters stay exact integers, gauges may be fractional.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Float(v)
    }
}

/// A page in the Prometheus text format (version 0.0.4) for the families written at scrape
/// time. Each family's samples must be written together: its `# HELP` and `# TYPE` lines go
/// before its first sample.
#[derive(Default)]
pub struct Page {
    pub text: String,
    written: Vec<&'static str>,
}

impl Page {
    /// One sample of a family declared in [`FAMILIES`] (an undeclared name is a bug: it is
    /// skipped in release builds).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Into<Value>) {
        let Some(f) = family(name) else {
            debug_assert!(false, "metric {name} is not declared in FAMILIES");
            return;
        };
        if self.written.last() != Some(&f.name) {
            debug_assert!(
                !self.written.contains(&f.name),
                "samples of {name} are not written together"
            );
            self.written.push(f.name);
            let _ = writeln!(self.text, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(self.text, "# TYPE {} {}", f.name, f.kind.name());
        }
        self.text.push_str(f.name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(k);
                self.text.push_str("=\"");
                escape_label(&mut self.text, v);
                self.text.push('"');
            }
            self.text.push('}');
        }
        self.text.push(' ');
        match value.into() {
            Value::Int(v) => {
                let _ = write!(self.text, "{v}");
            }
            Value::Float(v) if v.is_nan() => self.text.push_str("NaN"),
            Value::Float(v) if v.is_infinite() => {
                self.text.push_str(if v > 0.0 { "+Inf" } else { "-Inf" })
            }
            Value::Float(v) => {
                let _ = write!(self.text, "{v}");
            }
        }
        self.text.push('\n');
    }
}

/// Label values escape backslash, double quote and line feed (the text format's rules).
fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_snake_case_and_counters_and_only_counters_end_in_total() {
        for f in FAMILIES {
            assert!(
                f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                f.name
            );
            assert_eq!(
                f.kind == Kind::Counter,
                f.name.ends_with("_total"),
                "{}",
                f.name
            );
            assert!(!f.help.is_empty() && !f.help.contains('\n'), "{}", f.name);
        }
        let mut names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len(), "a name is declared twice");
    }

    #[test]
    fn a_page_writes_help_and_type_once_per_family_and_escapes_label_values() {
        let mut p = Page::default();
        p.sample(NEIGHBOR_STATE, &[("neighbor", "192.0.2.1")], 6u64);
        p.sample(NEIGHBOR_STATE, &[("neighbor", "2001:db8::1")], 1u64);
        p.sample(
            NEIGHBOR_INFO,
            &[("neighbor", "192.0.2.1"), ("description", "a \"b\"\\c\nd")],
            1u64,
        );
        p.sample(NEIGHBOR_UPTIME, &[], 1.5);
        p.sample(RIB_PATHS, &[], f64::INFINITY);
        let want = "\
# HELP reflectd_neighbor_session_state BGP session state, BGP4-MIB numbering: 1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established.
# TYPE reflectd_neighbor_session_state gauge
reflectd_neighbor_session_state{neighbor=\"192.0.2.1\"} 6
reflectd_neighbor_session_state{neighbor=\"2001:db8::1\"} 1
# HELP reflectd_neighbor_info Configured neighbor (always 1); labels carry its AS, description and client flag.
# TYPE reflectd_neighbor_info gauge
reflectd_neighbor_info{neighbor=\"192.0.2.1\",description=\"a \\\"b\\\"\\\\c\\nd\"} 1
# HELP reflectd_neighbor_uptime_seconds Seconds since the session reached Established; 0 when it is not established.
# TYPE reflectd_neighbor_uptime_seconds gauge
reflectd_neighbor_uptime_seconds 1.5
# HELP reflectd_rib_paths Paths in the RIB, by address family.
# TYPE reflectd_rib_paths gauge
reflectd_rib_paths +Inf
";
        assert_eq!(p.text, want);
    }
}
