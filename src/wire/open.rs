//! OPEN (RFC 4271 §4.2) with optional parameters, RFC 9072 extended optional parameters
//! length, and capabilities (RFC 5492). Only syntax is checked here: version, AS, hold
//! time and BGP Identifier semantics are the FSM's job.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Version    |     My Autonomous System      |   Hold Time   :
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :               |                BGP Identifier                 :
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :               | Opt Parm Len  |  Optional Parameters (variable)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! Optional parameter: | Type (1) | Length (1, or 2 under RFC 9072) | Value |
//! Capability:         | Code (1) | Length (1) | Value |
//! ```

use super::error::DecodeError;
use super::framing;
use super::message::*;
use super::reader::Reader;

/// Header + the 10 fixed bytes.
pub(crate) const MIN_LEN: usize = HEADER_LEN + 10;

const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072 §2: Non-Ext OP Type marking the extended encoding.
const PARAM_EXTENDED: u8 = 255;

const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_ROUTE_REFRESH: u8 = 2;
const CAP_EXTENDED_NEXT_HOP: u8 = 5;
const CAP_EXTENDED_MESSAGE: u8 = 6;
const CAP_GRACEFUL_RESTART: u8 = 64;
const CAP_FOUR_OCTET_AS: u8 = 65;
const CAP_ADD_PATH: u8 = 69;
const CAP_ENHANCED_ROUTE_REFRESH: u8 = 70;

fn open_error(subcode: u8, data: Vec<u8>, reason: &'static str) -> DecodeError {
    DecodeError::new(notif::OPEN_MESSAGE, subcode, data, reason)
}

fn malformed(reason: &'static str) -> DecodeError {
    // RFC 4271 gives no subcode for a malformed parameter list: 0 (unspecific).
    open_error(0, Vec::new(), reason)
}

pub(crate) fn decode(body: &[u8]) -> Result<Open, DecodeError> {
    let mut r = Reader::new(body);
    let short = || malformed("OPEN shorter than its fixed fields");
    let version = r.u8().ok_or_else(short)?;
    let my_as = r.u16().ok_or_else(short)?;
    let hold_time = r.u16().ok_or_else(short)?;
    let bgp_id = r.ipv4().ok_or_else(short)?;
    let opt_len = r.u8().ok_or_else(short)?;

    // RFC 9072 §2: length 255 and first type 255 announce 2-octet lengths.
    let extended = opt_len == 255 && r.rest().first() == Some(&PARAM_EXTENDED);
    let params = if extended {
        r.u8();
        let len = r
            .u16()
            .ok_or_else(|| malformed("extended optional parameters length"))?;
        r.take(len as usize)
            .ok_or_else(|| malformed("optional parameters overrun the OPEN"))?
    } else {
        r.take(opt_len as usize)
            .ok_or_else(|| malformed("optional parameters overrun the OPEN"))?
    };
    if !r.is_empty() {
        return Err(malformed("bytes after the optional parameters"));
    }

    let mut capabilities = Vec::new();
    let mut p = Reader::new(params);
    while !p.is_empty() {
        let kind = p
            .u8()
            .ok_or_else(|| malformed("truncated optional parameter"))?;
        let len = if extended {
            p.u16()
        } else {
            p.u8().map(u16::from)
        };
        let len = len.ok_or_else(|| malformed("truncated optional parameter"))?;
        let value = p
            .take(len as usize)
            .ok_or_else(|| malformed("optional parameter overruns the list"))?;
        if kind != PARAM_CAPABILITIES {
            return Err(open_error(
                notif::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
                "unsupported optional parameter",
            ));
        }
        decode_capabilities(value, &mut capabilities)?;
    }
    Ok(Open {
        version,
        my_as,
        hold_time,
        bgp_id,
        capabilities,
    })
}

fn decode_capabilities(mut buf: &[u8], out: &mut Vec<Capability>) -> Result<(), DecodeError> {
    while !buf.is_empty() {
        let mut r = Reader::new(buf);
        let bad = || malformed("capability overruns its parameter");
        let code = r.u8().ok_or_else(bad)?;
        let len = r.u8().ok_or_else(bad)?;
        let value = r.take(len as usize).ok_or_else(bad)?;
        let raw = buf.get(..2 + len as usize).unwrap_or_default();
        buf = r.rest();
        out.push(decode_capability(code, value).ok_or_else(|| {
            open_error(
                0,
                raw.to_vec(),
                "capability with a malformed length or value",
            )
        })?);
    }
    Ok(())
}

