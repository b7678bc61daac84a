//! EVPN routes as the RIB keeps them: an [`EvpnKey`] per route, and per path the fields
//! that are the path's ([`PathData`]) as bytes in its stored attribute set
//! (`stored::path_data`). This module is the bridge between the two: [`write`] and [`read`]
//! turn a path's data into those bytes and back, and `impl Nlri for EvpnKey` writes a route
//! announced (key + the set's path data) or withdrawn (key alone).
//!
//! Path data bytes, in NLRI order, by route type (the route type and lengths come from
//! the key, so nothing else is needed to read them back):
//!
//! ```text
//! 1 Ethernet A-D   Label(3)
//! 2 MAC/IP         ESI(10) Label1(3) [Label2(3)]
//! 3, 4             nothing
//! 5 IP Prefix      ESI(10) Gateway(4/16, the prefix's family) Label(3)
//! opaque           nothing when the key holds the value; the value when it is too long
//! ```
//!
//! A withdrawal is written from the key alone, with the path's fields zero: receivers find
//! the route by its key fields (RFC 7432 §7, RFC 9136 §3.1), and GoBGP and FRR ignore the
//! rest of a withdrawn NLRI. An opaque route too long for its key (value over 38 bytes) has
//! only a hash of its value in the key, so it cannot be written from the key:
//! [`EvpnKey::withdrawable`] is false, and the encoder leaves it out of withdrawals (see
//! docs/architecture.md, EVPN).

use super::evpn::{join, Esi, EvpnKey, KeyView, Label, PathData};
use super::nlri::Nlri;
use super::types::Family;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Appends the bytes `data` is stored as.
pub fn write(data: &PathData, out: &mut Vec<u8>) {
    match data {
        PathData::None => {}
        PathData::EthernetAd { label } => out.extend_from_slice(&label.0),
        PathData::MacIp {
            esi,
            label1,
            label2,
        } => {
            out.extend_from_slice(&esi.0);
            out.extend_from_slice(&label1.0);
            if let Some(l) = label2 {
                out.extend_from_slice(&l.0);
            }
        }
        PathData::IpPrefix {
            esi,
            gateway,
            label,
        } => {
            out.extend_from_slice(&esi.0);
            match gateway {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
            out.extend_from_slice(&label.0);
        }
        PathData::Opaque(v) => out.extend_from_slice(v),
    }
}

/// The bytes `data` is stored as.
pub fn to_bytes(data: &PathData) -> Vec<u8> {
    let mut out = Vec::new();
    write(data, &mut out);
    out
}

/// The path data of a route with `key` stored as `b`; None if `b` is not the data of
/// such a route (wrong length for its type).
pub fn read(key: &EvpnKey, b: &[u8]) -> Option<PathData> {
    let label = |b: &[u8]| -> Option<Label> { Some(Label(b.try_into().ok()?)) };
    let esi = |b: &[u8]| -> Option<Esi> { Some(Esi(b.get(..10)?.try_into().ok()?)) };
    Some(match key.view() {
        KeyView::EthernetAd { .. } => PathData::EthernetAd { label: label(b)? },
        KeyView::MacIp { .. } => match b.len() {
            13 => PathData::MacIp {
                esi: esi(b)?,
                label1: label(&b[10..])?,
                label2: None,
            },
            16 => PathData::MacIp {
                esi: esi(b)?,
                label1: label(&b[10..13])?,
                label2: Some(label(&b[13..])?),
            },
            _ => return None,
        },
        KeyView::Multicast { .. } | KeyView::EthernetSegment { .. } | KeyView::Opaque { .. } => {
            if !b.is_empty() {
                return None;
            }
            PathData::None
        }
        KeyView::IpPrefix { prefix, .. } => {
            let gateway = match (prefix, b.len()) {
                (IpAddr::V4(_), 17) => {
                    IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(&b[10..14]).ok()?))
                }
                (IpAddr::V6(_), 29) => {
                    IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[10..26]).ok()?))
                }
                _ => return None,
            };
            PathData::IpPrefix {
                esi: esi(b)?,
                gateway,
                label: label(&b[b.len() - 3..])?,
            }
        }
        KeyView::Hashed { len, .. } if b.len() == usize::from(len) => PathData::Opaque(b.into()),
        KeyView::Hashed { .. } => return None,
    })
}

