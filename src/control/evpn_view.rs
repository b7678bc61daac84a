//! EVPN routes as the API shows them: an `EvpnKey`'s fields (`view::EvpnKeyJson`) and a
//! path's own fields (labels, ESI, gateway) read back from its stored path data.

use super::view::{EvpnKeyJson, PathJson};
use crate::wire::evpn::{EvpnKey, KeyView, PathData};
use crate::wire::evpn_nlri;

/// The name of a known route type, the number of another.
fn type_name(route_type: u8) -> String {
    match route_type {
        1 => "ethernet-ad".into(),
        2 => "mac-ip".into(),
        3 => "inclusive-multicast".into(),
        4 => "ethernet-segment".into(),
        5 => "ip-prefix".into(),
        n => n.to_string(),
    }
}

pub fn key_json(key: &EvpnKey) -> EvpnKeyJson {
    let mut j = EvpnKeyJson {
        route_type: type_name(key.route_type()),
        ..EvpnKeyJson::default()
    };
    match key.view() {
        KeyView::EthernetAd { esi, etag, .. } => {
            j.esi = Some(esi.to_string());
            j.ethernet_tag = Some(etag);
        }
        KeyView::MacIp { etag, mac, ip, .. } => {
            j.ethernet_tag = Some(etag);
            j.mac = Some(mac.to_string());
            j.ip = ip.map(|ip| ip.to_string());
        }
        KeyView::Multicast {
            etag, originator, ..
        } => {
            j.ethernet_tag = Some(etag);
            j.ip = Some(originator.to_string());
        }
        KeyView::EthernetSegment {
            esi, originator, ..
        } => {
            j.esi = Some(esi.to_string());
            j.ip = Some(originator.to_string());
        }
        KeyView::IpPrefix { etag, .. } => j.ethernet_tag = Some(etag),
        KeyView::Opaque { value, .. } => {
            j.value = Some(value.iter().map(|b| format!("{b:02x}")).collect());
        }
        KeyView::Hashed { .. } => {}
    }
    j
}

/// `path` with the fields of the path data `data` stored for a route with `key`.
pub fn with_path_data(key: &EvpnKey, data: &[u8], path: PathJson) -> PathJson {
    match evpn_nlri::read(key, data) {
        Some(PathData::EthernetAd { label }) => PathJson {
            labels: vec![label.value()],
            ..path
        },
        Some(PathData::MacIp {
            esi,
            label1,
            label2,
        }) => PathJson {
            labels: std::iter::once(label1)
                .chain(label2)
                .map(|l| l.value())
                .collect(),
            esi: Some(esi.to_string()),
            ..path
        },
        Some(PathData::IpPrefix {
            esi,
            gateway,
            label,
        }) => PathJson {
            labels: vec![label.value()],
            esi: Some(esi.to_string()),
            gateway: Some(gateway.to_string()),
            ..path
        },
        Some(PathData::None | PathData::Opaque(_)) | None => path,
    }
}

/// The extended communities EVPN routes carry, as GoBGP names them: the encapsulation
/// (RFC 9012 §4.1, type 0x03 sub-type 0x0c) and the EVPN type 0x06 ones (RFC 7432 §7.5-7.7,
/// RFC 9135 §8.1); None for any other.
pub fn ext_community(c: &[u8; 8]) -> Option<String> {
    let mac = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let u32_at = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
    Some(match (c[0] & 0x3f, c[1]) {
        (0x03, 0x0c) => match u16::from_be_bytes([c[6], c[7]]) {
            8 => "encap vxlan".to_string(),
            9 => "encap nvgre".to_string(),
            10 => "encap mpls".to_string(),
            11 => "encap mpls-in-gre".to_string(),
            12 => "encap vxlan-gpe".to_string(),
            13 => "encap mpls-in-udp".to_string(),
            t => format!("encap {t}"),
        },
        (0x06, 0x00) => {
            let sticky = if c[2] & 1 != 0 { " sticky" } else { "" };
            format!("mac-mobility {}{sticky}", u32_at(4))
        }
        (0x06, 0x01) => {
            let label = u32_at(4) & 0x00ff_ffff;
            let single = if c[2] & 1 != 0 { " single-active" } else { "" };
            format!("esi-label {label}{single}")
        }
        (0x06, 0x02) => format!("es-import {}", mac(&c[2..])),
        (0x06, 0x03) => format!("router-mac {}", mac(&c[2..])),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evpn_extended_communities_are_named_and_others_left_alone() {
        let show = |c: [u8; 8]| ext_community(&c);
        assert_eq!(
            show([3, 0x0c, 0, 0, 0, 0, 0, 8]).as_deref(),
            Some("encap vxlan")
        );
        assert_eq!(
            show([6, 0, 1, 0, 0, 0, 0, 7]).as_deref(),
            Some("mac-mobility 7 sticky")
        );
        assert_eq!(
            show([6, 1, 0, 0, 0, 0, 0x06, 0x41]).as_deref(),
            Some("esi-label 1601")
        );
        assert_eq!(
            show([6, 3, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]).as_deref(),
            Some("router-mac aa:bb:cc:dd:ee:ff")
        );
        assert_eq!(show([0, 2, 0xfd, 0xe8, 0, 0, 0, 1]), None, "a route target");
    }
}
