//! The `max_prefixes` limit (RFC 4486 §4): how many prefixes the RIB holds from one peer,
//! the one-time warning at 90%, and the Cease the worker sends when the limit is passed.
//!
//! The count is the sum over the peer's families of the prefixes held in its Adj-RIB-In,
//! looped ones included: the limit bounds the memory one peer can make us spend, and a
//! looped route costs as much as an accepted one. Once a peer is over, the RIB ignores
//! everything else it sends (its session is being stopped and PeerDown will clear it).
//!
//! Routes kept stale for a peer back from a Graceful Restart (RFC 4724) are not counted
//! until they are swept: they are what the previous session announced (within the limit
//! then), and counting them would stop a peer that announces another set before its
//! End-of-RIB with a Cease, losing everything GR kept. A stale prefix announced again is
//! fresh and counts. Memory stays bounded: at most the limit fresh plus the limit stale,
//! since a session lost again first withdraws what is still stale (`graceful`).

use super::peer::Peer;
use crate::wire::{notif, Family, Notification};

/// A warning is logged once a peer holds this fraction of its limit (in tenths).
const WARN_TENTHS: u64 = 9;

/// Prefixes held from `p`, all families, stale ones included.
pub(super) fn held(p: &Peer) -> u64 {
    p.received.iter().sum()
}

/// What counts toward the limit: prefixes held from `p` less the `stale` ones.
pub(super) fn counted(p: &Peer, stale: usize) -> u64 {
    held(p).saturating_sub(stale as u64)
}

/// RFC 4486 §4: Cease / Maximum Number of Prefixes Reached, with AFI (2 octets), SAFI
/// (1 octet) and the upper bound (4 octets) as data. `family` is the one whose
/// announcement crossed the limit; a bound above 2^32-1 is sent as 2^32-1.
pub fn max_prefixes_cease(family: Family, limit: u64) -> Notification {
    let (afi, safi) = family.afi_safi();
    let mut data = Vec::with_capacity(7);
    data.extend_from_slice(&afi.to_be_bytes());
    data.push(safi);
    data.extend_from_slice(&u32::try_from(limit).unwrap_or(u32::MAX).to_be_bytes());
    Notification {
        code: notif::CEASE,
        subcode: notif::CEASE_MAX_PREFIXES,
        data,
    }
}

/// Logs the warning when `p` first reaches 90% of its limit in this session (`stale`:
/// its prefixes kept stale, not counted).
pub(super) fn warn_if_near(p: &mut Peer, stale: usize) {
    let Some(limit) = p.up.max_prefixes else {
        return;
    };
    let held = counted(p, stale);
    if !p.limit_warned && held.saturating_mul(10) >= limit.saturating_mul(WARN_TENTHS) {
        p.limit_warned = true;
        tracing::warn!(
            neighbor = %p.up.address,
            held,
            limit,
            "max_prefixes warning threshold (90%) reached"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cease_data_is_afi_safi_and_the_limit_as_rfc_4486_lays_it_out() {
        let n = max_prefixes_cease(Family::Ipv6Unicast, 1000);
        assert_eq!((n.code, n.subcode), (6, 1));
        assert_eq!(n.data, [0, 2, 1, 0, 0, 0x03, 0xe8]);
        let n = max_prefixes_cease(Family::Ipv4Unicast, u64::MAX);
        assert_eq!(n.data, [0, 1, 1, 0xff, 0xff, 0xff, 0xff]);
    }
}