/// The path data a withdrawal of `key` is written with: every field zero. None for a key
/// that holds only a hash of its value.
fn withdrawn(key: &EvpnKey) -> Option<PathData> {
    Some(match key.view() {
        KeyView::EthernetAd { .. } => PathData::EthernetAd {
            label: Label::default(),
        },
        KeyView::MacIp { .. } => PathData::MacIp {
            esi: Esi::ZERO,
            label1: Label::default(),
            label2: None,
        },
        KeyView::IpPrefix { prefix, .. } => PathData::IpPrefix {
            esi: Esi::ZERO,
            gateway: match prefix {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            },
            label: Label::default(),
        },
        KeyView::Multicast { .. } | KeyView::EthernetSegment { .. } | KeyView::Opaque { .. } => {
            PathData::None
        }
        KeyView::Hashed { .. } => return None,
    })
}

impl EvpnKey {
    /// The IP prefix a route is for: a type 5 route's prefix, a type 2 route's host
    /// address; None for the others.
    pub fn ip_prefix(&self) -> Option<(IpAddr, u8)> {
        match self.view() {
            KeyView::IpPrefix {
                prefix, prefix_len, ..
            } => Some((prefix, prefix_len)),
            KeyView::MacIp { ip: Some(ip), .. } => Some((ip, if ip.is_ipv4() { 32 } else { 128 })),
            _ => None,
        }
    }

    /// A withdrawal of this route can be written from its key alone (see the module doc).
    pub fn withdrawable(&self) -> bool {
        !matches!(self.view(), KeyView::Hashed { .. })
    }

    /// The route with `data` (announced), or with zero fields (withdrawn, `data` None or
    /// not this route's), as `f` sees it; None if it cannot be written at all.
    fn with_route<T>(
        &self,
        data: Option<&[u8]>,
        f: impl FnOnce(&super::evpn::EvpnRoute<'_>) -> T,
    ) -> Option<T> {
        let data = data
            .and_then(|b| read(self, b))
            .or_else(|| withdrawn(self))?;
        join(self, &data).map(|r| f(&r))
    }
}

impl Nlri for EvpnKey {
    const FAMILY: Family = Family::L2vpnEvpn;
    const PATH_DATA: bool = true;

    /// 0 for a key that cannot be withdrawn (`withdrawable`): the encoder writes nothing.
    fn wire_len(&self) -> usize {
        self.with_route(None, |r| r.wire_len()).unwrap_or(0)
    }

    fn wire_len_with(&self, data: &[u8]) -> usize {
        self.with_route(Some(data), |r| r.wire_len()).unwrap_or(0)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.with_route(None, |r| r.encode(out));
    }

    fn encode_with(&self, data: &[u8], out: &mut Vec<u8>) {
        self.with_route(Some(data), |r| r.encode(out));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::evpn::decode;

    /// GoBGP 3.10 `global rib -a evpn add macadv aa:bb:cc:dd:ee:ff 10.0.0.1 esi 0 etag 0
    /// label 100,200 rd 65000:1`, type 5 `prefix 10.1.0.0/24 esi 0 etag 0 gw 10.0.0.254 label
    /// 300 rd 65000:2`, type 3 `multicast 10.0.0.1 etag 0 rd 65000:3`, and an unknown
    /// type 9 of 50 bytes.
    fn routes() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&[2, 40, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1]);
        b.extend_from_slice(&[0; 10]);
        b.extend_from_slice(&[
            0, 0, 0, 0, 48, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 32, 10, 0, 0, 1,
        ]);
        b.extend_from_slice(&[0, 6, 0x41, 0, 12, 0x81]);
        b.extend_from_slice(&[5, 34, 0, 0, 0xfd, 0xe8, 0, 0, 0, 2]);
        b.extend_from_slice(&[0; 10]);
        b.extend_from_slice(&[0, 0, 0, 0, 24, 10, 1, 0, 0, 10, 0, 0, 254, 0, 0x12, 0xc1]);
        b.extend_from_slice(&[
            3, 17, 0, 0, 0xfd, 0xe8, 0, 0, 0, 3, 0, 0, 0, 0, 32, 10, 0, 0, 1,
        ]);
        b.push(9);
        b.push(50);
        b.extend((0..50u8).map(|i| i.wrapping_mul(7)));
        b
    }

