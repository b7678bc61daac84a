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
