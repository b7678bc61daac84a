//! The deterministic synthetic table: a realistic prefix-length mix (/16../24, mostly /24),
//! prefixes grouped in runs that share one attribute set (1 to 8 prefixes a run), AS paths
//! of 1 to 6 ASNs and 0 to 4 communities, all derived from a hash of the indexes so every
//! run of the tool announces the same table. Prefixes of different lengths may overlap, as
//! in the real table; every (address, length) pair is unique.

use reflectd::wire::{AsPath, AsSegment, NextHop, PathAttrs, Prefix4, SegmentKind};
use std::net::Ipv4Addr;

/// Every length's prefixes start here and stay below 127.0.0.0.
const BASE: u32 = 1 << 24;
const LIMIT: u32 = 127 << 24;

fn mix(mut x: u64) -> u64 {
    // splitmix64: a fixed, well-spread hash of the index.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Prefix length of entry `j`: about 60% /24, 10% /23, 12% /22, 6% /21, 5% /20, 3% /19,
/// 2% /18, 1% /17, 1% /16 (roughly today's IPv4 table between /16 and /24).
fn length_of(j: u32) -> u8 {
    match mix(u64::from(j)) % 1000 {
        0..600 => 24,
        600..700 => 23,
        700..820 => 22,
        820..880 => 21,
        880..930 => 20,
        930..960 => 19,
        960..980 => 18,
        980..990 => 17,
        _ => 16,
    }
}

/// A table of `len` prefixes and the way back from a prefix to its index.
pub struct Table {
    pub prefixes: Vec<Prefix4>,
    /// Runs of consecutive entries sharing one attribute set: (first, end).
    pub runs: Vec<(u32, u32)>,
    /// Per length 16..=24: the n-th prefix of that length -> its index.
    by_len: [Vec<u32>; 9],
}

impl Table {
    pub fn new(len: u32) -> Result<Table, String> {
        let mut by_len: [Vec<u32>; 9] = Default::default();
        let mut prefixes = Vec::with_capacity(len as usize);
        for j in 0..len {
            let l = length_of(j);
            let slot = &mut by_len[usize::from(l - 16)];
            let addr = u64::from(BASE) + ((slot.len() as u64) << (32 - l));
            if addr >= u64::from(LIMIT) {
                return Err(format!("{len} prefixes do not fit below 127.0.0.0"));
            }
            slot.push(j);
            prefixes
                .push(Prefix4::new(Ipv4Addr::from(addr as u32), l).ok_or("bad generated prefix")?);
        }
        let mut runs = Vec::new();
        let mut first = 0u32;
        while first < len {
            let end = (first + 1 + (mix(u64::from(first) ^ 0x5eed) % 8) as u32).min(len);
            runs.push((first, end));
            first = end;
        }
        Ok(Table {
            prefixes,
            runs,
            by_len,
        })
    }

    pub fn len(&self) -> u32 {
        self.prefixes.len() as u32
    }

    /// Index of `p` in the table, if it is one of ours.
    pub fn index(&self, p: &Prefix4) -> Option<usize> {
        let l = p.len();
        if !(16..=24).contains(&l) {
            return None;
        }
        let off = u32::from(p.addr()).checked_sub(BASE)?;
        if off & ((1u32 << (32 - l)) - 1) != 0 {
            return None;
        }
        let n = (off >> (32 - l)) as usize;
        self.by_len[usize::from(l - 16)].get(n).map(|&j| j as usize)
    }
}

/// The VPN workload (`--vpn N`): run r of the table belongs to customer r % N, a VRF with
/// its own Route Distinguisher 65000:(c+1), route target 65000:(c+1) and label 1000 + c, as
/// a PE that allocates a label per VRF sends them.
pub mod vpn {
    use reflectd::wire::{Label, Rd};

    pub fn customer(run: usize, customers: u32) -> u32 {
        (run as u32) % customers.max(1)
    }

    pub fn rd(c: u32) -> Rd {
        let mut b = [0u8; 8];
        b[2..4].copy_from_slice(&65000u16.to_be_bytes());
        b[4..].copy_from_slice(&(c + 1).to_be_bytes());
        Rd(b)
    }

    /// Route target 65000:(c+1) (RFC 4360 §4, two-octet AS specific, sub-type 2).
    pub fn route_target(c: u32) -> [u8; 8] {
        let mut b = [0, 2, 0, 0, 0, 0, 0, 0];
        b[2..4].copy_from_slice(&65000u16.to_be_bytes());
        b[4..].copy_from_slice(&(c + 1).to_be_bytes());
        b
    }

    pub fn label(c: u32) -> Label {
        Label::new(1000 + c)
    }

    /// The route targets (customers) sink `sink` is a member of: `n` consecutive ones from
    /// `sink * n`, wrapping at `customers` (100 targets, 10 each: sinks 0-9 cover them all
    /// once, sink 10 is sink 0 again). Sorted, no repeats.
    pub fn targets_of(sink: u32, customers: u32, n: u32) -> Vec<u32> {
        let customers = customers.max(1);
        let first = u64::from(sink) * u64::from(n);
        let mut t: Vec<u32> = (0..u64::from(n.min(customers)))
            .map(|k| ((first + k) % u64::from(customers)) as u32)
            .collect();
        t.sort_unstable();
        t
    }

    /// The UPDATE with which a sink announces its membership of `targets` (RFC 4684 §4:
    /// origin AS `asn`, each target whole, 96 bits), next hop `next_hop`; then End-of-RIB
    /// for RT-Constraint. iBGP: ORIGIN IGP, an empty AS_PATH, LOCAL_PREF 100.
    pub fn membership(asn: u32, next_hop: std::net::Ipv4Addr, targets: &[u32]) -> Vec<u8> {
        use reflectd::wire::rtc::{self, RtcNlri};
        use reflectd::wire::{attr_code, Family};
        let mut mp = vec![0, rtc::AFI as u8, rtc::SAFI, 4];
        mp.extend_from_slice(&next_hop.octets());
        mp.push(0);
        for &c in targets {
            // 96 bits is always a valid length: new() cannot refuse it.
            if let Ok(n) = RtcNlri::new(asn, route_target(c), rtc::MAX_LEN) {
                n.encode(&mut mp);
            }
        }
        // ORIGIN (1) IGP, AS_PATH (2) empty, LOCAL_PREF (5) 100: well-known, transitive.
        let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0];
        attrs.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]);
        // Optional, extended length: any number of targets fits.
        attrs.extend_from_slice(&[0x90, attr_code::MP_REACH_NLRI]);
        attrs.extend_from_slice(&(mp.len() as u16).to_be_bytes());
        attrs.extend_from_slice(&mp);
        let body_len = 4 + attrs.len();
        let mut out = vec![0xff; 16];
        out.extend_from_slice(&((19 + body_len) as u16).to_be_bytes());
        out.push(2);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        out.extend_from_slice(&attrs);
        reflectd::wire::encode_end_of_rib(Family::RtConstraint, &mut out);
        out
    }
}

