//! The messages that cross threads (our "imsg"): workers -> RIB thread, RIB thread and
//! control -> workers. Batches, never one message per prefix.
//!
//! ```text
//!  listener ──Accepted──▶ worker k ──ToRib (Updates per read, PeerUp/Down)──▶ RIB thread
//!  control  ──Add/Remove/Shutdown──▶ worker k ◀──ToWorker::Send (Arc'd bytes), StopPeer── RIB
//! ```

mod prepared;

pub use prepared::{Prepared, Rank};

use crate::wire::evpn::{EvpnKey, PathData};
use crate::wire::{
    scan, stored, CodecCtx, Family, FamilySet, Label, Labeled, NlriSet, Notification, Prefix4,
    Prefix6, Update, Vpn4, Vpn6,
};
use bytes::Bytes;
use smallvec::SmallVec;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// A configured neighbor's slot. Assigned by control when the neighbor is added and never
/// reused for another neighbor while the process runs, so a stale message about a removed
/// peer can be recognised and dropped.
pub type PeerId = u32;

/// What the RIB needs to know about a session that reached Established.
#[derive(Clone, Debug)]
pub struct PeerUp {
    pub peer: PeerId,
    /// Index of the worker that owns the peer's socket.
    pub worker: usize,
    pub address: IpAddr,
    pub remote_asn: u32,
    /// The peer's BGP Identifier: the ORIGINATOR_ID we set on its routes (RFC 4456 §8).
    pub remote_id: Ipv4Addr,
    pub rr_client: bool,
    /// Families both sides advertised (Multiprotocol capability, or IPv4 unicast implied).
    pub families: FamilySet,
    /// Negotiated encoding for what we send to this peer.
    pub codec: CodecCtx,
    /// The peer may send ROUTE-REFRESH (we advertised it; it asked for it).
    pub route_refresh: bool,
    /// The neighbor's `max_prefixes`: the RIB holds at most this many of its prefixes
    /// (summed over families) and asks the worker to end the session beyond it.
    pub max_prefixes: Option<u64>,
    /// Both sides advertised Graceful Restart (RFC 4724): what the RIB, as the receiving
    /// speaker, does with this peer's routes when the session is lost. None: withdraw them.
    pub graceful_restart: Option<GracefulRestartPeer>,
}

/// A peer's Graceful Restart capability as the RIB applies it (RFC 4724 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartPeer {
    /// Negotiated families the peer listed: their routes are kept stale when the session is
    /// lost.
    pub families: FamilySet,
    /// Of those, the ones with the Forwarding State bit set. When the peer comes back, a
    /// family's stale routes are kept only if it is listed here in the new capability.
    pub forwarding: FamilySet,
    /// How long a lost peer's routes are kept: its Restart Time, capped by our
    /// `graceful_restart_time`. Zero keeps nothing.
    pub restart_time: Duration,
    /// How long a peer that came back has to send End-of-RIB (`graceful_restart_stale_time`).
    pub stale_time: Duration,
    /// The peer is restarting itself (Restart State bit, RFC 4724 §3): it may wait for our
    /// End-of-RIB markers before it sends its own.
    pub restarting: bool,
}

/// Worker (or control) -> RIB thread.
#[derive(Debug)]
pub enum ToRib {
    PeerUp(PeerUp),
    /// The session left Established: the peer's routes are withdrawn.
    PeerDown {
        peer: PeerId,
    },
    /// The session left Established with no NOTIFICATION sent or received (TCP lost, or
    /// replaced by a new connection from the restarted peer; RFC 4724 §4.2): a peer with
    /// `PeerUp::graceful_restart` has its routes kept as stale, any other is as `PeerDown`.
    /// Acknowledged with `ToWorker::PeerDownAck` like `PeerDown`.
    PeerLost {
        peer: PeerId,
    },
    /// Every UPDATE decoded from one read of one peer, in order.
    Updates {
        peer: PeerId,
        updates: Vec<Received>,
        /// `Received::weight` summed over `updates`, computed once by the sender: it is added
        /// to and taken off the shared `InboxWeight` without walking the batch again.
        weight: usize,
    },
    /// ROUTE-REFRESH received (RFC 2918): resend the whole Adj-RIB-Out for `family`.
    RouteRefresh {
        peer: PeerId,
        family: Family,
    },
    /// The peer's send queue is above its high watermark: stop sending it group updates and
    /// remember what changed instead (the pending output stays RIB state, never bytes).
    Xoff {
        peer: PeerId,
    },
    /// The queue drained below the low watermark: send what changed meanwhile.
    Xon {
        peer: PeerId,
    },
    /// Publish a fresh route snapshot for readers that asked for one.
    PublishRoutes,
    Shutdown,
}

