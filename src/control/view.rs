//! The JSON documents of the API, shared by the server (serialize) and the CLI (deserialize
//! and print as tables). Field names are part of the API: add, don't rename.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NeighborView {
    pub address: String,
    pub asn: u32,
    pub description: Option<String>,
    pub rr_client: bool,
    pub state: String,
    /// Seconds in the current state.
    pub state_seconds: u64,
    pub remote_id: Option<String>,
    pub families: Vec<String>,
    pub hold_time: Option<u16>,
    pub established_transitions: u64,
    pub messages_received: u64,
    pub messages_sent: u64,
    pub updates_received: u64,
    pub updates_sent: u64,
    pub last_error: Option<String>,
    pub prefixes: Vec<FamilyPrefixes>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FamilyPrefixes {
    pub family: String,
    pub received: u64,
    pub accepted: u64,
    pub advertised: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RouteJson {
    /// A VPN route's is `RD:PREFIX`, as GoBGP shows it; `rd` and `ip_prefix` split it.
    pub prefix: String,
    #[serde(default)]
    pub family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_prefix: Option<String>,
    /// An EVPN route's key fields (RFC 7432 §7, RFC 9136 §3.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evpn: Option<EvpnKeyJson>,
    pub paths: Vec<PathJson>,
}

/// The fields of an EVPN route's key; those its type has not are absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct EvpnKeyJson {
    /// `ethernet-ad`, `mac-ip`, `inclusive-multicast`, `ethernet-segment`, `ip-prefix`, or
    /// the number of a type reflected as its bytes.
    pub route_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethernet_tag: Option<u32>,
    /// Types 1 and 4 (in their key); types 2 and 5 carry theirs per path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Type 2's IP address, types 3 and 4's originating router's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// An unknown type's value, hex (absent when only its hash is kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PathJson {
    pub best: bool,
    pub from: String,
    pub next_hop: String,
    pub as_path: String,
    pub origin: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub communities: Vec<String>,
    pub ext_communities: Vec<String>,
    pub large_communities: Vec<String>,
    pub originator_id: Option<String>,
    pub cluster_list: Vec<String>,
    /// The MPLS label of a VPN path (RFC 8277), its 20-bit value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<u32>,
    /// An EVPN path's label fields as sent, each its whole 24 bits (a VNI under VXLAN,
    /// the MPLS label shifted left by 4 under MPLS), as GoBGP shows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<u32>,
    /// An EVPN type 2 or 5 path's ESI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esi: Option<String>,
    /// An EVPN type 5 path's gateway IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SummaryJson {
    pub families: Vec<FamilySummary>,
    pub rib_queue_depth: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FamilySummary {
    pub family: String,
    pub prefixes: usize,
    pub paths: usize,
}