/// The EVPN workload (`--evpn N`): run r of the table belongs to customer (EVI) r % N, with
/// the VPN workload's RD 65000:(c+1) and route target 65000:(c+1), and a VNI-style label
/// 10000 + c (the whole 24-bit field, RFC 8365 §5.1.3). Entry j is a MAC/IP advertisement
/// (type 2, RFC 7432 §7.2) of MAC 02:00:<j> (locally administered), with IPv4 address
/// 10.<j> on every second entry, or every fourth entry an IP prefix route (type 5,
/// RFC 9136 §3.1) of the table's prefix j, gateway 0.0.0.0; ESI 0 and Ethernet tag 0.
pub mod evpn {
    use super::Table;
    use reflectd::wire::evpn::{Esi, EvpnKey, EvpnRoute, IpPrefix, Label, Mac, MacIp};
    use reflectd::wire::{Family, Nlri};
    use std::net::{IpAddr, Ipv4Addr};

    pub fn label(c: u32) -> Label {
        Label::from_value(10_000 + c)
    }

    /// Entry j's MAC: 02:00 and j's four octets.
    pub fn mac(j: usize) -> Mac {
        let [a, b, c, d] = (j as u32).to_be_bytes();
        Mac([0x02, 0, a, b, c, d])
    }

    /// The entry a MAC of ours stands for (not checked against the table's length).
    pub fn index_of(mac: &Mac) -> Option<usize> {
        let m = mac.0;
        (m[..2] == [0x02, 0]).then(|| u32::from_be_bytes([m[2], m[3], m[4], m[5]]) as usize)
    }

