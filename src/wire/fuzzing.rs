//! Fuzz harnesses for the codec, shared by the `cargo fuzz` targets in `fuzz/` and the
//! corpus replay under plain `cargo test` (`tests/fuzz_corpus.rs`), so a crash the fuzzer
//! found stays a regression test on the stable toolchain.
//!
//! Each harness takes arbitrary bytes, must never panic on them, and panics (an assertion)
//! only when a codec invariant is broken: what decodes must re-encode into something that
//! frames and decodes again (ARCHITECTURE.md invariant 3).

use super::*;

/// A session context from one byte, so one input covers every negotiated combination:
/// bit 0 four-octet AS, bit 1 extended messages, bits 2-3 ADD-PATH receive for IPv4/IPv6
/// unicast, bits 4-5 ADD-PATH send.
pub fn ctx_from_byte(b: u8) -> CodecCtx {
    let fams = |bits: u8| {
        let mut s = FamilySet::EMPTY;
        if bits & 1 != 0 {
            s.insert(Family::Ipv4Unicast);
        }
        if bits & 2 != 0 {
            s.insert(Family::Ipv6Unicast);
        }
        s
    };
    // Bits 6 and 7: ADD-PATH received / sent in the VPN families too; 7 also IPv6 next
    // hops sent in the IPv4 families (RFC 8950).
    let vpn = |on: bool, mut s: FamilySet| {
        if on {
            s.insert(Family::Ipv4Vpn);
            s.insert(Family::Ipv6Vpn);
        }
        s
    };
    CodecCtx {
        four_octet_as: b & 1 != 0,
        extended_message: b & 2 != 0,
        add_path_rx: vpn(b & 0x40 != 0, fams(b >> 2)),
        add_path_tx: vpn(b & 0x80 != 0, fams(b >> 4)),
        extended_next_hop: if b & 0x80 != 0 {
            FamilySet::EMPTY
                .with(Family::Ipv4Unicast)
                .with(Family::Ipv4Vpn)
        } else {
            FamilySet::EMPTY
        },
    }
}

/// Target `message`: the first byte picks the `CodecCtx`, the rest is a TCP byte stream cut
/// into messages by `frame` and decoded by `decode`, as a worker does.
pub fn message(data: &[u8]) {
    let Some((&ctx_byte, mut stream)) = data.split_first() else {
        return;
    };
    let ctx = ctx_from_byte(ctx_byte);
    // Every iteration consumes at least the 19-byte header, so this ends.
    while let Ok(Some(n)) = frame(stream, ctx.max_message_len()) {
        assert!(
            (HEADER_LEN..=stream.len()).contains(&n),
            "frame returned {n}"
        );
        let (msg, rest) = stream.split_at(n);
        if let Ok(m) = decode(msg, &ctx) {
            reencodes(&m, &ctx);
        }
        scan_agrees(msg, &ctx);
        stream = rest;
    }
    // The whole buffer as one message too: `decode` must re-check the header itself.
    let _ = decode(stream, &ctx);
}

/// What `decode` accepted, `encode` turns back into bytes `decode` accepts again. The
/// messages the FSM itself sends (OPEN, KEEPALIVE, ROUTE-REFRESH) must come back equal.
pub fn reencodes(m: &Message, ctx: &CodecCtx) {
    let mut out = Vec::new();
    encode(m, ctx, &mut out);
    let n = match frame(&out, ctx.max_message_len()) {
        Ok(Some(n)) => n,
        other => panic!("re-encoded {m:?} does not frame: {other:?}"),
    };
    if !matches!(m, Message::Update(_)) {
        // One message, except UPDATEs, which `encode` may split to fit the size limit.
        assert_eq!(n, out.len(), "re-encoded {m:?} is not one message");
    }
    // The receiver of what we send expects path identifiers where we send them.
    let theirs = CodecCtx {
        add_path_rx: ctx.add_path_tx,
        ..*ctx
    };
    let again = match decode(&out[..n], &theirs) {
        Ok(again) => again,
        Err(e) => panic!("re-encoded {m:?} does not decode: {e}"),
    };
    match (m, &again) {
        (Message::Open(_) | Message::Keepalive | Message::RouteRefresh(_), _) => {
            assert_eq!(m, &again, "re-encoded message decodes differently")
        }
        (Message::Notification(a), Message::Notification(b)) => {
            // Only data beyond the size limit may be cut.
            assert_eq!((a.code, a.subcode), (b.code, b.subcode));
            assert!(a.data.starts_with(&b.data), "NOTIFICATION data changed");
        }
        (Message::Update(_), Message::Update(_)) => {}
        _ => panic!("re-encoded {m:?} decodes as {again:?}"),
    }
}

