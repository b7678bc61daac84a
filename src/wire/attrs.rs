//! Path attributes (RFC 4271 §4.3, §5) and their RFC 7606 verdicts: each attribute is
//! checked on its own and the error resolved by the per-attribute table (§7), the strongest
//! outcome winning (session reset > treat-as-withdraw > attribute discard).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |O|T|P|E| unused|  Type code    |  Length (1, or 2 if E) | Value
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Encoding writes the attributes in ascending type code. MP_REACH_NLRI (14) and
//! MP_UNREACH_NLRI (15) carry the NLRI, so they are written per message between the two
//! halves produced by `encode`.

use super::as4;
use super::attr_code::*;
use super::error::DecodeError;
use super::message::*;
use super::nlri;
use super::reader::Reader;
use super::types::*;
use super::vpn::{Labeled, Vpn4, Vpn6};
use std::net::Ipv4Addr;

/// What a malformed attribute leads to.
#[derive(Debug)]
enum Fault {
    Withdraw(&'static str),
    Discard(&'static str),
    Reset(DecodeError),
}

/// The outcome RFC 7606 §7 gives a known attribute whose length (or flags) is wrong.
fn malformed(code: u8, raw: &[u8], reason: &'static str) -> Fault {
    match code {
        ATOMIC_AGGREGATE | AGGREGATOR | AS4_PATH | AS4_AGGREGATOR => Fault::Discard(reason),
        // RFC 7606 §7.11 / RFC 4760 §7: the NLRI cannot be located reliably.
        MP_REACH_NLRI | MP_UNREACH_NLRI => Fault::Reset(update_error(
            notif::OPTIONAL_ATTRIBUTE_ERROR,
            raw.to_vec(),
            reason,
        )),
        _ => Fault::Withdraw(reason),
    }
}

pub(crate) fn update_error(subcode: u8, data: Vec<u8>, reason: &'static str) -> DecodeError {
    DecodeError::new(notif::UPDATE_MESSAGE, subcode, data, reason)
}

/// The path-attribute section of one UPDATE, decoded.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub attrs: PathAttrs,
    /// Some attribute other than MP_UNREACH_NLRI was present.
    pub any: bool,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub errors: Vec<AttrError>,
    seen: [u64; 4],
    as4_path: Option<AsPath>,
    as4_aggregator: Option<(u32, Ipv4Addr)>,
}

impl Decoded {
    pub(crate) fn seen(&self, code: u8) -> bool {
        self.seen[(code / 64) as usize] & (1 << (code % 64)) != 0
    }

    fn mark(&mut self, code: u8) {
        self.seen[(code / 64) as usize] |= 1 << (code % 64);
    }

    pub(crate) fn push_error(&mut self, code: u8, action: AttrAction, reason: &'static str) {
        self.errors.push(AttrError {
            code,
            action,
            reason,
        });
    }
}

/// The segments of a 4-octet AS_PATH value already checked (a stored set's, or one `scan`
/// accepted): (segment type, its ASNs as bytes); a segment overrunning the value is cut at
/// its end.
pub(crate) fn as4_segments(mut value: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let [kind, count, rest @ ..] = value else {
            return None;
        };
        let (asns, next) = rest.split_at((4 * usize::from(*count)).min(rest.len()));
        value = next;
        Some((*kind, asns))
    })
}

/// Decodes the path-attribute section. `Err` is a session reset; everything RFC 7606
/// resolves otherwise is in `Decoded::errors`.
pub(crate) fn decode(section: &[u8], ctx: &CodecCtx) -> Result<Decoded, DecodeError> {
    let mut d = Decoded::default();
    decode_into(section, ctx, &mut d)?;
    Ok(d)
}

/// `decode` into `d` (empty): spares the caller a move of the whole `Decoded` (several
/// hundred bytes) through the `Result` for every UPDATE.
pub(crate) fn decode_into(
    section: &[u8],
    ctx: &CodecCtx,
    d: &mut Decoded,
) -> Result<(), DecodeError> {
    let mut rest = section;
    while !rest.is_empty() {
        let mut r = Reader::new(rest);
        let flags = r.u8().unwrap_or(0);
        let code = r.u8();
        let len = if flags & EXTENDED_LENGTH != 0 {
            r.u16()
        } else {
            r.u8().map(u16::from)
        };
        let (Some(code), Some(len)) = (code, len) else {
            // RFC 7606 §4: too few bytes left for an attribute header.
            if matches!(code, Some(MP_REACH_NLRI | MP_UNREACH_NLRI)) {
                return Err(update_error(
                    notif::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    "truncated MP attribute header",
                ));
            }
            d.push_error(
                code.unwrap_or(0),
                AttrAction::TreatAsWithdraw,
                "truncated attribute header",
            );
            // Not "no attributes": this UPDATE must not look like an End-of-RIB.
            d.any = true;
            break;
        };
        let header = rest.len() - r.remaining();
        let Some(value) = r.take(len as usize) else {
            // RFC 7606 §4: the attribute overruns the section; the Total Path Attribute
            // Length still locates the NLRI field. Not so for the MP attributes, whose
            // NLRI would be lost.
            if code == MP_REACH_NLRI || code == MP_UNREACH_NLRI {
                return Err(update_error(
                    notif::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    "MP attribute overruns the path attributes",
                ));
            }
            d.push_error(
                code,
                AttrAction::TreatAsWithdraw,
                "attribute overruns the path attributes",
            );
            d.any = true;
            break;
        };
        let raw = rest.get(..header + value.len()).unwrap_or_default();
        rest = r.rest();
        d.attribute(flags, code, value, raw, ctx)?;
    }
    d.finish(ctx);
    Ok(())
}

