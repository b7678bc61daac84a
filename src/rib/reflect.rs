//! Route reflection rules (RFC 4456 §6–8): who a best path is reflected to, the loop
//! checks on what we receive, and the two attributes a reflector sets on what it sends.
//! Everything else (NEXT_HOP, LOCAL_PREF, MED, communities, unknown transitive attributes)
//! passes unchanged (ARCHITECTURE invariant 4).

use super::attrs::AttrId;
use crate::msg::PeerId;
use crate::wire::PathAttrs;
use std::net::Ipv4Addr;

/// A best path as advertised: everything that decides what a group is sent for a prefix.
/// Two equal `Adv`s produce identical UPDATEs for every peer.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Adv {
    pub attr: AttrId,
    /// The session it was learned from: never sent back to it (`sent_to`). Its BGP
    /// Identifier is the ORIGINATOR_ID if the route has none (looked up once per outbound
    /// set, not stored per prefix: a flush's dirty map holds one `Adv` per change).
    pub peer: PeerId,
    /// Learned from a route-reflector client.
    pub from_client: bool,
    /// Carries NO_ADVERTISE (RFC 1997): selected, but advertised to no peer.
    pub no_advertise: bool,
    /// Has an IPv6 next hop (`GroupView::v6_next_hop`).
    pub v6_next_hop: bool,
}

/// What a group accepts of one family's best paths: RFC 4456's client rule, and RFC 8950.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    pub client: bool,
    /// The group may be sent routes with IPv6 next hops in this family: always in an IPv6
    /// family, in an IPv4 one only if its peers agreed RFC 8950. A route it may not take is
    /// not advertised to it at all, so the counts and withdrawals say what it holds.
    pub v6_next_hop: bool,
}

impl GroupView {
    /// The view of a group with `key`, for family `N`.
    pub fn of<N: crate::wire::Nlri>(key: &super::update_group::GroupKey) -> GroupView {
        GroupView {
            client: key.rr_client,
            v6_next_hop: key.codec.takes_v6_next_hop(N::FAMILY),
        }
    }
}

impl Adv {
    /// RFC 4456 §6: a route from a client is reflected to clients and non-clients; a route
    /// from a non-client to clients only. RFC 1997: NO_ADVERTISE to nobody. This is the
    /// group's view (`GroupView`, with RFC 8950); its members see it less their own routes
    /// (`sent_to`).
    pub fn reflected_to(&self, group: GroupView) -> bool {
        !self.no_advertise
            && (group.client || self.from_client)
            && (group.v6_next_hop || !self.v6_next_hop)
    }

    /// What `peer`, a member of a group with `client_group`, is sent: the group's view,
    /// except a route learned from `peer` itself. As BIRD and OpenBGPD do, and unlike
    /// relying on the client to drop it by ORIGINATOR_ID (RFC 4456 §8): a client that is
    /// sent its own route back is never sent a withdrawal of what it held from us before
    /// (GoBGP then keeps that stale path).
    pub fn sent_to(&self, peer: PeerId, group: GroupView) -> bool {
        self.peer != peer && self.reflected_to(group)
    }
}

/// RFC 4456 §8: ORIGINATOR_ID set to the source's BGP Identifier unless already present;
/// our CLUSTER_ID prepended to CLUSTER_LIST.
pub fn outbound(attrs: &PathAttrs, source_id: Ipv4Addr, cluster_id: Ipv4Addr) -> PathAttrs {
    let mut out = attrs.clone();
    out.originator_id.get_or_insert(source_id);
    out.cluster_list.insert(0, cluster_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::NextHop;

    #[test]
    fn outbound_sets_originator_and_prepends_cluster_keeping_the_rest() {
        let a = PathAttrs {
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            local_pref: Some(200),
            med: Some(7),
            communities: vec![1, 2],
            cluster_list: vec![Ipv4Addr::new(9, 9, 9, 9)],
            ..PathAttrs::default()
        };
        let o = outbound(&a, Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2));
        assert_eq!(o.originator_id, Some(Ipv4Addr::new(1, 1, 1, 1)));
        assert_eq!(
            o.cluster_list,
            vec![Ipv4Addr::new(2, 2, 2, 2), Ipv4Addr::new(9, 9, 9, 9)]
        );
        assert_eq!(
            (o.next_hop, o.local_pref, o.med, &o.communities),
            (a.next_hop, a.local_pref, a.med, &a.communities)
        );
        // An existing ORIGINATOR_ID is kept.
        let o2 = outbound(&o, Ipv4Addr::new(3, 3, 3, 3), Ipv4Addr::new(4, 4, 4, 4));
        assert_eq!(o2.originator_id, Some(Ipv4Addr::new(1, 1, 1, 1)));
    }
}