/// Target `attributes`: the first byte picks the `CodecCtx`, the rest is the path-attribute
/// section of an UPDATE, decoded on its own (RFC 4271 §4.3, RFC 7606 verdicts) and then
/// wrapped in an UPDATE with one IPv4 prefix so the message-level rules run over it too.
pub fn attributes(data: &[u8]) {
    let Some((&ctx_byte, section)) = data.split_first() else {
        return;
    };
    let ctx = ctx_from_byte(ctx_byte);
    if let Ok(d) = attrs::decode(section, &ctx) {
        // The error list is bounded by the input: one verdict per attribute at most (plus
        // the message-level ones), never more than one per 3-byte header.
        assert!(
            d.errors.len() <= section.len() / 3 + 4,
            "{} verdicts for {} bytes",
            d.errors.len(),
            section.len()
        );
        stores(&d.attrs);
    }
    let Ok(attr_len) = u16::try_from(section.len()) else {
        return;
    };
    let mut msg = vec![0xff; 16];
    msg.extend_from_slice(&[0, 0, MSG_UPDATE, 0, 0]);
    msg.extend_from_slice(&attr_len.to_be_bytes());
    msg.extend_from_slice(section);
    if ctx.add_path_rx.contains(Family::Ipv4Unicast) {
        msg.extend_from_slice(&[0, 0, 0, 1]);
    }
    msg.extend_from_slice(&[24, 10, 0, 0]);
    let Ok(len) = u16::try_from(msg.len()) else {
        return;
    };
    msg[16..18].copy_from_slice(&len.to_be_bytes());
    if msg.len() <= ctx.max_message_len() {
        if let Ok(m) = decode(&msg, &ctx) {
            reencodes(&m, &ctx);
        }
        scan_agrees(&msg, &ctx);
    }
}

/// What `scan` reads in place of the framed UPDATE `msg`, `decode` decodes to the same
/// prefixes and attribute values with no RFC 7606 verdict, and the decoded set's stored
/// form is the one `scan` builds from the bytes as they came.
pub fn scan_agrees(msg: &[u8], ctx: &CodecCtx) {
    let (Some(&MSG_UPDATE), Some(body)) = (msg.get(18), msg.get(HEADER_LEN..)) else {
        return;
    };
    let (mut withdrawn, mut nlri) = (Vec::new(), Vec::new());
    let Some(s) = scan::update(body, ctx, &mut withdrawn, &mut nlri) else {
        return vpn_scan_agrees(msg, body, ctx);
    };
    let u = match decode(msg, ctx) {
        Ok(Message::Update(u)) => u,
        other => panic!("scan read what decodes as {other:?}"),
    };
    assert!(
        u.attr_errors.is_empty() && !u.treat_as_withdraw,
        "scan read {u:?}"
    );
    assert!(u.mp_reach.is_none() && u.mp_unreach.is_none() && u.end_of_rib().is_none());
    assert_eq!((&withdrawn, &nlri), (&u.withdrawn, &u.nlri));
    match (s.attrs, &u.attrs) {
        (None, None) => {}
        (Some(a), Some(d)) => {
            assert!(stored::fits(d), "scan read a set with no stored form");
            assert_eq!(&stored::scanned(&a)[..], &stored::store(d)[..]);
            assert_eq!(NextHop::V4(a.next_hop), d.next_hop);
            attrs_agree(&a, d);
        }
        (a, d) => panic!("scan read attributes {a:?}, decode {d:?}"),
    }
}

/// What the decision process reads of a set read in place equals the decoded set's.
fn attrs_agree(a: &scan::ScannedAttrs, d: &PathAttrs) {
    assert_eq!(
        (a.origin, a.med, a.local_pref),
        (d.origin, d.med, d.local_pref)
    );
    assert_eq!(a.originator_id, d.originator_id);
    assert_eq!(a.cluster_list_len as usize, d.cluster_list.len());
    assert_eq!(a.route_len(), d.as_path.route_len());
    assert_eq!(a.first_as(), d.as_path.first_as());
    let asns = d
        .as_path
        .segments
        .iter()
        .flat_map(|s| s.asns.iter().copied());
    assert!(a.asns().eq(asns), "AS_PATH read differently");
}