/// None: the value does not fit the capability's format.
fn decode_capability(code: u8, value: &[u8]) -> Option<Capability> {
    let mut r = Reader::new(value);
    let cap = match code {
        CAP_MULTIPROTOCOL => {
            let afi = r.u16()?;
            let _reserved = r.u8()?;
            let safi = r.u8()?;
            Capability::Multiprotocol { afi, safi }
        }
        CAP_ROUTE_REFRESH => Capability::RouteRefresh,
        CAP_EXTENDED_MESSAGE => Capability::ExtendedMessage,
        CAP_ENHANCED_ROUTE_REFRESH => Capability::EnhancedRouteRefresh,
        CAP_FOUR_OCTET_AS => Capability::FourOctetAs(r.u32()?),
        CAP_GRACEFUL_RESTART => {
            let head = r.u16()?;
            if r.remaining() % 4 != 0 {
                return None;
            }
            let mut families = Vec::with_capacity(r.remaining() / 4);
            while !r.is_empty() {
                let afi = r.u16()?;
                let safi = r.u8()?;
                let flags = r.u8()?;
                families.push((afi, safi, flags & 0x80 != 0));
            }
            Capability::GracefulRestart(GracefulRestart {
                restart_state: head & 0x8000 != 0,
                notification: head & 0x4000 != 0,
                restart_time: head & 0x0fff,
                families,
            })
        }
        CAP_EXTENDED_NEXT_HOP => {
            if r.remaining() % 6 != 0 {
                return None;
            }
            let mut families = Vec::with_capacity(r.remaining() / 6);
            while !r.is_empty() {
                families.push((r.u16()?, r.u16()?, r.u16()?));
            }
            Capability::ExtendedNextHop(families)
        }
        CAP_ADD_PATH => {
            if r.remaining() % 4 != 0 {
                return None;
            }
            let mut families = Vec::with_capacity(r.remaining() / 4);
            while !r.is_empty() {
                let afi = r.u16()?;
                let safi = r.u8()?;
                let mode = match r.u8()? {
                    1 => AddPathMode::Receive,
                    2 => AddPathMode::Send,
                    3 => AddPathMode::Both,
                    _ => return None,
                };
                families.push((afi, safi, mode));
            }
            Capability::AddPath(families)
        }
        _ => {
            return Some(Capability::Unknown {
                code,
                data: value.to_vec(),
            })
        }
    };
    // Fixed-size capabilities must not carry trailing bytes.
    r.is_empty().then_some(cap)
}

fn encode_capability(c: &Capability, out: &mut Vec<u8>) {
    let mut tlv = |code: u8, value: &[u8]| {
        // A capability value has a 1-octet length; longer ones cannot be sent.
        if let Ok(len) = u8::try_from(value.len()) {
            out.push(code);
            out.push(len);
            out.extend_from_slice(value);
        }
    };
    match c {
        Capability::Multiprotocol { afi, safi } => {
            let a = afi.to_be_bytes();
            tlv(CAP_MULTIPROTOCOL, &[a[0], a[1], 0, *safi]);
        }
        Capability::RouteRefresh => tlv(CAP_ROUTE_REFRESH, &[]),
        Capability::ExtendedMessage => tlv(CAP_EXTENDED_MESSAGE, &[]),
        Capability::EnhancedRouteRefresh => tlv(CAP_ENHANCED_ROUTE_REFRESH, &[]),
        Capability::FourOctetAs(asn) => tlv(CAP_FOUR_OCTET_AS, &asn.to_be_bytes()),
        Capability::GracefulRestart(gr) => {
            let mut v = Vec::with_capacity(2 + 4 * gr.families.len());
            let head = (gr.restart_time & 0x0fff)
                | if gr.restart_state { 0x8000 } else { 0 }
                | if gr.notification { 0x4000 } else { 0 };
            v.extend_from_slice(&head.to_be_bytes());
            for &(afi, safi, fwd) in &gr.families {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(safi);
                v.push(if fwd { 0x80 } else { 0 });
            }
            tlv(CAP_GRACEFUL_RESTART, &v);
        }
        Capability::ExtendedNextHop(families) => {
            let mut v = Vec::with_capacity(6 * families.len());
            for &(afi, safi, nh_afi) in families {
                for x in [afi, safi, nh_afi] {
                    v.extend_from_slice(&x.to_be_bytes());
                }
            }
            tlv(CAP_EXTENDED_NEXT_HOP, &v);
        }
        Capability::AddPath(families) => {
            let mut v = Vec::with_capacity(4 * families.len());
            for &(afi, safi, mode) in families {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(safi);
                v.push(mode as u8);
            }
            tlv(CAP_ADD_PATH, &v);
        }
        Capability::Unknown { code, data } => tlv(*code, data),
    }
}