    /// Entry j's route, customer `c`'s.
    pub fn route(t: &Table, j: usize, c: u32) -> EvpnRoute<'static> {
        let rd = super::vpn::rd(c);
        if j % 4 == 3 {
            let p = t.prefixes[j];
            return EvpnRoute::IpPrefix(IpPrefix {
                rd,
                esi: Esi::ZERO,
                etag: 0,
                prefix: IpAddr::V4(p.addr()),
                prefix_len: p.len(),
                gateway: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                label: label(c),
            });
        }
        let ip =
            (j % 2 == 0).then(|| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (j as u32 & 0xff_ffff))));
        EvpnRoute::MacIp(MacIp {
            rd,
            esi: Esi::ZERO,
            etag: 0,
            mac: mac(j),
            ip,
            label1: label(c),
            label2: None,
        })
    }

    /// An EVPN route announced whole, as the wire encoders take a route: its labels, ESI
    /// and gateway with it (the codec's `EvpnKey` writes those from a RIB's stored path
    /// data, which a speaker does not have).
    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    pub struct Announced(pub EvpnRoute<'static>);

    impl PartialOrd for Announced {
        fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(o))
        }
    }

    impl Ord for Announced {
        fn cmp(&self, o: &Self) -> std::cmp::Ordering {
            self.0.key().cmp(&o.0.key())
        }
    }

    impl std::fmt::Display for Announced {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl Nlri for Announced {
        const FAMILY: Family = Family::L2vpnEvpn;
        fn wire_len(&self) -> usize {
            self.0.wire_len()
        }
        fn encode(&self, out: &mut Vec<u8>) {
            self.0.encode(out)
        }
    }

    /// Entries `range`' routes, announced, each with its customer's RD and label.
    pub fn announced(
        t: &Table,
        customers: &[u32],
        range: std::ops::Range<usize>,
    ) -> Vec<Announced> {
        range
            .map(|j| Announced(route(t, j, customers[j])))
            .collect()
    }

    /// Their keys: what a withdrawal is written from (the path's fields zero).
    pub fn keys(t: &Table, customers: &[u32], range: std::ops::Range<usize>) -> Vec<EvpnKey> {
        range.map(|j| route(t, j, customers[j]).key()).collect()
    }
}

impl Table {
    /// Each entry's customer in the VPN and EVPN workloads.
    pub fn customers(&self, customers: u32) -> Vec<u32> {
        let mut out = vec![0; self.prefixes.len()];
        for (r, &(a, b)) in self.runs.iter().enumerate() {
            out[a as usize..b as usize].fill(vpn::customer(r, customers));
        }
        out
    }
}

/// Speakers' neighbor ASes: 64512.. (private), cycling through this many.
const FIRST_NEIGHBOR_AS: u32 = 64512;
const NEIGHBOR_ASES: u32 = 400;

/// Next hop of speaker `s`.
pub fn next_hop(s: u32) -> NextHop {
    // 100.64.0.1 onwards: inside 100.64.0.0/10 for every speaker (MAX_SESSIONS).
    NextHop::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 1)) + s))
}