/// RIB thread / control / listener -> worker.
#[derive(Debug)]
pub enum ToWorker {
    /// The same encoded UPDATE bytes (one or more whole messages) for several peers of this
    /// worker: encoded once, shared by reference.
    Send { peers: Arc<[PeerId]>, data: Bytes },
    /// Start a neighbor (on startup or reload).
    AddPeer {
        peer: PeerId,
        neighbor: Arc<crate::config::Neighbor>,
    },
    /// Stop a neighbor: Cease NOTIFICATION with `subcode` (RFC 4486) and forget it.
    RemovePeer { peer: PeerId, subcode: u8 },
    /// End the peer's established session with `notification` but keep the neighbor: it
    /// reconnects as after any session failure (the RIB sends this when the peer exceeds
    /// `max_prefixes`; the worker then applies `max_prefixes_restart`). Ignored when the
    /// session it was meant for is already down (a PeerDown is awaiting its ack).
    StopPeer {
        peer: PeerId,
        notification: Notification,
    },
    /// An inbound connection accepted by the listener for a neighbor this worker owns.
    Accepted {
        peer: PeerId,
        stream: std::net::TcpStream,
    },
    /// The RIB has applied `ToRib::PeerDown` for this peer: every `Send` emitted before it
    /// has been delivered, so later ones belong to the peer's next session.
    PeerDownAck { peer: PeerId },
    /// Cease to every peer (RFC 8203 message), flush, and return.
    Shutdown { message: String },
}

/// A worker's inbox: the channel plus the poller to wake it from `Poller::wait`.
#[derive(Clone)]
pub struct WorkerHandle {
    pub tx: crossbeam_channel::Sender<ToWorker>,
    pub poller: Arc<polling::Poller>,
}

impl WorkerHandle {
    /// Sends and wakes the worker. False if the worker has exited.
    pub fn send(&self, msg: ToWorker) -> bool {
        let ok = self.tx.send(msg).is_ok();
        // A failed notify only means the worker is gone; the send result already says so.
        let _ = self.poller.notify();
        ok
    }
}

/// Decoded UPDATEs in the RIB thread's inbox, by estimated memory: shared by the workers,
/// which add a batch's weight when they put it in the inbox and hold further batches back
/// (pausing those batches' peers) while the total is above `INBOX_BUDGET`, and the RIB
/// thread, which subtracts it when it takes the batch. What waits in a worker's backlog is
/// not counted, so a backlog can always drain once the RIB thread catches up; it holds at
/// most about one read per paused peer. The inbox's bound in messages alone
/// is no bound on memory: decoding multiplies small messages (a 27-byte withdrawal becomes
/// a several-hundred-byte `Update`), so a fast peer could fill gigabytes while the RIB
/// thread is busy.
pub type InboxWeight = Arc<std::sync::atomic::AtomicUsize>;

/// Above this many estimated bytes of decoded UPDATEs in the inbox, batches wait.
pub const INBOX_BUDGET: usize = 64 << 20;

impl ToRib {
    /// `ToRib::Updates` of decoded UPDATEs, prepared here (tests and tools; workers
    /// prepare each UPDATE as they decode it).
    pub fn updates(peer: PeerId, updates: Vec<Update>) -> ToRib {
        let updates: Vec<Received> = updates.into_iter().map(Received::of).collect();
        let weight = updates.iter().map(Received::weight).sum();
        ToRib::Updates {
            peer,
            updates,
            weight,
        }
    }
}

