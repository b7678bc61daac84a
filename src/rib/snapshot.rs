//! What the RIB thread publishes for readers (API, CLI, metrics) through `arc-swap`.
//! Counts are published after every applied batch (cheap); the route list only when a
//! reader asked (`ToRib::PublishRoutes`), so an idle API costs the RIB thread nothing.

use crate::msg::PeerId;
use crate::wire::{AnyPrefix, Family, PathAttrs};
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct RibSnapshot {
    /// Bumped on every publish.
    pub generation: u64,
    pub families: Vec<FamilyCounts>,
    pub peers: Vec<PeerCounts>,
    /// Present when a reader asked; `routes_generation` says how fresh it is.
    pub routes: Option<Arc<Vec<RouteView>>>,
    pub routes_generation: u64,
    /// Work waiting in the RIB inbox when this was published.
    pub queue_depth: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyCounts {
    pub family: Family,
    pub prefixes: usize,
    pub paths: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerCounts {
    pub peer: PeerId,
    /// (family, received, accepted, advertised)
    pub per_family: Vec<(Family, u64, u64, u64)>,
}

#[derive(Clone, Debug)]
pub struct RouteView {
    pub prefix: AnyPrefix,
    /// Best first.
    pub paths: Vec<PathView>,
}

#[derive(Clone, Debug)]
pub struct PathView {
    pub peer: PeerId,
    pub peer_address: IpAddr,
    pub best: bool,
    pub attrs: Arc<PathAttrs>,
    /// The path's own NLRI fields, in a family that has them (`wire::Nlri::PATH_DATA`),
    /// as stored (`wire::stored::path_data`): a VPN path's label, an EVPN path's
    /// `wire::evpn_nlri` bytes.
    pub path_data: Option<Box<[u8]>>,
}