impl Decoded {
    fn attribute(
        &mut self,
        flags: u8,
        code: u8,
        value: &[u8],
        raw: &[u8],
        ctx: &CodecCtx,
    ) -> Result<(), DecodeError> {
        if code != MP_UNREACH_NLRI {
            self.any = true;
        }
        if self.seen(code) {
            // RFC 7606 §3 g.
            if code == MP_REACH_NLRI || code == MP_UNREACH_NLRI {
                return Err(update_error(
                    notif::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    "MP_REACH_NLRI or MP_UNREACH_NLRI appears twice",
                ));
            }
            self.push_error(code, AttrAction::Discard, "attribute appears twice");
            return Ok(());
        }
        self.mark(code);
        let result = match expected_flags(code) {
            Some(want) if flags & (OPTIONAL | TRANSITIVE) != want => {
                // RFC 7606 §3 c: handled like the attribute's length error.
                let reason = "attribute flags conflict with the type";
                Err(match malformed(code, raw, reason) {
                    Fault::Reset(_) => Fault::Reset(update_error(
                        notif::ATTRIBUTE_FLAGS_ERROR,
                        raw.to_vec(),
                        reason,
                    )),
                    f => f,
                })
            }
            Some(_) => self.known(code, value, raw, ctx),
            None => self.unknown(flags, code, value, raw),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Fault::Withdraw(reason)) => {
                self.push_error(code, AttrAction::TreatAsWithdraw, reason);
                Ok(())
            }
            Err(Fault::Discard(reason)) => {
                self.push_error(code, AttrAction::Discard, reason);
                Ok(())
            }
            Err(Fault::Reset(e)) => Err(e),
        }
    }

    fn unknown(&mut self, flags: u8, code: u8, value: &[u8], raw: &[u8]) -> Result<(), Fault> {
        if flags & OPTIONAL == 0 {
            return Err(Fault::Reset(update_error(
                notif::UNRECOGNIZED_WELL_KNOWN,
                raw.to_vec(),
                "unrecognized well-known attribute",
            )));
        }
        // Optional non-transitive: quietly dropped (RFC 4271 §5).
        if flags & TRANSITIVE != 0 {
            self.attrs.unknown.push(RawAttr {
                flags: flags & (OPTIONAL | TRANSITIVE | PARTIAL),
                code,
                data: value.to_vec(),
            });
        }
        Ok(())
    }

    fn known(&mut self, code: u8, value: &[u8], raw: &[u8], ctx: &CodecCtx) -> Result<(), Fault> {
        let bad = |reason| malformed(code, raw, reason);
        let a = &mut self.attrs;
        match code {
            ORIGIN => {
                a.origin = match value {
                    [v] => Origin::from_octet(*v).ok_or_else(|| bad("undefined ORIGIN value"))?,
                    _ => return Err(bad("ORIGIN length is not 1")),
                }
            }
            AS_PATH => {
                a.as_path = decode_as_path(value, ctx.four_octet_as)
                    .ok_or_else(|| bad("malformed AS_PATH"))?
            }
            NEXT_HOP => {
                a.next_hop =
                    NextHop::V4(ipv4(value).ok_or_else(|| bad("NEXT_HOP length is not 4"))?)
            }
            MED => a.med = Some(u32_of(value).ok_or_else(|| bad("MED length is not 4"))?),
            LOCAL_PREF => {
                a.local_pref = Some(u32_of(value).ok_or_else(|| bad("LOCAL_PREF length is not 4"))?)
            }
            ATOMIC_AGGREGATE => {
                if !value.is_empty() {
                    return Err(bad("ATOMIC_AGGREGATE length is not 0"));
                }
                a.atomic_aggregate = true;
            }
            AGGREGATOR => {
                let mut r = Reader::new(value);
                let asn = if ctx.four_octet_as {
                    r.u32()
                } else {
                    r.u16().map(u32::from)
                };
                match (asn, r.ipv4(), r.is_empty()) {
                    (Some(asn), Some(id), true) => a.aggregator = Some((asn, id)),
                    _ => return Err(bad("AGGREGATOR length is wrong for the AS size")),
                }
            }
            COMMUNITIES => {
                a.communities = chunks(value, "COMMUNITIES length is not a non-zero multiple of 4")
                    .map_err(bad)?
                    .map(u32::from_be_bytes)
                    .collect();
            }
            ORIGINATOR_ID => {
                a.originator_id =
                    Some(ipv4(value).ok_or_else(|| bad("ORIGINATOR_ID length is not 4"))?)
            }
            CLUSTER_LIST => {
                a.cluster_list =
                    chunks(value, "CLUSTER_LIST length is not a non-zero multiple of 4")
                        .map_err(bad)?
                        .map(Ipv4Addr::from)
                        .collect();
            }
            EXT_COMMUNITIES => {
                a.ext_communities = chunks(
                    value,
                    "EXTENDED COMMUNITIES length is not a non-zero multiple of 8",
                )
                .map_err(bad)?
                .collect();
            }
            LARGE_COMMUNITIES => {
                a.large_communities = chunks::<12>(
                    value,
                    "LARGE COMMUNITIES length is not a non-zero multiple of 12",
                )
                .map_err(bad)?
                .map(|c| {
                    let w = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                    [w(0), w(4), w(8)]
                })
                .collect();
            }
            AS4_PATH => {
                // RFC 6793 §4.1/§6: a 4-octet speaker must not send it; malformed ones
                // are discarded and the UPDATE processed without them.
                if ctx.four_octet_as {
                    return Err(Fault::Discard("AS4_PATH from a 4-octet AS speaker"));
                }
                let mut p = decode_as_path(value, true).ok_or_else(|| bad("malformed AS4_PATH"))?;
                as4::strip_confed(&mut p);
                self.as4_path = Some(p);
            }
            AS4_AGGREGATOR => {
                if ctx.four_octet_as {
                    return Err(Fault::Discard("AS4_AGGREGATOR from a 4-octet AS speaker"));
                }
                let mut r = Reader::new(value);
                match (r.u32(), r.ipv4(), r.is_empty()) {
                    (Some(asn), Some(id), true) => self.as4_aggregator = Some((asn, id)),
                    _ => return Err(bad("AS4_AGGREGATOR length is not 8")),
                }
            }
            MP_REACH_NLRI => self.mp_reach = Some(decode_mp_reach(value, ctx).map_err(bad)?),
            MP_UNREACH_NLRI => self.mp_unreach = Some(decode_mp_unreach(value, ctx).map_err(bad)?),
            _ => debug_assert!(false, "expected_flags and known disagree on {code}"),
        }
        Ok(())
    }

    /// RFC 6793 §4.2.3: rebuild the 4-octet AS path and aggregator.
    fn finish(&mut self, ctx: &CodecCtx) {
        if ctx.four_octet_as {
            return;
        }
        let (aggregator, use_as4_path) =
            as4::merge_aggregator(self.attrs.aggregator, self.as4_aggregator.take());
        self.attrs.aggregator = aggregator;
        if let Some(as4_path) = self.as4_path.take() {
            if use_as4_path {
                let as_path = std::mem::take(&mut self.attrs.as_path);
                self.attrs.as_path = as4::merge_path(as_path, as4_path);
            }
        }
    }
}