/// A decoded UPDATE as the RIB applies it: its attribute sets already in stored form and
/// hashed (`Prepared`) by the worker that decoded it. The `PathAttrs` is dropped on that
/// worker too, so the RIB thread neither encodes nor frees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub withdrawn: Vec<Prefix4>,
    /// The NLRI field, announced with `set` (next hop: the NEXT_HOP attribute). Most
    /// UPDATEs carry a few prefixes: those are kept inline, so the RIB thread does not free
    /// a block the worker allocated (a cross-thread free, costly in glibc) per UPDATE.
    pub nlri: SmallVec<[Prefix4; INLINE_NLRI]>,
    pub set: Option<Prepared>,
    /// MP_REACH_NLRI's prefixes, announced with `mp_set` (next hop: MP_REACH_NLRI's).
    /// Of a labeled family (VPN), the routes of one label, the first the UPDATE carries:
    /// the label is in `mp_set` (`wire::stored`).
    pub mp_nlri: Option<MpNlri>,
    pub mp_set: Option<Prepared>,
    /// MP_UNREACH_NLRI and a labeled family's further labels, if the UPDATE has either.
    pub rare: Option<Box<Rare>>,
    /// RFC 7606 treat-as-withdraw: `nlri` and `mp_nlri` are withdrawn instead.
    pub treat_as_withdraw: bool,
    /// The UPDATE was End-of-RIB for this family (RFC 4724 §2).
    pub end_of_rib: Option<Family>,
}

/// What few UPDATEs carry (`Received::rare`), boxed: the UPDATEs that carry neither, nearly
/// all of a table's, cross from a worker to the RIB thread in fewer bytes (they wait in
/// its inbox by the thousand).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rare {
    pub mp_unreach: Option<NlriSet>,
    /// A labeled family's routes of every further label, each with its own set (empty
    /// unless a router allocated labels per prefix).
    pub mp_more: Vec<(NlriSet, Prepared)>,
}

impl Rare {
    fn of(mp_unreach: Option<NlriSet>, mp_more: Vec<(NlriSet, Prepared)>) -> Option<Box<Rare>> {
        (mp_unreach.is_some() || !mp_more.is_empty()).then(|| {
            Box::new(Rare {
                mp_unreach,
                mp_more,
            })
        })
    }
}

/// Prefixes of an NLRI field kept inline in `Received` (the synthetic table's runs are 1 to
/// 8 prefixes; the Internet's average is 2 to 3).
pub const INLINE_NLRI: usize = 8;

/// VPN routes kept inline in `Received`, as IPv4 unicast ones are: as many VPN-IPv4 keys
/// as `INLINE_NLRI` prefixes, and VPN-IPv6 keys in the same room.
pub const INLINE_VPN4: usize = INLINE_NLRI;
pub const INLINE_VPN6: usize = 4;

/// `Received::mp_nlri`: a VPN family's routes of one label as keys alone, kept inline when
/// few (the RIB thread would otherwise free a block per UPDATE that a worker allocated);
/// any other family's as decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MpNlri {
    Set(NlriSet),
    Vpn4(SmallVec<[Vpn4; INLINE_VPN4]>),
    Vpn6(SmallVec<[Vpn6; INLINE_VPN6]>),
}

/// `keys` inline if they fit, else in their own block.
fn inline<A: smallvec::Array>(keys: Vec<A::Item>) -> SmallVec<A>
where
    A::Item: Copy,
{
    if keys.len() <= A::size() {
        SmallVec::from_slice(&keys)
    } else {
        SmallVec::from_vec(keys)
    }
}

