//! Decoded BGP messages (RFC 4271 §4) and the session parameters that shape their encoding.

use super::evpn::{EvpnKey, PathData};
use super::types::*;
use super::vpn::{Labeled, Vpn4, Vpn6};
use std::net::Ipv4Addr;

pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4.1.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// RFC 8654, once both sides advertised the Extended Message capability.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// AS_TRANS (RFC 6793): stands in for a 4-octet AS toward a 2-octet speaker.
pub const AS_TRANS: u16 = 23456;

pub const MSG_OPEN: u8 = 1;
pub const MSG_UPDATE: u8 = 2;
pub const MSG_NOTIFICATION: u8 = 3;
pub const MSG_KEEPALIVE: u8 = 4;
pub const MSG_ROUTE_REFRESH: u8 = 5;

/// The message types (RFC 4271 §4.1, RFC 2918 §3): the header's Type octet, checked. Also
/// the index of per-type tables (`MessageType::index`), such as a peer's message counters.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open = MSG_OPEN as isize,
    Update = MSG_UPDATE as isize,
    Notification = MSG_NOTIFICATION as isize,
    Keepalive = MSG_KEEPALIVE as isize,
    RouteRefresh = MSG_ROUTE_REFRESH as isize,
}

impl MessageType {
    /// Every type, in Type-octet order (the order of `index`).
    pub const ALL: [MessageType; 5] = [
        MessageType::Open,
        MessageType::Update,
        MessageType::Notification,
        MessageType::Keepalive,
        MessageType::RouteRefresh,
    ];

    /// The type a header's Type octet names; None for one no RFC we speak defines.
    pub fn from_u8(t: u8) -> Option<MessageType> {
        Self::ALL.get(usize::from(t).checked_sub(1)?).copied()
    }

    /// 0 for OPEN up to 4 for ROUTE-REFRESH: a slot in a `[T; 5]` kept per type.
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Lower-case name, as metrics label it.
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Open => "open",
            MessageType::Update => "update",
            MessageType::Notification => "notification",
            MessageType::Keepalive => "keepalive",
            MessageType::RouteRefresh => "route_refresh",
        }
    }
}

/// What the OPEN exchange fixed for one session and that changes how bytes are encoded or
/// decoded. The FSM produces it; the codec never asks the FSM anything else.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct CodecCtx {
    /// Both sides sent the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Both sides sent the Extended Message capability (RFC 8654): messages up to 65535.
    pub extended_message: bool,
    /// Families in which we receive / send ADD-PATH path identifiers (RFC 7911).
    pub add_path_rx: FamilySet,
    pub add_path_tx: FamilySet,
    /// IPv4 families whose routes may have an IPv6 next hop toward this peer (RFC 8950:
    /// both sides sent the Extended Next Hop capability for them). A route with an IPv6
    /// next hop in another IPv4 family cannot be sent to the peer.
    pub extended_next_hop: FamilySet,
}

impl Default for CodecCtx {
    /// Before OPEN is exchanged: 2-octet AS, 4096-byte messages, no ADD-PATH.
    fn default() -> Self {
        CodecCtx {
            four_octet_as: false,
            extended_message: false,
            add_path_rx: FamilySet::EMPTY,
            add_path_tx: FamilySet::EMPTY,
            extended_next_hop: FamilySet::EMPTY,
        }
    }
}

impl CodecCtx {
    /// Routes of `family` with an IPv6 next hop may be sent: always in an IPv6 family, in
    /// an IPv4 one only where RFC 8950 was agreed (`extended_next_hop`).
    pub fn takes_v6_next_hop(&self, family: Family) -> bool {
        family.afi_safi().0 != AFI_IPV4 || self.extended_next_hop.contains(family)
    }

    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    pub version: u8,
    /// The 2-octet "My Autonomous System" field (AS_TRANS when the real AS needs 4 octets).
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// The speaker's AS: the 4-octet capability's value if present, else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(self.my_as as u32)
    }
}