fn ipv4(value: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from)
}

fn u32_of(value: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes)
}

/// `value` as fixed-size chunks; an empty value or a partial chunk is an error.
fn chunks<'a, const N: usize>(
    value: &'a [u8],
    reason: &'static str,
) -> Result<impl Iterator<Item = [u8; N]> + 'a, &'static str> {
    if value.is_empty() || value.len() % N != 0 {
        return Err(reason);
    }
    Ok(value
        .chunks_exact(N)
        .filter_map(|c| <[u8; N]>::try_from(c).ok()))
}

/// AS_PATH / AS4_PATH segments (RFC 4271 §4.3, RFC 7606 §7.2). None if malformed: an
/// unknown segment type, a zero-length segment or a segment overrunning the attribute.
pub(crate) fn decode_as_path(value: &[u8], four_octet: bool) -> Option<AsPath> {
    let width = if four_octet { 4 } else { 2 };
    let mut r = Reader::new(value);
    let mut segments = Vec::with_capacity(value.len().min(64) / (2 + width) + 1);
    while !r.is_empty() {
        let kind = match r.u8()? {
            1 => SegmentKind::Set,
            2 => SegmentKind::Sequence,
            3 => SegmentKind::ConfedSequence,
            4 => SegmentKind::ConfedSet,
            _ => return None,
        };
        let count = r.u8()? as usize;
        if count == 0 {
            return None;
        }
        let bytes = r.take(count * width)?;
        let asns = if four_octet {
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
                .collect()
        };
        segments.push(AsSegment { kind, asns });
    }
    Some(AsPath { segments })
}

fn add_path_rx(ctx: &CodecCtx, afi: u16, safi: u8) -> bool {
    Family::from_afi_safi(afi, safi).is_some_and(|f| ctx.add_path_rx.contains(f))
}

/// RFC 4760 §3.
/// ```text
/// | AFI (2) | SAFI (1) | NH len (1) | Next hop (var) | Reserved (1) | NLRI (var) |
/// ```
fn decode_mp_reach(value: &[u8], ctx: &CodecCtx) -> Result<MpReach, &'static str> {
    let mut r = Reader::new(value);
    let short = "MP_REACH_NLRI too short";
    let afi = r.u16().ok_or(short)?;
    let safi = r.u8().ok_or(short)?;
    let nh_len = r.u8().ok_or(short)?;
    let nh = r
        .take(nh_len as usize)
        .ok_or("MP_REACH_NLRI next hop overruns the attribute")?;
    r.u8().ok_or(short)?;
    let add_path = add_path_rx(ctx, afi, safi);
    let bad_nh = "MP_REACH_NLRI next hop length is wrong for the family";
    let (next_hop, nlri) = match (afi, safi) {
        (AFI_IPV4, SAFI_UNICAST) => {
            // 4 octets, or an IPv6 next hop (RFC 8950).
            let nh = decode_next_hop(nh).ok_or(bad_nh)?;
            let mut v = Vec::new();
            nlri::decode_v4(r.rest(), add_path, &mut v)?;
            (nh, NlriSet::Ipv4Unicast(v))
        }
        (AFI_IPV6, SAFI_UNICAST) => {
            let nh = match decode_next_hop(nh) {
                Some(nh @ NextHop::V6 { .. }) => nh,
                _ => return Err(bad_nh),
            };
            let mut v = Vec::new();
            nlri::decode_v6(r.rest(), add_path, &mut v)?;
            (nh, NlriSet::Ipv6Unicast(v))
        }
        (AFI_IPV4 | AFI_IPV6, SAFI_MPLS_VPN) => {
            let nh = decode_vpn_next_hop(nh).ok_or(bad_nh)?;
            // VPN-IPv6 over an IPv4 core uses an IPv4-mapped address (RFC 4659 §3.2.1),
            // so a VPN-IPv6 next hop is always 16 or 32 bytes after its RD.
            if afi == AFI_IPV6 && !matches!(nh, NextHop::V6 { .. }) {
                return Err(bad_nh);
            }
            (nh, vpn_routes(afi, r.rest(), add_path)?)
        }
        (AFI_L2VPN, SAFI_EVPN) => {
            // RFC 7432 §7: the PE's IPv4 or IPv6 address.
            let nh = decode_next_hop(nh).ok_or(bad_nh)?;
            (nh, evpn_routes(r.rest(), add_path)?)
        }
        (AFI_IPV4, SAFI_RT_CONSTRAINT) => {
            // RFC 4684 §4: the advertising speaker's address, IPv4 or IPv6.
            let nh = decode_next_hop(nh).ok_or(bad_nh)?;
            (nh, rtc_routes(r.rest(), add_path)?)
        }
        _ => {
            // Families we do not carry yet: keep what the next hop looks like and skip
            // the NLRI.
            let nh = decode_next_hop(nh)
                .or_else(|| decode_vpn_next_hop(nh))
                .unwrap_or(NextHop::None);
            (nh, NlriSet::Other { afi, safi })
        }
    };
    Ok(MpReach { next_hop, nlri })
}