    #[test]
    fn each_route_is_written_back_from_its_key_and_stored_path_data() {
        let wire = routes();
        let mut again = Vec::new();
        for (_, r) in decode(&wire, false).unwrap() {
            let (key, data) = r.split();
            let stored = to_bytes(&data);
            assert_eq!(read(&key, &stored), Some(data.clone()), "{key}");
            assert_eq!(key.rd(), r.rd(), "{key}");
            assert_eq!(key.wire_len_with(&stored), r.wire_len(), "{key}");
            key.encode_with(&stored, &mut again);
        }
        assert_eq!(again, wire);
    }

    #[test]
    fn a_withdrawal_keeps_the_key_fields_and_zeroes_the_path_fields() {
        let wire = routes();
        let decoded = decode(&wire, false).unwrap();
        for (_, r) in &decoded[..3] {
            let key = r.key();
            let mut w = Vec::new();
            key.encode(&mut w);
            assert_eq!(w.len(), key.wire_len());
            let back = decode(&w, false).unwrap();
            assert_eq!(back.len(), 1);
            assert_eq!(
                back[0].1.key(),
                key,
                "withdrawn {key} reads back as the same route"
            );
        }
        // Type 2 without its second label; type 5 keeps the gateway's family.
        let mut w = Vec::new();
        decoded[1].1.key().encode(&mut w);
        assert_eq!(w.len(), 2 + 34);
    }

    #[test]
    fn a_long_opaque_route_is_announced_whole_but_cannot_be_withdrawn_from_its_key() {
        let wire = routes();
        let decoded = decode(&wire, false).unwrap();
        let (key, data) = decoded[3].1.split();
        assert!(!key.withdrawable());
        assert_eq!(key.wire_len(), 0);
        let mut w = Vec::new();
        key.encode(&mut w);
        assert!(w.is_empty());
        let mut a = Vec::new();
        key.encode_with(&to_bytes(&data), &mut a);
        assert_eq!(a, wire[wire.len() - 52..]);
    }

    #[test]
    fn withdrawals_leave_out_a_long_opaque_route_and_never_send_an_empty_one() {
        use crate::wire::{encode_withdraw, CodecCtx, FamilySet, Message};
        let wire = routes();
        let keys: Vec<EvpnKey> = decode(&wire, false)
            .unwrap()
            .iter()
            .map(|(_, r)| r.key())
            .collect();
        let long = keys[3];
        for add_path in [false, true] {
            let ctx = CodecCtx {
                add_path_tx: if add_path {
                    FamilySet::EMPTY.with(Family::L2vpnEvpn)
                } else {
                    FamilySet::EMPTY
                },
                ..CodecCtx::default()
            };
            // Alone: nothing at all (an empty MP_UNREACH_NLRI would be End-of-RIB).
            let mut out = Vec::new();
            encode_withdraw(&ctx, &[long], &mut out);
            assert!(out.is_empty(), "ADD-PATH {add_path}");
            // Among others: they are withdrawn, and no path id is left without its route.
            encode_withdraw(&ctx, &[keys[0], long, keys[2]], &mut out);
            let rx = CodecCtx {
                add_path_rx: ctx.add_path_tx,
                ..CodecCtx::default()
            };
            let Ok(Message::Update(u)) = crate::wire::decode(&out, &rx) else {
                panic!("one UPDATE (ADD-PATH {add_path})")
            };
            let Some(crate::wire::NlriSet::Evpn(l)) = u.mp_unreach.map(|m| m.nlri) else {
                panic!("EVPN withdrawals")
            };
            assert_eq!(l.keys, vec![keys[0], keys[2]], "ADD-PATH {add_path}");
        }
    }

    #[test]
    fn path_data_of_the_wrong_shape_is_not_read() {
        let wire = routes();
        let decoded = decode(&wire, false).unwrap();
        let mac = decoded[0].1.key();
        assert_eq!(read(&mac, &[0; 12]), None);
        assert_eq!(read(&mac, &[0; 17]), None);
        let prefix = decoded[1].1.key();
        assert_eq!(
            read(&prefix, &[0; 29]),
            None,
            "an IPv6 gateway for an IPv4 prefix"
        );
        let multicast = decoded[2].1.key();
        assert_eq!(read(&multicast, &[0]), None);
        // Written as a withdrawal instead, never as a malformed NLRI.
        assert_eq!(mac.wire_len_with(&[0; 12]), mac.wire_len());
    }
}