/// `scan_agrees` for a VPN UPDATE read in place (`scan::vpn_update`).
fn vpn_scan_agrees(msg: &[u8], body: &[u8], ctx: &CodecCtx) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let Some(s) = scan::vpn_update(body, ctx, |k| v4.push(k), |k| v6.push(k)) else {
        return;
    };
    let u = match decode(msg, ctx) {
        Ok(Message::Update(u)) => u,
        other => panic!("scan read a VPN UPDATE that decodes as {other:?}"),
    };
    assert!(
        u.attr_errors.is_empty() && !u.treat_as_withdraw,
        "scan read {u:?}"
    );
    assert!(u.withdrawn.is_empty() && u.nlri.is_empty() && u.mp_unreach.is_none());
    let (Some(mp), Some(d)) = (&u.mp_reach, &u.attrs) else {
        panic!("scan read a VPN UPDATE without MP_REACH_NLRI or attributes: {u:?}");
    };
    assert_eq!(mp.next_hop, s.next_hop);
    let (keys_equal, labels) = match (&mp.nlri, s.family) {
        (NlriSet::Ipv4Vpn(l), Family::Ipv4Vpn) => (l.keys == v4 && v6.is_empty(), &l.labels),
        (NlriSet::Ipv6Vpn(l), Family::Ipv6Vpn) => (l.keys == v6 && v4.is_empty(), &l.labels),
        (l, f) => panic!("scan read {f} routes, decode {l:?}"),
    };
    assert!(keys_equal, "VPN routes read differently");
    assert!(
        labels.iter().all(|l| *l == s.label),
        "one label read, others decoded"
    );
    assert!(stored::fits(d), "scan read a set with no stored form");
    assert_eq!(
        &stored::scanned_vpn(&s.attrs, &s.next_hop, s.label)[..],
        &stored::store_labeled(d, &mp.next_hop, Some(s.label))[..]
    );
    attrs_agree(&s.attrs, d);
}

/// What a peer sent has a stored form (`stored`) that loads back to a set with the same
/// stored form, and reflecting the stored form writes what the encoder writes.
pub fn stores(a: &PathAttrs) {
    if !stored::fits(a) {
        return;
    }
    let s = stored::store(a);
    assert_eq!(
        stored::store(&stored::load(&s)),
        s,
        "stored form of {a:?} unstable"
    );
    let reflect = Reflect {
        originator_id: std::net::Ipv4Addr::new(1, 1, 1, 1),
        cluster_id: std::net::Ipv4Addr::new(2, 2, 2, 2),
    };
    let ctx = CodecCtx {
        four_octet_as: true,
        extended_message: true,
        ..CodecCtx::default()
    };
    let (mut h1, mut t1, mut h2, mut t2) = Default::default();
    attrs_encode::encode(a, Some(reflect), &ctx, true, &mut h1, &mut t1);
    stored::encode(&s, reflect, &ctx, true, &mut h2, &mut t2);
    assert_eq!((h1, t1), (h2, t2), "reflected stored form of {a:?} differs");
    let ours = stored::Ours {
        asn: 65000,
        router_id: reflect.originator_id,
        cluster_id: reflect.cluster_id,
    };
    let _ = stored::is_looped(&s, &ours);
}

/// A path-attribute set with every attribute the codec knows (AS_SET, 4-octet ASNs,
/// aggregator, every community kind, reflection attributes, an unknown transitive one): the
/// seed material for the corpus and the robustness test.
pub fn sample_attrs() -> PathAttrs {
    PathAttrs {
        as_path: AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![65001, 400_000],
                },
                AsSegment {
                    kind: SegmentKind::Set,
                    asns: vec![1, 2],
                },
            ],
        },
        next_hop: NextHop::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(5),
        local_pref: Some(100),
        atomic_aggregate: true,
        aggregator: Some((400_000, std::net::Ipv4Addr::new(1, 2, 3, 4))),
        communities: vec![1, 2],
        ext_communities: vec![[3; 8]],
        large_communities: vec![[1, 2, 3]],
        originator_id: Some(std::net::Ipv4Addr::new(1, 1, 1, 1)),
        cluster_list: vec![std::net::Ipv4Addr::new(2, 2, 2, 2)],
        unknown: vec![RawAttr {
            flags: 0xc0,
            code: 99,
            data: vec![1, 2, 3],
        }],
        ..PathAttrs::default()
    }
}