/// The VPN routes of an MP_REACH_NLRI or MP_UNREACH_NLRI (AFI 1 or 2, SAFI 128).
fn vpn_routes(afi: u16, buf: &[u8], add_path: bool) -> Result<NlriSet, &'static str> {
    Ok(if afi == AFI_IPV4 {
        let mut l = Labeled::default();
        Vpn4::decode_list(buf, add_path, &mut l)?;
        NlriSet::Ipv4Vpn(l)
    } else {
        let mut l = Labeled::default();
        Vpn6::decode_list(buf, add_path, &mut l)?;
        NlriSet::Ipv6Vpn(l)
    })
}

/// The EVPN routes of an MP_REACH_NLRI or MP_UNREACH_NLRI (AFI 25, SAFI 70), each split
/// into its key and its path's fields (`evpn::EvpnRoute::split`). A route type we do not
/// know is kept as its bytes; one that does not parse ends the list (RFC 7606 §7).
fn evpn_routes(buf: &[u8], add_path: bool) -> Result<NlriSet, &'static str> {
    let mut l = Labeled::default();
    for item in super::evpn::iter(buf, add_path) {
        let (_, route) = item?;
        let (key, data) = route.split();
        l.push(key, data);
    }
    Ok(NlriSet::Evpn(l))
}

/// The Route Target memberships of an MP_REACH_NLRI or MP_UNREACH_NLRI (RFC 4684).
fn rtc_routes(buf: &[u8], add_path: bool) -> Result<NlriSet, &'static str> {
    let mut v = Vec::new();
    super::rtc::decode(buf, add_path, &mut v)?;
    Ok(NlriSet::RtConstraint(v))
}

/// A VPN next hop (RFC 4364 §4.3.2, RFC 4659 §3.2, RFC 8950 §3): each address behind an
/// 8-byte Route Distinguisher, which is zero on the wire and not kept (we send zero).
pub(crate) fn decode_vpn_next_hop(nh: &[u8]) -> Option<NextHop> {
    match nh.len() {
        12 | 24 => decode_next_hop(&nh[8..]),
        48 => {
            let mut both = [0u8; 32];
            both[..16].copy_from_slice(&nh[8..24]);
            both[16..].copy_from_slice(&nh[32..48]);
            decode_next_hop(&both)
        }
        _ => None,
    }
}

/// 4 octets IPv4, 16 octets global IPv6, 32 octets global + link-local (RFC 2545 §3).
fn decode_next_hop(nh: &[u8]) -> Option<NextHop> {
    let mut r = Reader::new(nh);
    Some(match nh.len() {
        4 => NextHop::V4(r.ipv4()?),
        16 => NextHop::V6 {
            global: r.ipv6()?,
            link_local: None,
        },
        32 => NextHop::V6 {
            global: r.ipv6()?,
            link_local: Some(r.ipv6()?),
        },
        _ => return None,
    })
}

/// RFC 4760 §4: | AFI (2) | SAFI (1) | Withdrawn routes (var) |
fn decode_mp_unreach(value: &[u8], ctx: &CodecCtx) -> Result<MpUnreach, &'static str> {
    let mut r = Reader::new(value);
    let afi = r.u16().ok_or("MP_UNREACH_NLRI too short")?;
    let safi = r.u8().ok_or("MP_UNREACH_NLRI too short")?;
    let add_path = add_path_rx(ctx, afi, safi);
    let nlri = match (afi, safi) {
        (AFI_IPV4, SAFI_UNICAST) => {
            let mut v = Vec::new();
            nlri::decode_v4(r.rest(), add_path, &mut v)?;
            NlriSet::Ipv4Unicast(v)
        }
        (AFI_IPV6, SAFI_UNICAST) => {
            let mut v = Vec::new();
            nlri::decode_v6(r.rest(), add_path, &mut v)?;
            NlriSet::Ipv6Unicast(v)
        }
        (AFI_IPV4 | AFI_IPV6, SAFI_MPLS_VPN) => vpn_routes(afi, r.rest(), add_path)?,
        (AFI_L2VPN, SAFI_EVPN) => evpn_routes(r.rest(), add_path)?,
        (AFI_IPV4, SAFI_RT_CONSTRAINT) => rtc_routes(r.rest(), add_path)?,
        _ => NlriSet::Other { afi, safi },
    };
    Ok(MpUnreach { nlri })
}

#[cfg(test)]
mod tests {
    use super::super::attrs_encode::encode;
    use super::super::testutil::*;
    use super::*;
    use AttrAction::{Discard, TreatAsWithdraw};

    const NLRI: [u8; 4] = [24, 10, 0, 0];

    fn ctx(four_octet_as: bool) -> CodecCtx {
        CodecCtx {
            four_octet_as,
            ..CodecCtx::default()
        }
    }

    /// Decodes the base UPDATE with `bad` in place of (or beside) attribute `code`.
    fn verdict(four: bool, code: u8, bad: Vec<u8>) -> Update {
        let a = attrs_with(base_attrs(four), code, bad);
        decode_update(&update_msg(&[], &a, &NLRI), &ctx(four)).expect("no session reset")
    }