impl Received {
    /// Treat-as-withdraw also when the set has no stored form (`wire::stored::fits`).
    pub fn of(u: Update) -> Received {
        let end_of_rib = u.end_of_rib();
        let mut set = None;
        let unstorable = u.attrs.as_ref().is_some_and(|a| !stored::fits(a));
        let treat_as_withdraw = u.treat_as_withdraw || unstorable;
        if let (false, Some(a)) = (treat_as_withdraw, &u.attrs) {
            if !u.nlri.is_empty() {
                set = Some(Prepared::of(a));
            }
        }
        let (mut mp_nlri, mut mp_set, mut mp_more) = (None, None, Vec::new());
        match (treat_as_withdraw, &u.attrs, u.mp_reach) {
            (false, Some(a), Some(mp)) => {
                let nh = mp.next_hop;
                let labeled = |l: &Label| Prepared::labeled(a, &nh, Some(*l));
                let runs = match mp.nlri {
                    NlriSet::Ipv4Vpn(l) => path_data_runs(l, NlriSet::Ipv4Vpn, labeled),
                    NlriSet::Ipv6Vpn(l) => path_data_runs(l, NlriSet::Ipv6Vpn, labeled),
                    NlriSet::Evpn(l) => path_data_runs(l, NlriSet::Evpn, |data| {
                        let bytes = crate::wire::evpn_nlri::to_bytes(data);
                        Prepared::with_path_data(a, &nh, &bytes)
                    }),
                    nlri => {
                        mp_set = Some(Prepared::with_next_hop(a, &nh));
                        mp_nlri = Some(MpNlri::Set(nlri));
                        Vec::new()
                    }
                };
                let mut runs = runs.into_iter();
                if let Some((nlri, set)) = runs.next() {
                    (mp_nlri, mp_set) = (Some(MpNlri::of(nlri)), Some(set));
                }
                mp_more = runs.collect();
            }
            (_, _, mp) => mp_nlri = mp.map(|m| MpNlri::of(m.nlri)),
        }
        Received {
            withdrawn: u.withdrawn,
            nlri: if u.nlri.len() <= INLINE_NLRI {
                SmallVec::from_slice(&u.nlri)
            } else {
                SmallVec::from_vec(u.nlri)
            },
            set,
            mp_nlri,
            mp_set,
            rare: Rare::of(u.mp_unreach.map(|m| m.nlri), mp_more),
            treat_as_withdraw,
            end_of_rib,
        }
    }

    /// The UPDATE `body` (after its header) if `wire::scan` reads it in place: equal to
    /// `of` on its decoded form, without building one. None: decode it.
    pub fn scanned(body: &[u8], ctx: &CodecCtx) -> Option<Received> {
        let (mut withdrawn, mut nlri) = (Vec::new(), SmallVec::new());
        let Some(s) = scan::update(body, ctx, &mut withdrawn, &mut nlri) else {
            return Received::scanned_vpn(body, ctx);
        };
        Some(Received {
            withdrawn,
            nlri,
            set: s.attrs.as_ref().map(Prepared::scanned),
            mp_nlri: None,
            mp_set: None,
            rare: None,
            treat_as_withdraw: false,
            end_of_rib: None,
        })
    }

    /// A VPN UPDATE if `wire::scan::vpn_update` reads it in place.
    fn scanned_vpn(body: &[u8], ctx: &CodecCtx) -> Option<Received> {
        // A route takes 12 bytes or more: the room a spilling UPDATE needs, bound by its
        // length, taken once rather than by doubling.
        let most = body.len() / 12;
        let (mut v4, mut v6) = (SmallVec::new(), SmallVec::new());
        let push4 = |k| {
            if v4.len() == INLINE_VPN4 {
                v4.reserve(most);
            }
            v4.push(k)
        };
        let push6 = |k| {
            if v6.len() == INLINE_VPN6 {
                v6.reserve(most);
            }
            v6.push(k)
        };
        let s = scan::vpn_update(body, ctx, push4, push6)?;
        let routes = match s.family {
            Family::Ipv6Vpn => MpNlri::Vpn6(v6),
            _ => MpNlri::Vpn4(v4),
        };
        Some(Received {
            withdrawn: Vec::new(),
            nlri: SmallVec::new(),
            set: None,
            mp_set: Some(Prepared::scanned_vpn(&s.attrs, &s.next_hop, s.label)),
            mp_nlri: Some(routes),
            rare: None,
            treat_as_withdraw: false,
            end_of_rib: None,
        })
    }