/// The attribute set speaker `s` sends with run `r` (the run's first index): an AS path of
/// 1 to 6 ASNs starting with the speaker's neighbor AS, 0 to 4 communities, a MED on some.
/// With `sets` > 0 runs cycle through that many distinct sets per speaker.
pub fn attrs(s: u32, run_first: u32, local_pref: u32, sets: u32) -> PathAttrs {
    let key = if sets > 0 {
        run_first % sets
    } else {
        run_first
    };
    let h = mix(u64::from(key) << 20 | u64::from(s));
    let hops = 1 + (h % 6) as usize;
    // The neighbor AS stays below the reflector's (crate::lab::ASN): a path through our
    // own AS is a loop every reflector drops (speaker 488 once had AS 65000).
    let mut asns = vec![FIRST_NEIGHBOR_AS + (s % NEIGHBOR_ASES)];
    asns.extend((1..hops).map(|k| 1 + (mix(h ^ k as u64) % 64000) as u32));
    let ncomm = ((h >> 8) % 5) as u32;
    PathAttrs {
        as_path: AsPath {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns,
            }],
        },
        next_hop: next_hop(s),
        local_pref: Some(local_pref),
        med: ((h >> 16) % 4 == 0).then_some(((h >> 20) % 1000) as u32),
        communities: (0..ncomm)
            .map(|c| (65000 << 16) | ((h >> (24 + 4 * c)) & 0xffff) as u32)
            .collect(),
        ..PathAttrs::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_prefix_maps_back_to_its_index() {
        let t = Table::new(50_000).unwrap();
        for (j, p) in t.prefixes.iter().enumerate() {
            assert_eq!(t.index(p), Some(j));
        }
        let n24 = t.prefixes.iter().filter(|p| p.len() == 24).count();
        assert!((27_000..33_000).contains(&n24), "{n24} /24s");
        assert_eq!(t.runs.last().unwrap().1, 50_000);
    }

    #[test]
    fn paths_have_one_to_six_asns() {
        for r in 0..1000 {
            let a = attrs(3, r, 100, 0);
            let n = a.as_path.segments[0].asns.len();
            assert!((1..=6).contains(&n));
            assert!(a.communities.len() <= 4);
        }
        // No speaker's path passes through the reflector's AS.
        for s in 0..crate::lab::MAX_SESSIONS {
            let a = attrs(s, 0, 100, 0);
            assert!(
                !a.as_path.segments[0].asns.contains(&crate::lab::ASN),
                "speaker {s}"
            );
        }
    }

    #[test]
    fn evpn_entries_are_mac_ip_routes_with_and_without_an_address_and_ip_prefix_routes() {
        use reflectd::wire::evpn::EvpnRoute;
        let t = Table::new(1000).unwrap();
        let cs = t.customers(7);
        let (mut mac_only, mut mac_ip, mut prefix) = (0, 0, 0);
        for (j, &c) in cs.iter().enumerate() {
            match evpn::route(&t, j, c) {
                EvpnRoute::MacIp(m) => {
                    assert_eq!(evpn::index_of(&m.mac), Some(j));
                    assert_eq!(m.rd, vpn::rd(c));
                    assert_eq!(m.label1.value(), 10_000 + c);
                    match m.ip {
                        Some(_) => mac_ip += 1,
                        None => mac_only += 1,
                    }
                }
                EvpnRoute::IpPrefix(p) => {
                    let back = Prefix4::new(
                        match p.prefix {
                            std::net::IpAddr::V4(a) => a,
                            _ => unreachable!("IPv4 prefixes"),
                        },
                        p.prefix_len,
                    );
                    assert_eq!(back.and_then(|p| t.index(&p)), Some(j));
                    prefix += 1;
                }
                r => panic!("entry {j}: {r}"),
            }
        }
        assert_eq!((mac_ip, mac_only, prefix), (500, 250, 250));
        assert_eq!(evpn::index_of(&reflectd::wire::evpn::Mac([0xaa; 6])), None);
    }

    #[test]
    fn evpn_routes_pack_into_mp_reach_and_their_keys_into_mp_unreach() {
        use reflectd::wire::{CodecCtx, Message, MpReach, NlriSet};
        let t = Table::new(400).unwrap();
        let cs = t.customers(3);
        let ctx = CodecCtx::default();
        let routes = evpn::announced(&t, &cs, 0..400);
        let mut out = Vec::new();
        let a = attrs(1, 0, 100, 0);
        reflectd::wire::encode_announce(&ctx, &a, &routes, &mut out);
        let (mut got, mut pos) = (Vec::new(), 0);
        while pos < out.len() {
            let len = usize::from(u16::from_be_bytes([out[pos + 16], out[pos + 17]]));
            let Ok(Message::Update(u)) = reflectd::wire::decode(&out[pos..pos + len], &ctx) else {
                panic!("not an UPDATE")
            };
            let Some(MpReach {
                next_hop,
                nlri: NlriSet::Evpn(l),
            }) = u.mp_reach
            else {
                panic!("no EVPN MP_REACH_NLRI")
            };
            assert_eq!(next_hop, a.next_hop);
            got.extend(l.keys.iter().zip(&l.labels).map(|(k, d)| (*k, d.clone())));
            pos += len;
        }
        let want: Vec<_> = routes.iter().map(|r| r.0.split()).collect();
        assert_eq!(got, want);
        let mut wd = Vec::new();
        reflectd::wire::encode_withdraw(&ctx, &evpn::keys(&t, &cs, 0..400), &mut wd);
        assert!(!wd.is_empty());
    }

    #[test]
    fn a_sink_is_a_member_of_n_targets_and_ten_sinks_cover_a_hundred() {
        assert_eq!(vpn::targets_of(0, 100, 10), (0..10).collect::<Vec<_>>());
        assert_eq!(vpn::targets_of(9, 100, 10), (90..100).collect::<Vec<_>>());
        assert_eq!(vpn::targets_of(10, 100, 10), vpn::targets_of(0, 100, 10));
        assert_eq!(vpn::targets_of(3, 4, 3), vec![1, 2, 3]);
        assert_eq!(vpn::targets_of(0, 4, 9), vec![0, 1, 2, 3]);
    }

    #[test]
    fn the_membership_update_carries_each_target_whole_then_end_of_rib() {
        use reflectd::wire::{attr_code, rtc, Family, Frames, MessageType};
        let msg = vpn::membership(65000, Ipv4Addr::new(127, 2, 0, 1), &[0, 41]);
        let frames: Vec<_> = Frames::new(&msg, 4096).map_while(Result::ok).collect();
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(|f| f.kind() == MessageType::Update));
        let body = frames[0].body();
        let alen = usize::from(u16::from_be_bytes([body[2], body[3]]));
        let mut attrs = &body[4..4 + alen];
        let mut mp = None;
        while let Some((code, value, whole)) = attr_code::next_attr(attrs) {
            if code == attr_code::MP_REACH_NLRI {
                mp = Some(value);
            }
            attrs = &attrs[whole.len()..];
        }
        let mp = mp.expect("MP_REACH_NLRI");
        assert_eq!(&mp[..9], &[0, 1, 132, 4, 127, 2, 0, 1, 0]);
        let mut got = Vec::new();
        rtc::decode(&mp[9..], false, &mut got).unwrap();
        let want: Vec<String> = [1, 42]
            .iter()
            .map(|n| format!("65000:65000:{n}/96"))
            .collect();
        let got: Vec<String> = got.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, want);
        let mut eor = Vec::new();
        reflectd::wire::encode_end_of_rib(Family::RtConstraint, &mut eor);
        assert_eq!(frames[1].bytes(), &eor[..]);
    }
}