/// All capabilities go in one Capabilities parameter; RFC 9072's extended encoding is used
/// only when they do not fit a 1-octet length.
pub(crate) fn encode(o: &Open, out: &mut Vec<u8>) {
    let at = framing::start(out, MSG_OPEN);
    out.push(o.version);
    out.extend_from_slice(&o.my_as.to_be_bytes());
    out.extend_from_slice(&o.hold_time.to_be_bytes());
    out.extend_from_slice(&o.bgp_id.octets());
    let mut caps = Vec::with_capacity(64);
    for c in &o.capabilities {
        encode_capability(c, &mut caps);
    }
    if caps.is_empty() {
        out.push(0);
    } else if caps.len() + 2 < 255 {
        out.push(caps.len() as u8 + 2);
        out.push(PARAM_CAPABILITIES);
        out.push(caps.len() as u8);
        out.extend_from_slice(&caps);
    } else {
        let caps = &caps[..caps.len().min(u16::MAX as usize - 3)];
        out.extend_from_slice(&[255, PARAM_EXTENDED]);
        out.extend_from_slice(&(caps.len() as u16 + 3).to_be_bytes());
        out.push(PARAM_CAPABILITIES);
        out.extend_from_slice(&(caps.len() as u16).to_be_bytes());
        out.extend_from_slice(caps);
    }
    framing::finish(out, at);
}

#[cfg(test)]
mod tests {
    use super::super::{decode as decode_msg, encode as encode_msg};
    use super::*;
    use std::net::Ipv4Addr;

    fn ctx() -> CodecCtx {
        CodecCtx::default()
    }