    /// The estimated memory of this UPDATE in the inbox: twice its inline size (it sits
    /// in a batch vector that may be half empty), plus what its vectors hold, each
    /// non-empty one at least the allocator's smallest block.
    pub fn weight(&self) -> usize {
        use std::mem::size_of;
        const BLOCK: usize = 32;
        let block = |bytes: usize| if bytes == 0 { 0 } else { bytes.max(BLOCK) };
        let labeled = |keys: usize, key: usize, labels: usize| {
            keys * key + labels * size_of::<crate::wire::Label>()
        };
        let nlri = |s: &NlriSet| match s {
            NlriSet::Ipv4Unicast(v) => v.len() * size_of::<Prefix4>(),
            NlriSet::Ipv6Unicast(v) => v.len() * size_of::<Prefix6>(),
            NlriSet::Ipv4Vpn(v) => labeled(v.keys.len(), size_of::<Vpn4>(), v.labels.len()),
            NlriSet::Ipv6Vpn(v) => labeled(v.keys.len(), size_of::<Vpn6>(), v.labels.len()),
            NlriSet::Evpn(v) => {
                v.keys.len() * size_of::<EvpnKey>() + v.labels.len() * size_of::<PathData>()
            }
            NlriSet::RtConstraint(v) => v.len() * size_of::<crate::wire::rtc::RtcNlri>(),
            NlriSet::Other { .. } => 0,
        };
        let rare = self.rare.as_ref().map_or(0, |r| {
            let more: usize = r
                .mp_more
                .iter()
                .map(|(s, p)| {
                    size_of::<(NlriSet, Prepared)>() + block(nlri(s)) + block(p.set.len())
                })
                .sum();
            size_of::<Rare>() + block(r.mp_unreach.as_ref().map_or(0, nlri)) + more
        });
        2 * size_of::<Received>()
            + block(self.withdrawn.len() * size_of::<Prefix4>())
            + if self.nlri.spilled() {
                block(self.nlri.len() * size_of::<Prefix4>())
            } else {
                0
            }
            + block(self.mp_nlri.as_ref().map_or(0, |m| match m {
                MpNlri::Set(s) => nlri(s),
                MpNlri::Vpn4(k) if k.spilled() => k.len() * size_of::<Vpn4>(),
                MpNlri::Vpn6(k) if k.spilled() => k.len() * size_of::<Vpn6>(),
                MpNlri::Vpn4(_) | MpNlri::Vpn6(_) => 0,
            }))
            + block(self.set.as_ref().map_or(0, |p| p.set.len()))
            + block(self.mp_set.as_ref().map_or(0, |p| p.set.len()))
            + rare
    }
}

impl MpNlri {
    /// VPN routes as keys (their labels dropped: a set's label is in its `Prepared`, and
    /// a withdrawal's is ignored), anything else as it is.
    pub fn of(set: NlriSet) -> MpNlri {
        match set {
            NlriSet::Ipv4Vpn(l) => MpNlri::Vpn4(inline(l.keys)),
            NlriSet::Ipv6Vpn(l) => MpNlri::Vpn6(inline(l.keys)),
            set => MpNlri::Set(set),
        }
    }
}