/// ADD-PATH direction per family (RFC 7911 §4).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AddPathMode {
    Receive = 1,
    Send = 2,
    Both = 3,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestart {
    pub restart_state: bool,
    pub notification: bool,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    /// (AFI, SAFI, forwarding-state-preserved).
    pub families: Vec<(u16, u8, bool)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// RFC 4760; (AFI, SAFI) raw so unknown families are still visible.
    Multiprotocol {
        afi: u16,
        safi: u8,
    },
    /// RFC 2918 (code 2).
    RouteRefresh,
    /// RFC 8950 (code 5): (NLRI AFI, NLRI SAFI, next-hop AFI) triples; SAFI is 2 octets here.
    ExtendedNextHop(Vec<(u16, u16, u16)>),
    /// RFC 8654 (code 6).
    ExtendedMessage,
    /// RFC 4724 (code 64).
    GracefulRestart(GracefulRestart),
    /// RFC 6793 (code 65).
    FourOctetAs(u32),
    /// RFC 7911 (code 69).
    AddPath(Vec<(u16, u8, AddPathMode)>),
    /// RFC 7313 (code 70).
    EnhancedRouteRefresh,
    Unknown {
        code: u8,
        data: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

pub mod notif {
    //! NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 7313, RFC 9234).
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM_ERROR: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE: u8 = 7;

    // Message Header Error subcodes.
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;

    // OPEN Message Error subcodes.
    pub const UNSUPPORTED_VERSION: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;

    // UPDATE Message Error subcodes.
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
    pub const MISSING_WELL_KNOWN: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN: u8 = 6;
    pub const INVALID_NEXT_HOP: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;

    // FSM Error subcodes (RFC 6608).
    pub const FSM_UNEXPECTED_IN_OPENSENT: u8 = 1;
    pub const FSM_UNEXPECTED_IN_OPENCONFIRM: u8 = 2;
    pub const FSM_UNEXPECTED_IN_ESTABLISHED: u8 = 3;

    // Cease subcodes (RFC 4486, RFC 8203).
    pub const CEASE_MAX_PREFIXES: u8 = 1;
    pub const CEASE_ADMIN_SHUTDOWN: u8 = 2;
    pub const CEASE_PEER_DECONFIGURED: u8 = 3;
    pub const CEASE_ADMIN_RESET: u8 = 4;
    pub const CEASE_CONNECTION_REJECTED: u8 = 5;
    pub const CEASE_OTHER_CONFIG_CHANGE: u8 = 6;
    pub const CEASE_COLLISION_RESOLUTION: u8 = 7;
    pub const CEASE_OUT_OF_RESOURCES: u8 = 8;

    // ROUTE-REFRESH Message Error subcodes (RFC 7313).
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: u16,
    pub safi: u8,
    /// RFC 7313: 0 normal request, 1 BoRR, 2 EoRR.
    pub subtype: u8,
}

/// NLRI of one family, as carried in MP_REACH / MP_UNREACH. The variant is the family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NlriSet {
    Ipv4Unicast(Vec<Prefix4>),
    Ipv6Unicast(Vec<Prefix6>),
    Ipv4Vpn(Labeled<Vpn4>),
    Ipv6Vpn(Labeled<Vpn6>),
    Evpn(Labeled<EvpnKey, PathData>),
    RtConstraint(Vec<super::rtc::RtcNlri>),
    /// A family we parse the header of but do not carry yet; its NLRI bytes are skipped.
    Other {
        afi: u16,
        safi: u8,
    },
}

impl NlriSet {
    pub fn family(&self) -> Option<Family> {
        match self {
            NlriSet::Ipv4Unicast(_) => Some(Family::Ipv4Unicast),
            NlriSet::Ipv6Unicast(_) => Some(Family::Ipv6Unicast),
            NlriSet::Ipv4Vpn(_) => Some(Family::Ipv4Vpn),
            NlriSet::Ipv6Vpn(_) => Some(Family::Ipv6Vpn),
            NlriSet::Evpn(_) => Some(Family::L2vpnEvpn),
            NlriSet::RtConstraint(_) => Some(Family::RtConstraint),
            NlriSet::Other { afi, safi } => Family::from_afi_safi(*afi, *safi),
        }
    }
    pub fn is_empty(&self) -> bool {
        match self {
            NlriSet::Ipv4Unicast(v) => v.is_empty(),
            NlriSet::Ipv6Unicast(v) => v.is_empty(),
            NlriSet::Ipv4Vpn(v) => v.is_empty(),
            NlriSet::Ipv6Vpn(v) => v.is_empty(),
            NlriSet::Evpn(v) => v.is_empty(),
            NlriSet::RtConstraint(v) => v.is_empty(),
            NlriSet::Other { .. } => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpReach {
    pub next_hop: NextHop,
    pub nlri: NlriSet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpUnreach {
    pub nlri: NlriSet,
}

/// What RFC 7606 says to do about one bad attribute.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrAction {
    /// RFC 7606 §2 "treat-as-withdraw": every NLRI in the UPDATE is withdrawn.
    TreatAsWithdraw,
    /// RFC 7606 §2 "attribute discard": the attribute is dropped, the routes kept.
    Discard,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrError {
    pub code: u8,
    pub action: AttrAction,
    pub reason: &'static str,
}

/// A decoded UPDATE. Errors that RFC 7606 resolves without a session reset are reported in
/// `attr_errors`; if any of them is treat-as-withdraw, `treat_as_withdraw` is set and the
/// receiver must withdraw every prefix in `nlri` and `mp_reach` instead of installing it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Update {
    pub withdrawn: Vec<Prefix4>,
    /// None when the UPDATE carried no path attributes at all. `next_hop` holds the
    /// NEXT_HOP attribute (`NextHop::V4`) if present; MP_REACH's next hop is in `mp_reach`.
    pub attrs: Option<PathAttrs>,
    pub nlri: Vec<Prefix4>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub treat_as_withdraw: bool,
    pub attr_errors: Vec<AttrError>,
}

impl Update {
    /// The family this UPDATE marks End-of-RIB for (RFC 4724 §2): an empty UPDATE for IPv4
    /// unicast, or one holding only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || self.mp_reach.is_some() {
            return None;
        }
        match (&self.attrs, &self.mp_unreach) {
            (None, None) => Some(Family::Ipv4Unicast),
            (_, Some(u)) if u.nlri.is_empty() => u.nlri.family(),
            _ => None,
        }
    }
}
