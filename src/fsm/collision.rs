//! Connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3) as a pure function.
//! Must not: close anything itself — it only says which connection survives.
//!
//! Intended worker usage. A worker may hold two connections to one peer: the one it dialled
//! and one the listener accepted. Each time a `Session` accepts the peer's OPEN (its state
//! becomes OpenConfirm, so `remote_id()` is `Some`), the worker looks for the peer's other
//! connection; if that one is in OpenConfirm or Established (RFC 4271 §6.8: an OpenSent one
//! cannot be judged yet — its turn comes when its own OPEN arrives) it calls
//! [`resolve_collision`] and then `stop(collision_notification())` on the loser, which sends
//! Cease / Connection Collision Resolution (RFC 4486 subcode 7) and closes it. The loser's
//! `Action::Close` must not count as a failure for `Backoff` nor, if the loser never reached
//! Established, produce a `PeerDown`.

use super::types::{SessionConfig, State};
use crate::wire::{notif, Notification};
use std::net::Ipv4Addr;

/// Which of the two connections to one peer stays up.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Survivor {
    /// The connection that existed first.
    Existing,
    /// The connection whose OPEN has just been accepted.
    New,
}

/// Decides a collision between an `existing` connection and a new one whose OPEN carried
/// `remote_id`.
///
/// - An Established session always wins (RFC 4271 §6.8: "a connection collision with an
///   existing BGP connection that is in the Established state causes closing of the newly
///   created connection").
/// - Two connections in the same direction are not a collision in the RFC's sense: the peer
///   (or we) gave up on the first one, so the newer one wins.
/// - Otherwise the higher BGP Identifier's connection survives: if ours is higher we keep the
///   one we initiated, else the one the peer initiated. Identifiers compare as 4-octet
///   unsigned integers; if equal (possible between ASes), the side with the larger AS number
///   keeps its connection (RFC 6286 §2.3).
pub fn resolve_collision(
    cfg: &SessionConfig,
    remote_id: Ipv4Addr,
    existing_state: State,
    existing_initiated_locally: bool,
    new_initiated_locally: bool,
) -> Survivor {
    if existing_state == State::Established {
        return Survivor::Existing;
    }
    if existing_initiated_locally == new_initiated_locally {
        return Survivor::New;
    }
    let keep_local = keep_locally_initiated(cfg, remote_id);
    if keep_local == existing_initiated_locally {
        Survivor::Existing
    } else {
        Survivor::New
    }
}

/// True if the connection we initiated is the one to keep (RFC 4271 §6.8 step 3,
/// RFC 6286 §2.3 for equal identifiers).
pub fn keep_locally_initiated(cfg: &SessionConfig, remote_id: Ipv4Addr) -> bool {
    let (local, remote) = (u32::from(cfg.local_id), u32::from(remote_id));
    if local != remote {
        local > remote
    } else {
        cfg.local_asn > cfg.remote_asn
    }
}

/// What the losing connection is sent: Cease / Connection Collision Resolution (RFC 4486).
pub fn collision_notification() -> Notification {
    Notification::cease(notif::CEASE_COLLISION_RESOLUTION, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FamilySet;

    fn cfg(local_id: [u8; 4], local_asn: u32, remote_asn: u32) -> SessionConfig {
        SessionConfig {
            local_asn,
            local_id: Ipv4Addr::from(local_id),
            remote_asn,
            hold_time: 90,
            families: FamilySet::EMPTY,
            connect_retry: 30,
            graceful_restart: None,
        }
    }

    const LOW: Ipv4Addr = Ipv4Addr::new(1, 1, 1, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(200, 0, 0, 1);

    #[test]
    fn higher_local_identifier_keeps_the_connection_we_initiated() {
        let c = cfg([100, 0, 0, 1], 65000, 65000);
        // Existing is ours (outbound), new is theirs: keep ours.
        let got = resolve_collision(&c, LOW, State::OpenConfirm, true, false);
        assert_eq!(got, Survivor::Existing);
        // Existing is theirs, new is ours: keep the new one.
        let got = resolve_collision(&c, LOW, State::OpenConfirm, false, true);
        assert_eq!(got, Survivor::New);
    }

    #[test]
    fn lower_local_identifier_keeps_the_connection_the_peer_initiated() {
        let c = cfg([100, 0, 0, 1], 65000, 65000);
        let got = resolve_collision(&c, HIGH, State::OpenConfirm, true, false);
        assert_eq!(got, Survivor::New);
        let got = resolve_collision(&c, HIGH, State::OpenConfirm, false, true);
        assert_eq!(got, Survivor::Existing);
    }

    #[test]
    fn identifiers_compare_as_unsigned_integers_not_per_octet_signed() {
        // 128.0.0.0 > 127.255.255.255 as u32.
        let c = cfg([128, 0, 0, 0], 65000, 65000);
        assert!(keep_locally_initiated(
            &c,
            Ipv4Addr::new(127, 255, 255, 255)
        ));
    }

    #[test]
    fn established_session_always_wins_against_a_new_connection() {
        for ours in [[1, 1, 1, 0], [250, 0, 0, 0]] {
            let c = cfg(ours, 65000, 65000);
            for (existing_local, new_local) in [(true, false), (false, true)] {
                let got =
                    resolve_collision(&c, HIGH, State::Established, existing_local, new_local);
                assert_eq!(got, Survivor::Existing);
            }
        }
    }

    #[test]
    fn a_second_connection_in_the_same_direction_replaces_the_first() {
        let c = cfg([250, 0, 0, 0], 65000, 65000);
        let got = resolve_collision(&c, LOW, State::OpenConfirm, false, false);
        assert_eq!(got, Survivor::New);
    }

    #[test]
    fn equal_identifiers_are_broken_by_the_larger_as_number() {
        let id = [10, 0, 0, 1];
        assert!(keep_locally_initiated(
            &cfg(id, 65001, 65000),
            Ipv4Addr::from(id)
        ));
        assert!(!keep_locally_initiated(
            &cfg(id, 65000, 65001),
            Ipv4Addr::from(id)
        ));
    }

    #[test]
    fn the_loser_is_sent_cease_collision_resolution() {
        let n = collision_notification();
        assert_eq!((n.code, n.subcode), (6, 7));
    }
}
