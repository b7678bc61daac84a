//! The bench's layout, shared by the load (`load`) and the reflectors it drives (`daemons`):
//! the workload, the AS everyone is in, the reflector's identity and the addresses the
//! sessions come from. Plain data: nothing here starts a process or opens a socket.

use std::net::Ipv4Addr;

/// The reflector's router id, also its cluster id in every daemon's configuration.
pub const ROUTER_ID: &str = "10.255.0.1";

/// Every session's AS: the reflector and all its neighbors are one iBGP AS.
pub const ASN: u32 = 65000;

/// The workload: sizes are flags so small and full runs share the code.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub speakers: u32,
    /// Prefixes per speaker (unique) or in the one shared table (contested).
    pub prefixes: u32,
    pub sinks: u32,
    /// Every speaker announces the same table; speaker 0 has LOCAL_PREF 200, the others
    /// 100, so every sink must end with speaker 0's next hop on every prefix.
    pub contested: bool,
    /// After convergence every speaker withdraws everything; sinks wait for an empty table.
    pub withdraw: bool,
    /// Distinct attribute sets per speaker (0: one per run of prefixes).
    pub attr_sets: u32,
    /// Every session is a client that both announces its own `prefixes` and sinks
    /// everyone else's (scenario D); `speakers` must equal `sinks`.
    pub mesh: bool,
    /// After convergence speaker 0 re-announces this many of its prefixes one at a time
    /// (each with a new MED), `churn_rate` per second; sinks time each change (scenario E).
    pub churn: u32,
    pub churn_rate: u32,
    /// VPN-IPv4 instead of IPv4 unicast, the table's runs spread over this many customers
    /// (each an RD, a route target and a label: `table::vpn`).
    pub vpn: Option<u32>,
    /// EVPN instead of IPv4 unicast: MAC/IP advertisement and IP prefix routes, the table's
    /// runs spread over this many customers (EVIs: an RD, a route target and a label each,
    /// `table::evpn`).
    pub evpn: Option<u32>,
    /// RT-Constraint (RFC 4684) at the sinks: each negotiates it, announces membership of
    /// this many of the customers' route targets (`table::vpn::targets_of`) and End-of-RIB,
    /// and must get exactly those targets' routes. None: sinks do not negotiate it and get
    /// every route.
    pub member_of: Option<u32>,
}

impl Scenario {
    /// The family every session carries.
    pub fn family(&self) -> reflectd::wire::Family {
        match (self.vpn, self.evpn) {
            (Some(_), _) => reflectd::wire::Family::Ipv4Vpn,
            (None, Some(_)) => reflectd::wire::Family::L2vpnEvpn,
            (None, None) => reflectd::wire::Family::Ipv4Unicast,
        }
    }

    /// How many customers the table is spread over (VPN or EVPN workload).
    pub fn customers(&self) -> Option<u32> {
        self.vpn.or(self.evpn)
    }

    /// The families a sink's session carries: [`Scenario::family`], and RT-Constraint
    /// when the sinks announce membership.
    pub fn sink_families(&self) -> reflectd::wire::FamilySet {
        let set = reflectd::wire::FamilySet::EMPTY.with(self.family());
        match self.member_of {
            Some(_) => set.with(reflectd::wire::Family::RtConstraint),
            None => set,
        }
    }

    /// Route targets a sink is a member of (customer numbers, `table::vpn`), when the sinks
    /// use RT-Constraint.
    pub fn targets_of(&self, sink: u32) -> Option<Vec<u32>> {
        Some(crate::table::vpn::targets_of(
            sink,
            self.vpn?,
            self.member_of?,
        ))
    }
}

/// Sessions of one kind: each has its own address in a /16 of 127.0.0.0/8.
pub const MAX_SESSIONS: u32 = 65_000;

/// Speaker i's address, 127.1.0.1 onwards (every 127/8 address is local on Linux).
pub fn speaker_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)) + i)
}

/// Sink i's address, 127.2.0.1 onwards.
pub fn sink_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 2, 0, 1)) + i)
}