    fn with_header(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((body.len() + 19) as u16).to_be_bytes());
        m.push(MSG_OPEN);
        m.extend_from_slice(body);
        m
    }

    fn full_open() -> Open {
        Open {
            version: 4,
            my_as: AS_TRANS,
            hold_time: 90,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: vec![
                Capability::Multiprotocol { afi: 1, safi: 1 },
                Capability::Multiprotocol { afi: 2, safi: 1 },
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(4_200_000_000),
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: true,
                    notification: true,
                    restart_time: 120,
                    families: vec![(1, 1, true), (2, 1, false)],
                }),
                Capability::AddPath(vec![(1, 1, AddPathMode::Both), (2, 1, AddPathMode::Send)]),
                Capability::ExtendedNextHop(vec![(1, 1, 2), (1, 128, 2)]),
                Capability::Unknown {
                    code: 73,
                    data: b"\x04host".to_vec(),
                },
            ],
        }
    }

    #[test]
    fn open_with_capabilities_decodes_from_known_bytes() {
        // Version 4, AS 65001, hold 180, id 10.0.0.1, one Capabilities parameter holding
        // MP(IPv4 unicast), Route Refresh and 4-octet AS 65001.
        let body = [
            4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 16, // fixed fields, opt len 16
            2, 14, // Capabilities parameter
            1, 4, 0, 1, 0, 1, // MP
            2, 0, // Route Refresh
            65, 4, 0, 0, 0xfd, 0xe9, // 4-octet AS
        ];
        let m = with_header(&body);
        let Message::Open(o) = decode_msg(&m, &ctx()).unwrap() else {
            panic!()
        };
        assert_eq!(o.version, 4);
        assert_eq!(o.my_as, 65001);
        assert_eq!(o.hold_time, 180);
        assert_eq!(o.bgp_id, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            o.capabilities,
            vec![
                Capability::Multiprotocol { afi: 1, safi: 1 },
                Capability::RouteRefresh,
                Capability::FourOctetAs(65001)
            ]
        );
        assert_eq!(o.asn(), 65001);
        let mut out = Vec::new();
        encode_msg(&Message::Open(o), &ctx(), &mut out);
        assert_eq!(out, m);
    }

    #[test]
    fn open_with_every_capability_round_trips() {
        let o = full_open();
        let mut out = Vec::new();
        encode_msg(&Message::Open(o.clone()), &ctx(), &mut out);
        assert_eq!(decode_msg(&out, &ctx()).unwrap(), Message::Open(o.clone()));
        assert_eq!(o.asn(), 4_200_000_000);
    }

    #[test]
    fn capabilities_in_separate_parameters_are_all_kept() {
        let body = [4, 0, 1, 0, 90, 1, 1, 1, 1, 8, 2, 2, 2, 0, 2, 2, 70, 0];
        let Message::Open(o) = decode_msg(&with_header(&body), &ctx()).unwrap() else {
            panic!()
        };
        assert_eq!(
            o.capabilities,
            vec![Capability::RouteRefresh, Capability::EnhancedRouteRefresh]
        );
    }

    #[test]
    fn open_with_many_capabilities_uses_rfc9072_extended_parameters_and_round_trips() {
        let mut o = full_open();
        for code in 100..140 {
            o.capabilities.push(Capability::Unknown {
                code,
                data: vec![code; 6],
            });
        }
        let mut out = Vec::new();
        encode_msg(&Message::Open(o.clone()), &ctx(), &mut out);
        assert_eq!(&out[28..30], &[255, 255]);
        assert_eq!(decode_msg(&out, &ctx()).unwrap(), Message::Open(o));
    }

    #[test]
    fn open_shorter_than_29_is_bad_message_length() {
        let m = with_header(&[4, 0, 1, 0, 90, 1, 1, 1, 1]);
        let e = decode_msg(&m, &ctx()).unwrap_err().notification;
        assert_eq!((e.code, e.subcode, e.data), (1, 2, vec![0, 28]));
    }

    #[test]
    fn non_capability_parameter_is_unsupported_optional_parameter() {
        let body = [4, 0, 1, 0, 90, 1, 1, 1, 1, 4, 1, 2, 0, 0];
        let e = decode_msg(&with_header(&body), &ctx())
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (2, 4));
    }

    #[test]
    fn malformed_capability_lengths_are_open_message_errors() {
        let cases: &[&[u8]] = &[
            &[1, 3, 0, 1, 0],       // MP too short
            &[1, 5, 0, 1, 0, 1, 0], // MP too long
            &[2, 1, 0],             // Route Refresh with a value
            &[65, 2, 0, 1],         // 4-octet AS too short
            &[64, 1, 0],            // GR without its header
            &[64, 4, 0, 0, 0, 1],   // GR with a partial family
            &[69, 3, 0, 1, 1],      // ADD-PATH partial
            &[69, 4, 0, 1, 1, 9],   // ADD-PATH bad mode
            &[6, 1, 0],             // Extended Message with a value
            &[65, 9, 0, 0, 0, 1],   // capability overruns the parameter
        ];
        for caps in cases {
            let mut body = vec![4, 0, 1, 0, 90, 1, 1, 1, 1, caps.len() as u8 + 2, 2];
            body.push(caps.len() as u8);
            body.extend_from_slice(caps);
            let e = decode_msg(&with_header(&body), &ctx())
                .unwrap_err()
                .notification;
            assert_eq!((e.code, e.subcode), (2, 0), "{caps:?}");
        }
    }

    #[test]
    fn optional_parameters_length_disagreeing_with_the_message_is_an_open_error() {
        for body in [
            &[4, 0, 1, 0, 90, 1, 1, 1, 1, 4, 2, 0][..], // says 4, has 2
            &[4, 0, 1, 0, 90, 1, 1, 1, 1, 0, 2, 0],     // says 0, has 2
            &[4, 0, 1, 0, 90, 1, 1, 1, 1, 2, 2, 1],     // parameter overruns
        ] {
            let e = decode_msg(&with_header(body), &ctx())
                .unwrap_err()
                .notification;
            assert_eq!(e.code, 2, "{body:?}");
        }
    }

    #[test]
    fn open_decoder_leaves_version_and_hold_time_semantics_to_the_fsm() {
        let body = [3, 0, 0, 0, 1, 0, 0, 0, 0, 0];
        let Message::Open(o) = decode_msg(&with_header(&body), &ctx()).unwrap() else {
            panic!()
        };
        assert_eq!((o.version, o.my_as, o.hold_time), (3, 0, 1));
    }

    #[test]
    fn extended_next_hop_reads_as_rfc_8950_writes_it() {
        // Capability 5, length 12: IPv4 unicast and VPN-IPv4 over an IPv6 next hop.
        let bytes = [5, 12, 0, 1, 0, 1, 0, 2, 0, 1, 0, 128, 0, 2];
        let mut caps = Vec::new();
        decode_capabilities(&bytes, &mut caps).unwrap();
        assert_eq!(
            caps,
            [Capability::ExtendedNextHop(vec![(1, 1, 2), (1, 128, 2)])]
        );
        let mut out = Vec::new();
        encode_capability(&caps[0], &mut out);
        assert_eq!(out, bytes);
        // Not a whole number of triples.
        assert!(decode_capabilities(&[5, 4, 0, 1, 0, 1], &mut caps).is_err());
    }
}