    fn reset(four: bool, code: u8, bad: Vec<u8>) -> Notification {
        let a = attrs_with(base_attrs(four), code, bad);
        decode_update(&update_msg(&[], &a, &NLRI), &ctx(four))
            .unwrap_err()
            .notification
    }

    fn assert_verdict(u: &Update, code: u8, action: AttrAction) {
        assert!(
            u.attr_errors
                .iter()
                .any(|e| e.code == code && e.action == action),
            "attribute {code}: want {action:?}, got {:?}",
            u.attr_errors
        );
        assert_eq!(
            u.treat_as_withdraw,
            action == TreatAsWithdraw,
            "{:?}",
            u.attr_errors
        );
        assert_eq!(u.nlri.len(), 1, "the NLRI is still located");
    }

    #[test]
    fn valid_base_update_has_no_errors() {
        for four in [false, true] {
            let u = verdict(four, 4, attr(0x80, 4, &[0, 0, 0, 5]));
            assert!(u.attr_errors.is_empty(), "{:?}", u.attr_errors);
            assert!(!u.treat_as_withdraw);
            let a = u.attrs.unwrap();
            assert_eq!(a.as_path.to_string(), "65001");
            assert_eq!(a.med, Some(5));
        }
    }

    #[test]
    fn each_malformed_attribute_gets_its_rfc7606_action() {
        let cases: Vec<(bool, u8, Vec<u8>, AttrAction)> = vec![
            (false, ORIGIN, attr(0x40, 1, &[0, 0]), TreatAsWithdraw),
            (false, ORIGIN, attr(0x40, 1, &[]), TreatAsWithdraw),
            (false, ORIGIN, attr(0x40, 1, &[3]), TreatAsWithdraw),
            (
                false,
                AS_PATH,
                attr(0x40, 2, &[5, 1, 0, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                AS_PATH,
                attr(0x40, 2, &[0, 1, 0, 1]),
                TreatAsWithdraw,
            ),
            (false, AS_PATH, attr(0x40, 2, &[2, 0]), TreatAsWithdraw),
            (
                false,
                AS_PATH,
                attr(0x40, 2, &[2, 2, 0, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                AS_PATH,
                attr(0x40, 2, &[2, 1, 0, 1, 2]),
                TreatAsWithdraw,
            ),
            (true, AS_PATH, attr(0x40, 2, &[2, 1, 0, 1]), TreatAsWithdraw),
            (false, NEXT_HOP, attr(0x40, 3, &[1, 2, 3]), TreatAsWithdraw),
            (
                false,
                NEXT_HOP,
                attr(0x40, 3, &[1, 2, 3, 4, 5]),
                TreatAsWithdraw,
            ),
            (false, MED, attr(0x80, 4, &[1, 2, 3]), TreatAsWithdraw),
            (
                false,
                LOCAL_PREF,
                attr(0x40, 5, &[1, 2, 3, 4, 5]),
                TreatAsWithdraw,
            ),
            (false, ATOMIC_AGGREGATE, attr(0x40, 6, &[1]), Discard),
            (
                false,
                AGGREGATOR,
                attr(0xc0, 7, &[0, 0, 0, 1, 1, 1, 1, 1]),
                Discard,
            ),
            (
                true,
                AGGREGATOR,
                attr(0xc0, 7, &[0, 1, 1, 1, 1, 1]),
                Discard,
            ),
            (
                false,
                COMMUNITIES,
                attr(0xc0, 8, &[1, 2, 3]),
                TreatAsWithdraw,
            ),
            (false, COMMUNITIES, attr(0xc0, 8, &[]), TreatAsWithdraw),
            (
                false,
                ORIGINATOR_ID,
                attr(0x80, 9, &[1, 2, 3, 4, 5]),
                TreatAsWithdraw,
            ),
            (false, CLUSTER_LIST, attr(0x80, 10, &[]), TreatAsWithdraw),
            (
                false,
                CLUSTER_LIST,
                attr(0x80, 10, &[1, 2, 3, 4, 5, 6]),
                TreatAsWithdraw,
            ),
            (
                false,
                EXT_COMMUNITIES,
                attr(0xc0, 16, &[0; 7]),
                TreatAsWithdraw,
            ),
            (false, EXT_COMMUNITIES, attr(0xc0, 16, &[]), TreatAsWithdraw),
            (false, AS4_PATH, attr(0xc0, 17, &[2, 1, 0, 1]), Discard),
            (false, AS4_PATH, attr(0xc0, 17, &[2, 0]), Discard),
            (
                false,
                AS4_AGGREGATOR,
                attr(0xc0, 18, &[0, 1, 1, 1, 1, 1]),
                Discard,
            ),
            (
                false,
                LARGE_COMMUNITIES,
                attr(0xc0, 32, &[0; 11]),
                TreatAsWithdraw,
            ),
            (
                false,
                LARGE_COMMUNITIES,
                attr(0xc0, 32, &[0; 13]),
                TreatAsWithdraw,
            ),
            // Flag errors (RFC 7606 §3 c): the attribute's own action.
            (false, ORIGIN, attr(0xc0, 1, &[0]), TreatAsWithdraw),
            (
                false,
                AS_PATH,
                attr(0x80, 2, &[2, 1, 0, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                NEXT_HOP,
                attr(0x00, 3, &[1, 2, 3, 4]),
                TreatAsWithdraw,
            ),
            (false, MED, attr(0x40, 4, &[0, 0, 0, 1]), TreatAsWithdraw),
            (
                false,
                LOCAL_PREF,
                attr(0xc0, 5, &[0, 0, 0, 1]),
                TreatAsWithdraw,
            ),
            (false, ATOMIC_AGGREGATE, attr(0x80, 6, &[]), Discard),
            (
                false,
                AGGREGATOR,
                attr(0x40, 7, &[0, 1, 1, 1, 1, 1]),
                Discard,
            ),
            (
                false,
                COMMUNITIES,
                attr(0x80, 8, &[0, 0, 0, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                ORIGINATOR_ID,
                attr(0xc0, 9, &[1, 1, 1, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                CLUSTER_LIST,
                attr(0x40, 10, &[1, 1, 1, 1]),
                TreatAsWithdraw,
            ),
            (
                false,
                EXT_COMMUNITIES,
                attr(0x80, 16, &[0; 8]),
                TreatAsWithdraw,
            ),
            (
                false,
                AS4_PATH,
                attr(0x80, 17, &[2, 1, 0, 0, 0, 1]),
                Discard,
            ),
            (
                false,
                LARGE_COMMUNITIES,
                attr(0x40, 32, &[0; 12]),
                TreatAsWithdraw,
            ),
        ];
        for (four, code, bad, action) in cases {
            let u = verdict(four, code, bad.clone());
            assert_verdict(&u, code, action);
            let _ = bad;
        }
    }

    #[test]
    fn discarded_attributes_leave_the_route_usable() {
        let u = verdict(false, ATOMIC_AGGREGATE, attr(0x40, 6, &[1]));
        let a = u.attrs.unwrap();
        assert!(!a.atomic_aggregate);
        assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    }

    #[test]
    fn extended_length_flag_is_accepted_on_any_attribute() {
        let u = verdict(false, MED, attr(0x90, 4, &[0, 0, 1, 0]));
        assert!(u.attr_errors.is_empty());
        assert_eq!(u.attrs.unwrap().med, Some(256));
    }

    #[test]
    fn every_known_attribute_decodes() {
        let mut a = base_attrs(false);
        a.push((4, attr(0x80, 4, &[0, 0, 0, 10])));
        a.push((5, attr(0x40, 5, &[0, 0, 0, 200])));
        a.push((6, attr(0x40, 6, &[])));
        a.push((7, attr(0xc0, 7, &[0xfd, 0xe9, 10, 0, 0, 9])));
        a.push((
            8,
            attr(0xc0, 8, &[0xfd, 0xe9, 0, 1, 0xff, 0xff, 0xff, 0x01]),
        ));
        a.push((9, attr(0x80, 9, &[10, 0, 0, 1])));
        a.push((10, attr(0x80, 10, &[10, 0, 0, 2, 10, 0, 0, 3])));
        a.push((16, attr(0xc0, 16, &[0, 2, 0xfd, 0xe9, 0, 0, 0, 7])));
        a.push((32, attr(0xc0, 32, &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])));
        let raw: Vec<u8> = a.into_iter().flat_map(|(_, b)| b).collect();
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty(), "{:?}", u.attr_errors);
        let a = u.attrs.unwrap();
        assert_eq!(a.med, Some(10));
        assert_eq!(a.local_pref, Some(200));
        assert!(a.atomic_aggregate);
        assert_eq!(a.aggregator, Some((65001, Ipv4Addr::new(10, 0, 0, 9))));
        assert_eq!(a.communities, vec![0xfde9_0001, 0xffff_ff01]);
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(
            a.cluster_list,
            vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert_eq!(a.ext_communities, vec![[0, 2, 0xfd, 0xe9, 0, 0, 0, 7]]);
        assert_eq!(a.large_communities, vec![[1, 2, 3]]);
    }

    #[test]
    fn an_attribute_appearing_twice_keeps_the_first() {
        let mut raw = attrs_with(base_attrs(false), 4, attr(0x80, 4, &[0, 0, 0, 1]));
        raw.extend(attr(0x80, 4, &[0, 0, 0, 2]));
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert_eq!(u.attrs.as_ref().unwrap().med, Some(1));
        assert_verdict(&u, MED, Discard);
        // A second malformed copy changes nothing either.
        let mut raw = attrs_with(base_attrs(false), 4, attr(0x80, 4, &[0, 0, 0, 1]));
        raw.extend(attr(0x40, 1, &[9, 9]));
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert_verdict(&u, ORIGIN, Discard);
    }

    #[test]
    fn mp_reach_twice_is_malformed_attribute_list() {
        let mp = attr(
            0x80,
            14,
            &[
                0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
            ],
        );
        let mut raw = attrs_with(base_attrs(false), 14, mp.clone());
        raw.extend(mp);
        let e = decode_update(&update_msg(&[], &raw, &[]), &ctx(false))
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (3, 1));
        let un = attr(0x80, 15, &[0, 2, 1]);
        let raw = [un.clone(), un].concat();
        let e = decode_update(&update_msg(&[], &raw, &[]), &ctx(false))
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (3, 1));
    }

    #[test]
    fn unparseable_mp_attributes_reset_the_session_with_the_attribute_as_data() {
        let bad = [
            // IPv6 prefix length 129.
            attr(
                0x80,
                14,
                &[
                    0, 2, 1, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 129, 0,
                ],
            ),
            // IPv6 with a 4-byte next hop.
            attr(0x80, 14, &[0, 2, 1, 4, 1, 2, 3, 4, 0]),
            // Next hop overruns.
            attr(0x80, 14, &[0, 1, 1, 40, 1, 2, 3, 4, 0]),
            // No reserved byte.
            attr(0x80, 14, &[0, 1, 1, 4, 1, 2, 3, 4]),
            // IPv4 prefix overruns.
            attr(0x80, 14, &[0, 1, 1, 4, 1, 2, 3, 4, 0, 24, 10]),
            // MP_UNREACH too short, or with a bad prefix.
            attr(0x80, 15, &[0, 2]),
            attr(0x80, 15, &[0, 1, 1, 33, 1, 2, 3, 4, 5]),
        ];
        for a in bad {
            let code = a[1];
            let e = reset(false, code, a.clone());
            assert_eq!((e.code, e.subcode), (3, 9), "{a:?}");
            assert_eq!(e.data, a);
        }
        // Flags error on MP_REACH: Attribute Flags Error.
        let a = attr(0xc0, 14, &[0, 1, 1, 4, 1, 2, 3, 4, 0]);
        let e = reset(false, 14, a.clone());
        assert_eq!((e.code, e.subcode, e.data), (3, 4, a));
    }

    #[test]
    fn unrecognized_well_known_attribute_resets_with_the_attribute_as_data() {
        let a = attr(0x40, 99, &[1, 2, 3]);
        let e = reset(false, 99, a.clone());
        assert_eq!((e.code, e.subcode, e.data), (3, 2, a));
    }

    #[test]
    fn unknown_optional_transitive_is_kept_and_non_transitive_dropped() {
        let mut raw = attrs_with(base_attrs(false), 99, attr(0xc0, 99, &[1, 2, 3]));
        raw.extend(attr(0x80, 100, &[4]));
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty());
        assert_eq!(
            u.attrs.unwrap().unknown,
            vec![RawAttr {
                flags: 0xc0,
                code: 99,
                data: vec![1, 2, 3]
            }]
        );
    }

    #[test]
    fn attribute_overrunning_the_section_is_treat_as_withdraw() {
        let mut raw = attrs_with(base_attrs(false), 0, vec![]);
        raw.extend([0x80, 4, 9, 0, 0]);
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert_verdict(&u, MED, TreatAsWithdraw);
        // Fewer than 3 bytes left for a header.
        let mut raw = attrs_with(base_attrs(false), 0, vec![]);
        raw.extend([0x80, 4]);
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert_verdict(&u, MED, TreatAsWithdraw);
        // Extended length with only 3 bytes left.
        let mut raw = attrs_with(base_attrs(false), 0, vec![]);
        raw.extend([0x90, 4, 0]);
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert!(u.treat_as_withdraw);
    }

    #[test]
    fn a_lone_malformed_attribute_is_not_an_end_of_rib() {
        for raw in [&[0x80u8, 4][..], &[0x40, 1, 5, 0]] {
            let u = decode_update(&update_msg(&[], raw, &[]), &ctx(false)).unwrap();
            assert!(u.treat_as_withdraw);
            assert_eq!(u.end_of_rib(), None);
        }
    }

    #[test]
    fn truncated_mp_attribute_header_resets_the_session() {
        let e = decode_update(&update_msg(&[], &[0x80, 14], &[]), &ctx(false)).unwrap_err();
        assert_eq!((e.notification.code, e.notification.subcode), (3, 1));
    }

    #[test]
    fn mp_reach_overrunning_the_section_resets_the_session() {
        let mut raw = attrs_with(base_attrs(false), 0, vec![]);
        raw.extend([0x80, 14, 40, 0, 2, 1]);
        let e = decode_update(&update_msg(&[], &raw, &[]), &ctx(false))
            .unwrap_err()
            .notification;
        assert_eq!((e.code, e.subcode), (3, 1));
    }

    #[test]
    fn as4_attributes_from_a_four_octet_speaker_are_discarded() {
        let u = verdict(true, AS4_PATH, attr(0xc0, 17, &[2, 1, 0, 6, 0x1a, 0x80]));
        assert_verdict(&u, AS4_PATH, Discard);
        assert_eq!(u.attrs.unwrap().as_path.to_string(), "65001");
        let u = verdict(
            true,
            AS4_AGGREGATOR,
            attr(0xc0, 18, &[0, 6, 0x1a, 0x80, 1, 1, 1, 1]),
        );
        assert_verdict(&u, AS4_AGGREGATOR, Discard);
    }

    #[test]
    fn as4_path_and_as4_aggregator_are_merged_on_a_two_octet_session() {
        // AS_PATH 65001 23456, AS4_PATH 400000; AGGREGATOR 23456 + AS4_AGGREGATOR 400000.
        let mut a = base_attrs(false);
        a[1] = (2, attr(0x40, 2, &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]));
        a.push((7, attr(0xc0, 7, &[0x5b, 0xa0, 10, 0, 0, 9])));
        a.push((17, attr(0xc0, 17, &[2, 1, 0, 6, 0x1a, 0x80])));
        a.push((18, attr(0xc0, 18, &[0, 6, 0x1a, 0x80, 10, 0, 0, 9])));
        let raw: Vec<u8> = a.into_iter().flat_map(|(_, b)| b).collect();
        let u = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty());
        let at = u.attrs.unwrap();
        assert_eq!(at.as_path.to_string(), "65001 400000");
        assert_eq!(at.aggregator, Some((400_000, Ipv4Addr::new(10, 0, 0, 9))));
        assert!(at.unknown.is_empty());
    }

    #[test]
    fn aggregator_without_as_trans_makes_the_as4_attributes_ignored() {
        let mut a = base_attrs(false);
        a[1] = (2, attr(0x40, 2, &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]));
        a.push((7, attr(0xc0, 7, &[0xfd, 0xe9, 10, 0, 0, 9])));
        a.push((17, attr(0xc0, 17, &[2, 1, 0, 6, 0x1a, 0x80])));
        a.push((18, attr(0xc0, 18, &[0, 6, 0x1a, 0x80, 10, 0, 0, 9])));
        let raw: Vec<u8> = a.into_iter().flat_map(|(_, b)| b).collect();
        let at = decode_update(&update_msg(&[], &raw, &NLRI), &ctx(false))
            .unwrap()
            .attrs
            .unwrap();
        assert_eq!(at.as_path.to_string(), "65001 23456");
        assert_eq!(at.aggregator, Some((65001, Ipv4Addr::new(10, 0, 0, 9))));
    }

    fn encode_attrs(a: &PathAttrs, four: bool) -> Vec<u8> {
        let mut head = Vec::new();
        let mut tail = Vec::new();
        encode(a, None, &ctx(four), true, &mut head, &mut tail);
        head.extend(tail);
        head
    }

    /// (code, flags) of each attribute in an encoded section.
    fn codes(mut s: &[u8]) -> Vec<(u8, u8)> {
        let mut v = Vec::new();
        while s.len() >= 3 {
            let (hl, len) = if s[0] & 0x10 != 0 {
                (4, u16::from_be_bytes([s[2], s[3]]) as usize)
            } else {
                (3, s[2] as usize)
            };
            v.push((s[1], s[0]));
            s = &s[hl + len..];
        }
        v
    }

    fn wide_attrs() -> PathAttrs {
        PathAttrs {
            as_path: AsPath {
                segments: vec![
                    AsSegment {
                        kind: SegmentKind::ConfedSequence,
                        asns: vec![64512],
                    },
                    AsSegment {
                        kind: SegmentKind::Sequence,
                        asns: vec![65001, 400_000, 65002],
                    },
                ],
            },
            next_hop: NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)),
            aggregator: Some((400_000, Ipv4Addr::new(10, 0, 0, 9))),
            ..PathAttrs::default()
        }
    }

    #[test]
    fn encoding_toward_a_two_octet_speaker_adds_as_trans_and_as4_attributes() {
        let a = wide_attrs();
        let bytes = encode_attrs(&a, false);
        assert_eq!(
            codes(&bytes),
            vec![
                (1, 0x40),
                (2, 0x40),
                (3, 0x40),
                (7, 0xc0),
                (17, 0xc0),
                (18, 0xc0)
            ]
        );
        // AS_PATH: confed (64512), sequence (65001 AS_TRANS 65002).
        assert_eq!(
            &bytes[4..17],
            &[0x40, 2, 12, 3, 1, 0xfc, 0, 2, 3, 0xfd, 0xe9, 0x5b, 0xa0][..]
        );
        let u = decode_update(&update_msg(&[], &bytes, &NLRI), &ctx(false)).unwrap();
        assert!(u.attr_errors.is_empty());
        assert_eq!(u.attrs.unwrap(), a);
    }

    #[test]
    fn encoding_toward_a_four_octet_speaker_sends_no_as4_attributes() {
        let a = wide_attrs();
        let bytes = encode_attrs(&a, true);
        assert_eq!(
            codes(&bytes),
            vec![(1, 0x40), (2, 0x40), (3, 0x40), (7, 0xc0)]
        );
        let u = decode_update(&update_msg(&[], &bytes, &NLRI), &ctx(true)).unwrap();
        assert_eq!(u.attrs.unwrap(), a);
    }

    #[test]
    fn two_octet_paths_need_no_as4_path() {
        let a = PathAttrs {
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![65001, 65535],
                }],
            },
            aggregator: Some((65001, Ipv4Addr::new(1, 1, 1, 1))),
            ..PathAttrs::default()
        };
        let bytes = encode_attrs(&a, false);
        assert_eq!(codes(&bytes), vec![(1, 0x40), (2, 0x40), (7, 0xc0)]);
    }

    #[test]
    fn attributes_are_encoded_in_type_order_with_unknowns_partial_and_long_ones_extended() {
        let a = PathAttrs {
            med: Some(1),
            local_pref: Some(100),
            atomic_aggregate: true,
            communities: (0..100).collect(),
            ext_communities: vec![[1; 8]],
            large_communities: vec![[1, 2, 3]],
            originator_id: Some(Ipv4Addr::new(1, 1, 1, 1)),
            cluster_list: vec![Ipv4Addr::new(2, 2, 2, 2)],
            unknown: vec![
                RawAttr {
                    flags: 0xc0,
                    code: 40,
                    data: vec![1],
                },
                RawAttr {
                    flags: 0xc0,
                    code: 12,
                    data: vec![2],
                },
            ],
            ..PathAttrs::default()
        };
        let bytes = encode_attrs(&a, true);
        assert_eq!(
            codes(&bytes),
            vec![
                (1, 0x40),
                (2, 0x40),
                (4, 0x80),
                (5, 0x40),
                (6, 0x40),
                (8, 0xd0),
                (9, 0x80),
                (10, 0x80),
                (12, 0xe0),
                (16, 0xc0),
                (32, 0xc0),
                (40, 0xe0)
            ]
        );
        let u = decode_update(&update_msg(&[], &bytes, &[]), &ctx(true)).unwrap();
        assert!(u.attr_errors.is_empty());
        let back = u.attrs.unwrap();
        assert_eq!(back.communities, a.communities);
        assert_eq!(
            back.unknown
                .iter()
                .map(|u| (u.code, u.flags))
                .collect::<Vec<_>>(),
            vec![(12, 0xe0), (40, 0xe0)]
        );
    }

    #[test]
    fn long_as_sequences_are_split_into_255_asn_segments() {
        let a = PathAttrs {
            as_path: AsPath {
                segments: vec![AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: (1..=300).collect(),
                }],
            },
            ..PathAttrs::default()
        };
        let bytes = encode_attrs(&a, true);
        let u = decode_update(&update_msg(&[], &bytes, &[]), &ctx(true)).unwrap();
        let p = u.attrs.unwrap().as_path;
        assert_eq!(p.segments.len(), 2);
        assert_eq!(p.route_len(), 300);
    }
}