/// A family's announced routes as one set per distinct path data (`Received::mp_nlri`): a
/// VPN route's label, an EVPN route's labels, ESI and gateway. A router that allocates a
/// label per VRF, or a MAC-VRF's routes, share one.
fn path_data_runs<N: Copy, D: Clone + Eq + std::hash::Hash>(
    routes: Labeled<N, D>,
    wrap: fn(Labeled<N, D>) -> NlriSet,
    set_of: impl Fn(&D) -> Prepared,
) -> Vec<(NlriSet, Prepared)> {
    routes
        .by_label()
        .into_iter()
        .map(|(data, keys)| {
            let routes = Labeled {
                keys,
                labels: Vec::new(),
            };
            (wrap(routes), set_of(&data))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, AsSegment, MpReach, MpUnreach, NextHop, PathAttrs, SegmentKind};

    #[test]
    fn a_received_update_is_no_larger_than_before_vpn_routes_were_kept_inline() {
        // 352 bytes when MP_UNREACH_NLRI and the further labels' runs were fields of their
        // own: workers queue these by the thousand, and unicast pays for every byte.
        assert!(std::mem::size_of::<Received>() <= 352);
    }

    fn attrs() -> PathAttrs {
        PathAttrs {
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            local_pref: Some(150),
            ..PathAttrs::default()
        }
    }

    #[test]
    fn a_received_update_keeps_each_familys_next_hop_in_its_own_set() {
        let v6 = NextHop::V6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let r = Received::of(Update {
            attrs: Some(attrs()),
            nlri: vec!["10.0.0.0/8".parse().unwrap()],
            mp_reach: Some(MpReach {
                next_hop: v6,
                nlri: NlriSet::Ipv6Unicast(vec!["2001:db8::/32".parse().unwrap()]),
            }),
            ..Update::default()
        });
        let (set, mp) = (r.set.clone().unwrap(), r.mp_set.clone().unwrap());
        assert_eq!(stored::next_hop(&set.set), attrs().next_hop);
        assert_eq!(stored::next_hop(&mp.set), v6);
        // One decision rank; only the next hop's kind tells the two sets' ranks apart.
        assert!(!set.rank.v6_next_hop && mp.rank.v6_next_hop);
        assert_eq!(
            set.rank,
            Rank {
                v6_next_hop: false,
                ..mp.rank
            }
        );
        assert_eq!(r.nlri.len(), 1);
        assert!(r.end_of_rib.is_none() && !r.treat_as_withdraw);
        assert!(r.weight() > 2 * std::mem::size_of::<Received>());
    }

    #[test]
    fn an_update_read_in_place_is_received_as_the_decoded_one() {
        let ctx = CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        };
        let path = AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns: vec![65001, 65002],
            }],
        };
        let announce = Update {
            withdrawn: vec!["10.9.0.0/16".parse().unwrap()],
            attrs: Some(PathAttrs {
                as_path: path,
                med: Some(7),
                communities: vec![1, 2],
                cluster_list: vec![Ipv4Addr::new(10, 0, 0, 2)],
                ..attrs()
            }),
            // More than INLINE_NLRI: the vector spills in both.
            nlri: (0..12u8)
                .map(|i| crate::wire::Prefix4::new(Ipv4Addr::new(10, i, 0, 0), 16).unwrap())
                .collect(),
            ..Update::default()
        };
        let withdraw = Update {
            withdrawn: vec!["10.9.0.0/16".parse().unwrap()],
            ..Update::default()
        };
        for u in [announce, withdraw] {
            let mut msg = Vec::new();
            crate::wire::encode(&crate::wire::Message::Update(u.clone()), &ctx, &mut msg);
            let body = &msg[crate::wire::HEADER_LEN..];
            assert_eq!(Received::scanned(body, &ctx), Some(Received::of(u)));
        }
    }

    #[test]
    fn a_vpn_update_read_in_place_is_received_as_the_decoded_one() {
        let ctx = CodecCtx {
            four_octet_as: true,
            ..CodecCtx::default()
        };
        let mut routes = crate::wire::Labeled::default();
        for i in 0..12u8 {
            let key = crate::wire::Vpn4::new(
                "65000:7".parse().unwrap(),
                crate::wire::Prefix4::new(Ipv4Addr::new(10, i, 0, 0), 16).unwrap(),
            );
            routes.push(key, crate::wire::Label::new(300));
        }
        let u = Update {
            attrs: Some(PathAttrs {
                next_hop: NextHop::None,
                ext_communities: vec![[0, 2, 0xfd, 0xe8, 0, 0, 0, 7]],
                ..attrs()
            }),
            mp_reach: Some(MpReach {
                next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 9)),
                nlri: NlriSet::Ipv4Vpn(routes),
            }),
            ..Update::default()
        };
        let mut msg = Vec::new();
        crate::wire::encode(&crate::wire::Message::Update(u.clone()), &ctx, &mut msg);
        let body = &msg[crate::wire::HEADER_LEN..];
        let r = Received::scanned(body, &ctx).expect("read in place");
        assert_eq!(r, Received::of(u));
        assert_eq!(
            stored::label(&r.mp_set.unwrap().set),
            Some(crate::wire::Label::new(300))
        );
    }

    #[test]
    fn end_of_rib_and_withdrawals_carry_no_set() {
        let eor = Received::of(Update {
            mp_unreach: Some(MpUnreach {
                nlri: NlriSet::Ipv6Unicast(Vec::new()),
            }),
            ..Update::default()
        });
        assert_eq!(eor.end_of_rib, Some(Family::Ipv6Unicast));
        let tw = Received::of(Update {
            attrs: Some(attrs()),
            nlri: vec!["10.0.0.0/8".parse().unwrap()],
            treat_as_withdraw: true,
            ..Update::default()
        });
        assert!(tw.treat_as_withdraw && tw.set.is_none() && tw.nlri.len() == 1);
    }

    #[test]
    fn a_set_with_no_stored_form_is_treated_as_withdrawn() {
        let long = AsPath {
            segments: (0..65)
                .map(|_| AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![64512; 255],
                })
                .collect(),
        };
        let r = Received::of(Update {
            attrs: Some(PathAttrs {
                as_path: long,
                ..attrs()
            }),
            nlri: vec!["10.0.0.0/8".parse().unwrap()],
            ..Update::default()
        });
        assert!(r.treat_as_withdraw && r.set.is_none() && r.nlri.len() == 1);
    }
}