/// Prefixes covering the edge lengths (default route, host routes) for the seed messages.
pub fn sample_prefixes() -> (Vec<Prefix4>, Vec<Prefix6>) {
    let v4 = ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "1.2.3.4/32"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let v6 = ["2001:db8::/32", "::/0", "2001:db8::1/128"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    (v4, v6)
}

/// Target `rtc`: bit 0 of the first byte says whether an ADD-PATH path id precedes each
/// NLRI; the rest is the NLRI field of an RT-Constraint MP_REACH/MP_UNREACH (RFC 4684 §4).
/// What decodes encodes to canonical bytes of the same length (path ids aside) that decode
/// to the same NLRIs, and prints as text that reads back the same. The same bytes, read as
/// an EXTENDED_COMMUNITIES value and as a stored set, give route targets without a panic,
/// and each NLRI covers exactly the targets whose prefix of its length is its own.
pub fn rtc(data: &[u8]) {
    let Some((&flags, field)) = data.split_first() else {
        return;
    };
    let add_path = flags & 1 != 0;
    let mut nlris = Vec::new();
    if rtc::decode(field, add_path, &mut nlris).is_err() {
        nlris.clear();
    } else {
        let mut canon = Vec::new();
        nlris.iter().for_each(|n| n.encode(&mut canon));
        let ids = if add_path { 4 * nlris.len() } else { 0 };
        assert_eq!(canon.len() + ids, field.len(), "{nlris:?} changed size");
        let wire_len: usize = nlris.iter().map(|n| n.wire_len()).sum();
        assert_eq!(wire_len, canon.len(), "wire_len of {nlris:?}");
        let mut again = Vec::new();
        if let Err(e) = rtc::decode(&canon, false, &mut again) {
            panic!("canonical {canon:?} of {nlris:?} does not decode: {e}");
        }
        assert_eq!(again, nlris, "canonical bytes decode differently");
        for n in &nlris {
            let text = n.to_string();
            assert_eq!(text.parse::<rtc::RtcNlri>(), Ok(*n), "{text} reads back");
        }
    }
    if let Some(targets) = route_target::targets_in_value(field) {
        for t in targets {
            let text = t.to_string();
            assert_eq!(text.parse::<route_target::RouteTarget>(), Ok(t), "{text}");
            for n in &nlris {
                let own = match n.origin_as() {
                    Some(origin) => rtc::RtcNlri::new(origin, t.octets(), n.len()) == Ok(*n),
                    None => true,
                };
                assert_eq!(n.covers(t), own, "{n} covering {t}");
            }
        }
    }
    if let Some(targets) = route_target::targets_in_stored(field) {
        targets.for_each(drop);
    }
}

/// Target `evpn`: the bytes are the NLRI field of an AFI 25 SAFI 70 MP_REACH/MP_UNREACH,
/// read both without and with ADD-PATH path ids. What decodes encodes back to the same
/// bytes, and each route's key and per-path data join back into the same NLRI.
pub fn evpn(data: &[u8]) {
    for add_path in [false, true] {
        let Ok(routes) = evpn::decode(data, add_path) else {
            continue;
        };
        let mut out = Vec::with_capacity(data.len());
        for (path_id, route) in &routes {
            assert_eq!(path_id.is_some(), add_path);
            let at = out.len();
            evpn::encode_entry(*path_id, route, &mut out);
            let nlri = &out[at + if add_path { 4 } else { 0 }..];
            assert_eq!(nlri.len(), route.wire_len(), "{route:?}");
            let (key, per_path) = route.split();
            assert_eq!(key.route_type(), route.route_type());
            assert_eq!(key.rd(), route.rd());
            let Some(joined) = evpn::join(&key, &per_path) else {
                panic!("{key:?} and {per_path:?} of {route:?} do not join")
            };
            let mut again = Vec::new();
            joined.encode(&mut again);
            assert_eq!(again, nlri, "{route:?} joins back as {joined:?}");
            assert_eq!(joined.key(), key);
            // As the RIB keeps it: the path data stored as bytes, written back from them.
            let stored = super::evpn_nlri::to_bytes(&per_path);
            assert_eq!(
                super::evpn_nlri::read(&key, &stored),
                Some(per_path.clone())
            );
            assert_eq!(key.wire_len_with(&stored), nlri.len());
            let mut from_rib = Vec::new();
            key.encode_with(&stored, &mut from_rib);
            assert_eq!(from_rib, nlri, "{key:?} from its stored path data");
            // A withdrawal from the key alone reads back as the same route (or is not
            // written at all, for a key that holds only a hash).
            let mut withdrawn = Vec::new();
            key.encode(&mut withdrawn);
            assert_eq!(withdrawn.len(), key.wire_len());
            assert_eq!(withdrawn.is_empty(), !key.withdrawable());
            if key.withdrawable() {
                let back = evpn::decode(&withdrawn, false).expect("a withdrawal decodes");
                assert_eq!(back.len(), 1);
                assert_eq!(back[0].1.key(), key, "withdrawn as {withdrawn:?}");
            }
            let _ = (route.to_string(), key.to_string(), per_path.to_string());
        }
        assert_eq!(
            out, data,
            "re-encoded EVPN NLRIs differ (ADD-PATH {add_path})"
        );
    }
}
