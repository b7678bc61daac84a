//! What a worker publishes about its peers for readers (API, CLI): one `arc-swap`ed list per
//! worker, replaced on state changes and on the worker's tick. Readers never lock.

use crate::msg::PeerId;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

#[derive(Clone, Debug, Serialize)]
pub struct NeighborStatus {
    pub peer: PeerId,
    pub address: IpAddr,
    pub asn: u32,
    pub description: Option<String>,
    pub rr_client: bool,
    /// RFC 4271 state name (Idle, Connect, Active, OpenSent, OpenConfirm, Established).
    pub state: &'static str,
    /// Seconds since the session reached Established (or since it went down).
    pub state_seconds: u64,
    pub remote_id: Option<Ipv4Addr>,
    /// Negotiated families once Established.
    pub families: Vec<&'static str>,
    pub hold_time: Option<u16>,
    pub established_transitions: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub updates_received: u64,
    pub updates_sent: u64,
    /// Why the last session ended (or the last connection attempt failed).
    pub last_error: Option<String>,
}
