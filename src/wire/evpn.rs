//! EVPN NLRI (RFC 7432 §7, RFC 9136 §3.1): the route types carried in MP_REACH_NLRI /
//! MP_UNREACH_NLRI for AFI 25 (L2VPN) SAFI 70 (EVPN), decoded from and encoded back to
//! exactly the bytes that came in, and split into the route key the RIB indexes by and the
//! per-path data it stores beside the attributes. Pure codec: it does not take part in
//! UPDATE decoding, knows nothing of sessions, and never picks a NOTIFICATION.
//!
//! Use: [`iter`] (or [`decode`]) over an MP_REACH/MP_UNREACH NLRI field gives
//! `(path id, EvpnRoute)`; [`EvpnRoute::split`] gives the `(EvpnKey, PathData)` to store;
//! [`join`] turns a stored pair back into an [`EvpnRoute`], and [`encode_entry`] /
//! [`EvpnRoute::encode`] / [`EvpnRoute::wire_len`] write it out. A key alone cannot be
//! written: the wire form needs the path's data too.
//!
//! ```text
//! NLRI field: repeated [Path Id (4, ADD-PATH only)][Route Type (1)][Length (1)][Value]
//!
//! 1 Ethernet A-D        RD(8) ESI(10) EthTag(4) Label(3)                           25
//! 2 MAC/IP Advert.      RD(8) ESI(10) EthTag(4) MacLen(1)=48 MAC(6)
//!                       IpLen(1)=0/32/128 IP(0/4/16) Label1(3) [Label2(3)]          33..52
//! 3 Inclusive Mcast     RD(8) EthTag(4) IpLen(1)=32/128 OrigIP(4/16)               17 / 29
//! 4 Ethernet Segment    RD(8) ESI(10) IpLen(1)=32/128 OrigIP(4/16)                 23 / 35
//! 5 IP Prefix           RD(8) ESI(10) EthTag(4) PfxLen(1) Pfx(4/16) GW(4/16)
//!                       Label(3)                                                   34 / 58
//! ```
//!
//! Errors (RFC 7606 §5.3): a known route type whose length does not fit its layout, a MAC
//! length other than 48, an IP length other than those above, a prefix length beyond its
//! family, or any NLRI (known or not) that runs past the end of the field is an error; the
//! caller treats it as the MP_REACH/MP_UNREACH error of RFC 7606 §7 (session reset). Any
//! other route type is [`Opaque`]: kept as its bytes, keyed by its whole NLRI, reflected
//! unchanged, never an error.
//!
//! Key and per-path data. For BGP route key processing only some fields are "part of the
//! prefix in the NLRI"; the rest are "route attributes" that belong to one path (RFC 7432
//! §7.1-7.4, RFC 9136 §3.1). The RD is part of every key: RFC 9136 §3.1 names it, and
//! RFC 7432 §7.1-7.4 list only the fields after it because the RD is what makes any VPN
//! route unique (RFC 4364 §4.2); GoBGP and FRR key by it too.
//!
//! | type | [`EvpnKey`] (route key)                    | [`PathData`] (per path)      |
//! |------|--------------------------------------------|------------------------------|
//! | 1    | RD, ESI, Ethernet Tag                      | MPLS Label                   |
//! | 2    | RD, Ethernet Tag, MAC len, MAC, IP len, IP | ESI, Label1, Label2          |
//! | 3    | RD, Ethernet Tag, IP len, originator IP    | nothing                      |
//! | 4    | RD, ESI, IP len, originator IP             | nothing                      |
//! | 5    | RD, Ethernet Tag, prefix length, prefix    | ESI, gateway IP, MPLS Label  |
//! | else | the whole NLRI (type + value)              | nothing, or the value (below)|
//!
//! [`EvpnRoute::split`] gives both; [`join`] puts them back into the route, whose
//! [`EvpnRoute::encode`] writes the original bytes. [`EvpnKey`] is 40 bytes, `Copy`, with
//! `Eq`/`Hash`/`Ord` over its canonical bytes ([route type][key fields in wire order]), so it
//! can index a hash map directly; the longest known key (type 2 with an IPv6 address) takes
//! 37 of its 39 bytes. An opaque NLRI whose value fits in 38 bytes is held in the key
//! whole. A longer one (up to 255 value bytes) cannot be: its key is the route type, the
//! value length and a 128-bit keyed hash of the value (SipHash with keys drawn at random
//! once per process, so a peer cannot aim for a collision), and its value travels in
//! [`PathData::Opaque`]. Such keys are stable within one process only, which is all an
//! in-memory RIB needs.
//!
//! Prefixes (type 5) and addresses keep the bytes as sent: host bits beyond a type 5 prefix
//! length are neither cleared nor rejected (they are part of the key), so reflection is
//! byte-exact.
//!
//! Display follows `gobgp global rib -a evpn` (GoBGP 3.x), which shows the key fields only:
//! `[type:macadv][rd:65000:1][etag:0][mac:aa:bb:cc:dd:ee:ff][ip:10.0.0.1]`. Two departures:
//! an ESI is ten hex octets as FRR prints it (GoBGP decodes it by ESI type into words), and
//! a MAC-only route has no `[ip:...]` (GoBGP prints `[ip:<nil>]`). [`PathData`] shows the
//! rest in the same style: `[esi:...][label:100,200]`, `[gw:...]`.

use super::rd::Rd;
use super::reader::Reader;
use super::types::{AFI_L2VPN, SAFI_EVPN};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

pub const AFI: u16 = AFI_L2VPN;
pub const SAFI: u8 = SAFI_EVPN;

pub const ETHERNET_AD: u8 = 1;
pub const MAC_IP: u8 = 2;
pub const INCLUSIVE_MULTICAST: u8 = 3;
pub const ETHERNET_SEGMENT: u8 = 4;
pub const IP_PREFIX: u8 = 5;

/// Why an EVPN NLRI list could not be parsed (the caller picks the NOTIFICATION).
pub type EvpnError = &'static str;

/// Ethernet Segment Identifier (RFC 7432 §5): type octet + 9 value octets, carried as is.
/// Shown as ten colon-separated hex octets, as FRR prints it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Esi(pub [u8; 10]);

impl Esi {
    /// The ESI of a single-homed site (RFC 7432 §5).
    pub const ZERO: Esi = Esi([0; 10]);

    pub fn kind(&self) -> u8 {
        self.0[0]
    }
}

/// A MAC address, shown as `aa:bb:cc:dd:ee:ff`.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

/// A 3-octet label field as sent. Under MPLS (RFC 7432) the label is its high 20 bits;
/// under VXLAN (RFC 8365 §5.1.3) the whole 24 bits are the VNI. Shown as the 24-bit value,
/// as GoBGP prints it.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Label(pub [u8; 3]);

impl Label {
    /// The whole 24-bit field (a VNI under VXLAN).
    pub fn value(&self) -> u32 {
        u32::from_be_bytes([0, self.0[0], self.0[1], self.0[2]])
    }

    /// The 20-bit MPLS label (the field without its low 4 bits).
    pub fn mpls(&self) -> u32 {
        self.value() >> 4
    }

    /// The field holding `v`'s low 24 bits.
    pub fn from_value(v: u32) -> Label {
        let [_, a, b, c] = v.to_be_bytes();
        Label([a, b, c])
    }
}

fn colon_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for Esi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        colon_hex(f, &self.0)
    }
}

impl fmt::Debug for Esi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Esi({self})")
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        colon_hex(f, &self.0)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Label({self})")
    }
}

/// Route type 1 (RFC 7432 §7.1).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct EthernetAd {
    pub rd: Rd,
    pub esi: Esi,
    pub etag: u32,
    pub label: Label,
}

/// Route type 2 (RFC 7432 §7.2). The MAC length is always 48; `ip` is `None` for a MAC-only
/// advertisement (IP length 0).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct MacIp {
    pub rd: Rd,
    pub esi: Esi,
    pub etag: u32,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
    pub label1: Label,
    pub label2: Option<Label>,
}

/// Route type 3 (RFC 7432 §7.3).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Multicast {
    pub rd: Rd,
    pub etag: u32,
    pub originator: IpAddr,
}

/// Route type 4 (RFC 7432 §7.4).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct EthernetSegment {
    pub rd: Rd,
    pub esi: Esi,
    pub originator: IpAddr,
}

/// Route type 5 (RFC 9136 §3.1). `prefix` is the whole address field as sent (host bits
/// kept); its family sets the NLRI's (34 or 58 octets), and the gateway is written in that
/// family (a gateway of the other family is written as zeros: the decoder never makes one).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct IpPrefix {
    pub rd: Rd,
    pub esi: Esi,
    pub etag: u32,
    pub prefix: IpAddr,
    pub prefix_len: u8,
    pub gateway: IpAddr,
    pub label: Label,
}

/// A route type this module does not decode: its type and value bytes, as sent.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Opaque<'a> {
    pub route_type: u8,
    pub value: &'a [u8],
}

/// One EVPN NLRI. Borrows the value bytes of an opaque route from the decoded buffer.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum EvpnRoute<'a> {
    EthernetAd(EthernetAd),
    MacIp(MacIp),
    Multicast(Multicast),
    EthernetSegment(EthernetSegment),
    IpPrefix(IpPrefix),
    Opaque(Opaque<'a>),
}

// ---------------------------------------------------------------------------------------
// Decoding

fn ip_of(r: &mut Reader<'_>, bits: u8) -> Option<Option<IpAddr>> {
    match bits {
        0 => Some(None),
        32 => r.ipv4().map(|a| Some(IpAddr::V4(a))),
        128 => r.ipv6().map(|a| Some(IpAddr::V6(a))),
        _ => None,
    }
}

fn rd(r: &mut Reader<'_>) -> Option<Rd> {
    r.array().map(Rd)
}

fn esi(r: &mut Reader<'_>) -> Option<Esi> {
    r.array().map(Esi)
}

fn label(r: &mut Reader<'_>) -> Option<Label> {
    r.array().map(Label)
}

/// The value of one known route type; `None` for a type decoded as opaque. Every layout is
/// checked against the exact length first, so the reads below cannot run short.
fn decode_value(route_type: u8, v: &[u8]) -> Result<Option<EvpnRoute<'static>>, EvpnError> {
    let mut r = Reader::new(v);
    let short = "EVPN route shorter than its fields";
    let route = match route_type {
        ETHERNET_AD => {
            if v.len() != 25 {
                return Err("EVPN Ethernet A-D route length is not 25");
            }
            EvpnRoute::EthernetAd(EthernetAd {
                rd: rd(&mut r).ok_or(short)?,
                esi: esi(&mut r).ok_or(short)?,
                etag: r.u32().ok_or(short)?,
                label: label(&mut r).ok_or(short)?,
            })
        }
        MAC_IP => {
            let (rd, esi, etag) = (
                rd(&mut r).ok_or(short)?,
                esi(&mut r).ok_or(short)?,
                r.u32().ok_or(short)?,
            );
            if r.u8().ok_or(short)? != 48 {
                return Err("EVPN MAC/IP route MAC length is not 48");
            }
            let mac = Mac(r.array().ok_or(short)?);
            let ip_len = r.u8().ok_or(short)?;
            if !matches!(ip_len, 0 | 32 | 128) {
                return Err("EVPN MAC/IP route IP length is not 0, 32 or 128");
            }
            let ip = ip_of(&mut r, ip_len).ok_or(short)?;
            let label1 = label(&mut r).ok_or(short)?;
            let label2 = match r.remaining() {
                0 => None,
                3 => Some(label(&mut r).ok_or(short)?),
                _ => return Err("EVPN MAC/IP route length does not fit one or two labels"),
            };
            EvpnRoute::MacIp(MacIp {
                rd,
                esi,
                etag,
                mac,
                ip,
                label1,
                label2,
            })
        }
        INCLUSIVE_MULTICAST => {
            let (rd, etag) = (rd(&mut r).ok_or(short)?, r.u32().ok_or(short)?);
            let originator = originator(&mut r)?;
            EvpnRoute::Multicast(Multicast {
                rd,
                etag,
                originator,
            })
        }
        ETHERNET_SEGMENT => {
            let (rd, esi) = (rd(&mut r).ok_or(short)?, esi(&mut r).ok_or(short)?);
            let originator = originator(&mut r)?;
            EvpnRoute::EthernetSegment(EthernetSegment {
                rd,
                esi,
                originator,
            })
        }
        IP_PREFIX => {
            let v6 = match v.len() {
                34 => false,
                58 => true,
                _ => return Err("EVPN IP Prefix route length is not 34 or 58"),
            };
            let (rd, esi, etag) = (
                rd(&mut r).ok_or(short)?,
                esi(&mut r).ok_or(short)?,
                r.u32().ok_or(short)?,
            );
            let prefix_len = r.u8().ok_or(short)?;
            if prefix_len > if v6 { 128 } else { 32 } {
                return Err("EVPN IP Prefix route prefix length too long for its family");
            }
            let bits = if v6 { 128 } else { 32 };
            let prefix = ip_of(&mut r, bits).flatten().ok_or(short)?;
            let gateway = ip_of(&mut r, bits).flatten().ok_or(short)?;
            EvpnRoute::IpPrefix(IpPrefix {
                rd,
                esi,
                etag,
                prefix,
                prefix_len,
                gateway,
                label: label(&mut r).ok_or(short)?,
            })
        }
        _ => return Ok(None),
    };
    Ok(Some(route))
}

/// `[IP length][IP]` that must fill the rest of a type 3 or 4 value.
fn originator(r: &mut Reader<'_>) -> Result<IpAddr, EvpnError> {
    let bad = "EVPN route IP length does not match its route length";
    let bits = r.u8().ok_or("EVPN route shorter than its fields")?;
    match (bits, r.remaining()) {
        (32, 4) | (128, 16) => ip_of(r, bits).flatten().ok_or(bad),
        (32 | 128, _) => Err(bad),
        _ => Err("EVPN route originator IP length is not 32 or 128"),
    }
}

/// Reads the NLRIs of one MP_REACH/MP_UNREACH NLRI field in order. Yields
/// `(path id, route)`, the path id only when `add_path`; after the first error it ends.
pub struct Iter<'a> {
    r: Reader<'a>,
    add_path: bool,
    failed: bool,
}

/// The NLRIs in `buf` (the NLRI field of AFI 25 SAFI 70), with a 4-octet path id before
/// each when ADD-PATH (RFC 7911) is negotiated for the family in this direction.
pub fn iter(buf: &[u8], add_path: bool) -> Iter<'_> {
    Iter {
        r: Reader::new(buf),
        add_path,
        failed: false,
    }
}

impl<'a> Iter<'a> {
    fn read(&mut self) -> Result<(Option<u32>, EvpnRoute<'a>), EvpnError> {
        let path_id = if self.add_path {
            Some(self.r.u32().ok_or("truncated ADD-PATH path identifier")?)
        } else {
            None
        };
        let route_type = self.r.u8().ok_or("truncated EVPN route type")?;
        let len = self.r.u8().ok_or("truncated EVPN route length")?;
        let value = self
            .r
            .take(len as usize)
            .ok_or("EVPN route runs past the end of its field")?;
        let route = decode_value(route_type, value)?
            .unwrap_or(EvpnRoute::Opaque(Opaque { route_type, value }));
        Ok((path_id, route))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(Option<u32>, EvpnRoute<'a>), EvpnError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let item = self.read();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Every NLRI in `buf`, or the first error (the list is then unusable: RFC 7606 §7).
pub fn decode(buf: &[u8], add_path: bool) -> Result<Vec<(Option<u32>, EvpnRoute<'_>)>, EvpnError> {
    iter(buf, add_path).collect()
}

// ---------------------------------------------------------------------------------------
// Encoding

fn ip_len_bits(ip: Option<IpAddr>) -> u8 {
    match ip {
        None => 0,
        Some(IpAddr::V4(_)) => 32,
        Some(IpAddr::V6(_)) => 128,
    }
}

fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

/// `ip` in `like`'s family, zeros when it is of the other one.
fn put_ip_as(out: &mut Vec<u8>, like: IpAddr, ip: IpAddr) {
    match (like, ip) {
        (IpAddr::V4(_), IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
        (IpAddr::V6(_), IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
        (IpAddr::V4(_), IpAddr::V6(_)) => out.extend_from_slice(&[0; 4]),
        (IpAddr::V6(_), IpAddr::V4(_)) => out.extend_from_slice(&[0; 16]),
    }
}

fn ip_bytes(ip: IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

impl EvpnRoute<'_> {
    pub fn route_type(&self) -> u8 {
        match self {
            EvpnRoute::EthernetAd(_) => ETHERNET_AD,
            EvpnRoute::MacIp(_) => MAC_IP,
            EvpnRoute::Multicast(_) => INCLUSIVE_MULTICAST,
            EvpnRoute::EthernetSegment(_) => ETHERNET_SEGMENT,
            EvpnRoute::IpPrefix(_) => IP_PREFIX,
            EvpnRoute::Opaque(o) => o.route_type,
        }
    }

    pub fn rd(&self) -> Option<Rd> {
        match self {
            EvpnRoute::EthernetAd(r) => Some(r.rd),
            EvpnRoute::MacIp(r) => Some(r.rd),
            EvpnRoute::Multicast(r) => Some(r.rd),
            EvpnRoute::EthernetSegment(r) => Some(r.rd),
            EvpnRoute::IpPrefix(r) => Some(r.rd),
            EvpnRoute::Opaque(_) => None,
        }
    }

    /// Octets of the value (what the Length field says).
    fn value_len(&self) -> usize {
        match self {
            EvpnRoute::EthernetAd(_) => 25,
            EvpnRoute::MacIp(r) => {
                30 + r.ip.map_or(0, ip_bytes) + if r.label2.is_some() { 6 } else { 3 }
            }
            EvpnRoute::Multicast(r) => 13 + ip_bytes(r.originator),
            EvpnRoute::EthernetSegment(r) => 19 + ip_bytes(r.originator),
            EvpnRoute::IpPrefix(r) => 26 + 2 * ip_bytes(r.prefix),
            EvpnRoute::Opaque(o) => o.value.len(),
        }
    }

    /// Bytes this NLRI takes on the wire (type, length and value; no ADD-PATH path id).
    /// An opaque value longer than 255 octets (never decoded) is cut to 255 by `encode`.
    pub fn wire_len(&self) -> usize {
        2 + self.value_len().min(255)
    }

    /// Appends `[type][length][value]`: the bytes it was decoded from.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.route_type());
        out.push(self.value_len().min(255) as u8);
        match self {
            EvpnRoute::EthernetAd(r) => {
                out.extend_from_slice(&r.rd.0);
                out.extend_from_slice(&r.esi.0);
                out.extend_from_slice(&r.etag.to_be_bytes());
                out.extend_from_slice(&r.label.0);
            }
            EvpnRoute::MacIp(r) => {
                out.extend_from_slice(&r.rd.0);
                out.extend_from_slice(&r.esi.0);
                out.extend_from_slice(&r.etag.to_be_bytes());
                out.push(48);
                out.extend_from_slice(&r.mac.0);
                out.push(ip_len_bits(r.ip));
                if let Some(ip) = r.ip {
                    put_ip(out, ip);
                }
                out.extend_from_slice(&r.label1.0);
                if let Some(l) = r.label2 {
                    out.extend_from_slice(&l.0);
                }
            }
            EvpnRoute::Multicast(r) => {
                out.extend_from_slice(&r.rd.0);
                out.extend_from_slice(&r.etag.to_be_bytes());
                out.push(ip_len_bits(Some(r.originator)));
                put_ip(out, r.originator);
            }
            EvpnRoute::EthernetSegment(r) => {
                out.extend_from_slice(&r.rd.0);
                out.extend_from_slice(&r.esi.0);
                out.push(ip_len_bits(Some(r.originator)));
                put_ip(out, r.originator);
            }
            EvpnRoute::IpPrefix(r) => {
                out.extend_from_slice(&r.rd.0);
                out.extend_from_slice(&r.esi.0);
                out.extend_from_slice(&r.etag.to_be_bytes());
                out.push(r.prefix_len);
                put_ip(out, r.prefix);
                put_ip_as(out, r.prefix, r.gateway);
                out.extend_from_slice(&r.label.0);
            }
            EvpnRoute::Opaque(o) => out.extend_from_slice(o.value.get(..255).unwrap_or(o.value)),
        }
    }
}

/// Appends one NLRI as the NLRI field carries it: the path id first when there is one.
pub fn encode_entry(path_id: Option<u32>, route: &EvpnRoute<'_>, out: &mut Vec<u8>) {
    if let Some(id) = path_id {
        out.extend_from_slice(&id.to_be_bytes());
    }
    route.encode(out);
}

// ---------------------------------------------------------------------------------------
// Route key and per-path data

/// Octets of key material an [`EvpnKey`] holds inline.
pub const KEY_CAP: usize = 39;
/// The longest opaque value kept in the key itself (the type octet takes one).
pub const OPAQUE_INLINE_MAX: usize = KEY_CAP - 1;
/// `len` of a key holding [type][value length][128-bit hash] instead of the value.
const HASHED: u8 = u8::MAX;

/// The route key (see the module doc): 40 bytes, `Copy`, compared and hashed as bytes.
/// Unused bytes are zero, so derived equality is equality of the key material.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvpnKey {
    bytes: [u8; KEY_CAP],
    len: u8,
}

impl std::hash::Hash for EvpnKey {
    /// Both fields as five words: the derived hash fed the hasher a 39-byte slice, its
    /// slow path, half of the samples of the RIB's table update in the load tool's EVPN
    /// workload (6% of reflectd's CPU there, measured). Equal keys have equal fields, so
    /// this agrees with `Eq`.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut w = [0u8; KEY_CAP + 1];
        w[..KEY_CAP].copy_from_slice(&self.bytes);
        w[KEY_CAP] = self.len;
        for c in w.chunks_exact(8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            state.write_u64(u64::from_ne_bytes(word));
        }
    }
}

/// The non-key fields of one path's NLRI (see the module doc). 32 bytes; `Clone` only
/// because a long opaque value is shared, not copied.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum PathData {
    /// Types 3 and 4, and opaque routes held whole in the key.
    None,
    EthernetAd {
        label: Label,
    },
    MacIp {
        esi: Esi,
        label1: Label,
        label2: Option<Label>,
    },
    IpPrefix {
        esi: Esi,
        gateway: IpAddr,
        label: Label,
    },
    /// The value of an opaque route too long for the key (more than 38 octets).
    Opaque(Arc<[u8]>),
}

/// Builds key bytes; every key built here is at most 39 octets, checked by construction.
struct KeyBuf(EvpnKey);

impl KeyBuf {
    fn new(route_type: u8) -> KeyBuf {
        let mut k = EvpnKey {
            bytes: [0; KEY_CAP],
            len: 1,
        };
        k.bytes[0] = route_type;
        KeyBuf(k)
    }

    fn put(&mut self, b: &[u8]) -> &mut Self {
        let at = self.0.len as usize;
        if let Some(dst) = self.0.bytes.get_mut(at..at + b.len()) {
            dst.copy_from_slice(b);
            self.0.len += b.len() as u8;
        }
        self
    }

    fn ip(&mut self, ip: Option<IpAddr>) -> &mut Self {
        self.put(&[ip_len_bits(ip)]);
        match ip {
            Some(IpAddr::V4(a)) => self.put(&a.octets()),
            Some(IpAddr::V6(a)) => self.put(&a.octets()),
            None => self,
        }
    }
}

/// 128 bits of SipHash over an opaque route, under two keys drawn once per process.
fn opaque_hash(route_type: u8, value: &[u8]) -> [u8; 16] {
    static KEYS: OnceLock<(RandomState, RandomState)> = OnceLock::new();
    let (a, b) = KEYS.get_or_init(|| (RandomState::new(), RandomState::new()));
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&a.hash_one((route_type, value)).to_be_bytes());
    h[8..].copy_from_slice(&b.hash_one((route_type, value)).to_be_bytes());
    h
}

impl EvpnRoute<'_> {
    /// The fields that identify the route (RFC 7432 §7.1-7.4, RFC 9136 §3.1).
    pub fn key(&self) -> EvpnKey {
        let mut k = KeyBuf::new(self.route_type());
        match self {
            EvpnRoute::EthernetAd(r) => {
                k.put(&r.rd.0).put(&r.esi.0).put(&r.etag.to_be_bytes());
            }
            EvpnRoute::MacIp(r) => {
                k.put(&r.rd.0)
                    .put(&r.etag.to_be_bytes())
                    .put(&[48])
                    .put(&r.mac.0)
                    .ip(r.ip);
            }
            EvpnRoute::Multicast(r) => {
                k.put(&r.rd.0)
                    .put(&r.etag.to_be_bytes())
                    .ip(Some(r.originator));
            }
            EvpnRoute::EthernetSegment(r) => {
                k.put(&r.rd.0).put(&r.esi.0).ip(Some(r.originator));
            }
            EvpnRoute::IpPrefix(r) => {
                k.put(&r.rd.0)
                    .put(&r.etag.to_be_bytes())
                    .put(&[r.prefix_len]);
                put_addr(&mut k, r.prefix);
            }
            EvpnRoute::Opaque(o) if o.value.len() <= OPAQUE_INLINE_MAX => {
                k.put(o.value);
            }
            EvpnRoute::Opaque(o) => {
                let value = o.value.get(..255).unwrap_or(o.value);
                k.put(&[value.len() as u8])
                    .put(&opaque_hash(o.route_type, value));
                k.0.len = HASHED;
            }
        }
        k.0
    }

    /// The fields that belong to this path, not to the route.
    pub fn path_data(&self) -> PathData {
        match self {
            EvpnRoute::EthernetAd(r) => PathData::EthernetAd { label: r.label },
            EvpnRoute::MacIp(r) => PathData::MacIp {
                esi: r.esi,
                label1: r.label1,
                label2: r.label2,
            },
            EvpnRoute::Multicast(_) | EvpnRoute::EthernetSegment(_) => PathData::None,
            EvpnRoute::IpPrefix(r) => PathData::IpPrefix {
                esi: r.esi,
                gateway: r.gateway,
                label: r.label,
            },
            EvpnRoute::Opaque(o) if o.value.len() <= OPAQUE_INLINE_MAX => PathData::None,
            EvpnRoute::Opaque(o) => PathData::Opaque(o.value.get(..255).unwrap_or(o.value).into()),
        }
    }

    /// `(key, path data)`: what the RIB stores; [`join`] undoes it.
    pub fn split(&self) -> (EvpnKey, PathData) {
        (self.key(), self.path_data())
    }
}

fn put_addr(k: &mut KeyBuf, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => k.put(&a.octets()),
        IpAddr::V6(a) => k.put(&a.octets()),
    };
}

/// The route a key and a path's data came from (`split` reversed), or `None` when they do
/// not belong together (data of another route type, a gateway of the other family, an
/// opaque value of another length).
pub fn join<'a>(key: &'a EvpnKey, data: &'a PathData) -> Option<EvpnRoute<'a>> {
    let route = match (key.view(), data) {
        (KeyView::EthernetAd { rd, esi, etag }, PathData::EthernetAd { label }) => {
            EvpnRoute::EthernetAd(EthernetAd {
                rd,
                esi,
                etag,
                label: *label,
            })
        }
        (
            KeyView::MacIp { rd, etag, mac, ip },
            PathData::MacIp {
                esi,
                label1,
                label2,
            },
        ) => EvpnRoute::MacIp(MacIp {
            rd,
            esi: *esi,
            etag,
            mac,
            ip,
            label1: *label1,
            label2: *label2,
        }),
        (
            KeyView::Multicast {
                rd,
                etag,
                originator,
            },
            PathData::None,
        ) => EvpnRoute::Multicast(Multicast {
            rd,
            etag,
            originator,
        }),
        (
            KeyView::EthernetSegment {
                rd,
                esi,
                originator,
            },
            PathData::None,
        ) => EvpnRoute::EthernetSegment(EthernetSegment {
            rd,
            esi,
            originator,
        }),
        (
            KeyView::IpPrefix {
                rd,
                etag,
                prefix,
                prefix_len,
            },
            PathData::IpPrefix {
                esi,
                gateway,
                label,
            },
        ) if prefix.is_ipv4() == gateway.is_ipv4() => EvpnRoute::IpPrefix(IpPrefix {
            rd,
            esi: *esi,
            etag,
            prefix,
            prefix_len,
            gateway: *gateway,
            label: *label,
        }),
        (KeyView::Opaque { route_type, value }, PathData::None) => {
            EvpnRoute::Opaque(Opaque { route_type, value })
        }
        (KeyView::Hashed { route_type, len }, PathData::Opaque(value))
            if value.len() == len as usize =>
        {
            EvpnRoute::Opaque(Opaque {
                route_type,
                value: value.as_ref(),
            })
        }
        _ => return None,
    };
    Some(route)
}

/// A key's fields, for display and for [`join`].
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum KeyView<'a> {
    EthernetAd {
        rd: Rd,
        esi: Esi,
        etag: u32,
    },
    MacIp {
        rd: Rd,
        etag: u32,
        mac: Mac,
        ip: Option<IpAddr>,
    },
    Multicast {
        rd: Rd,
        etag: u32,
        originator: IpAddr,
    },
    EthernetSegment {
        rd: Rd,
        esi: Esi,
        originator: IpAddr,
    },
    IpPrefix {
        rd: Rd,
        etag: u32,
        prefix: IpAddr,
        prefix_len: u8,
    },
    /// An opaque route held whole: its type and value.
    Opaque {
        route_type: u8,
        value: &'a [u8],
    },
    /// An opaque route too long for the key: its type, value length and hash.
    Hashed {
        route_type: u8,
        len: u8,
    },
}

impl EvpnKey {
    pub fn route_type(&self) -> u8 {
        self.bytes[0]
    }

    /// The route's RD: every known route type has one, first after the type (as `key`
    /// builds it; read without parsing the key, since the RIB's map asks for it on every
    /// lookup); an opaque route's is not known.
    pub fn rd(&self) -> Option<Rd> {
        let known = (ETHERNET_AD..=IP_PREFIX).contains(&self.route_type());
        if !known || self.len == HASHED {
            return None;
        }
        self.bytes.get(1..9)?.try_into().ok().map(Rd)
    }

    /// The key material (for a hashed opaque key: type, value length, hash).
    pub fn as_bytes(&self) -> &[u8] {
        let n = if self.len == HASHED {
            18
        } else {
            self.len as usize
        };
        self.bytes.get(..n).unwrap_or(&self.bytes)
    }

    pub fn view(&self) -> KeyView<'_> {
        let (route_type, rest) = match self.as_bytes().split_first() {
            Some((&t, rest)) => (t, rest),
            None => (0, &[][..]),
        };
        if self.len == HASHED {
            return KeyView::Hashed {
                route_type,
                len: rest.first().copied().unwrap_or(0),
            };
        }
        // Keys of known types are only built from decoded routes, so these reads succeed;
        // should one not, the key still shows as its bytes.
        Self::known(route_type, rest).unwrap_or(KeyView::Opaque {
            route_type,
            value: rest,
        })
    }

    fn known(route_type: u8, b: &[u8]) -> Option<KeyView<'_>> {
        let mut r = Reader::new(b);
        let ip = |r: &mut Reader<'_>| {
            let bits = r.u8()?;
            ip_of(r, bits)
        };
        let view = match route_type {
            ETHERNET_AD => KeyView::EthernetAd {
                rd: rd(&mut r)?,
                esi: esi(&mut r)?,
                etag: r.u32()?,
            },
            MAC_IP => KeyView::MacIp {
                rd: rd(&mut r)?,
                etag: r.u32()?,
                mac: {
                    r.u8()?;
                    Mac(r.array()?)
                },
                ip: ip(&mut r)?,
            },
            INCLUSIVE_MULTICAST => KeyView::Multicast {
                rd: rd(&mut r)?,
                etag: r.u32()?,
                originator: ip(&mut r)??,
            },
            ETHERNET_SEGMENT => KeyView::EthernetSegment {
                rd: rd(&mut r)?,
                esi: esi(&mut r)?,
                originator: ip(&mut r)??,
            },
            IP_PREFIX => {
                let (rd, etag, prefix_len) = (rd(&mut r)?, r.u32()?, r.u8()?);
                let prefix = match r.remaining() {
                    4 => IpAddr::V4(r.ipv4()?),
                    16 => IpAddr::V6(r.ipv6()?),
                    _ => return None,
                };
                KeyView::IpPrefix {
                    rd,
                    etag,
                    prefix,
                    prefix_len,
                }
            }
            _ => return None,
        };
        r.is_empty().then_some(view)
    }
}

// ---------------------------------------------------------------------------------------
// Display, as GoBGP's `gobgp global rib -a evpn` shows a route: the key fields only.

fn hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

impl fmt::Display for KeyView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            KeyView::EthernetAd { rd, esi, etag } => {
                write!(f, "[type:A-D][rd:{rd}][esi:{esi}][etag:{etag}]")
            }
            KeyView::MacIp { rd, etag, mac, ip } => {
                write!(f, "[type:macadv][rd:{rd}][etag:{etag}][mac:{mac}]")?;
                // GoBGP prints a MAC-only route's absent address as "<nil>"; left out here.
                match ip {
                    Some(ip) => write!(f, "[ip:{ip}]"),
                    None => Ok(()),
                }
            }
            KeyView::Multicast {
                rd,
                etag,
                originator,
            } => write!(f, "[type:multicast][rd:{rd}][etag:{etag}][ip:{originator}]"),
            KeyView::EthernetSegment {
                rd,
                esi,
                originator,
            } => write!(f, "[type:esi][rd:{rd}][esi:{esi}][ip:{originator}]"),
            KeyView::IpPrefix {
                rd,
                etag,
                prefix,
                prefix_len,
            } => write!(
                f,
                "[type:Prefix][rd:{rd}][etag:{etag}][prefix:{prefix}/{prefix_len}]"
            ),
            KeyView::Opaque { route_type, value } => {
                write!(f, "[type:{route_type}][value:")?;
                hex(f, value)?;
                f.write_str("]")
            }
            KeyView::Hashed { route_type, len } => write!(f, "[type:{route_type}][len:{len}]"),
        }
    }
}

impl fmt::Display for EvpnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl fmt::Debug for EvpnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvpnKey({self})")
    }
}

impl fmt::Display for EvpnRoute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The whole value, which a hashed key no longer holds.
            EvpnRoute::Opaque(o) => KeyView::Opaque {
                route_type: o.route_type,
                value: o.value,
            }
            .fmt(f),
            _ => self.key().fmt(f),
        }
    }
}

/// The per-path fields in the same bracket style: `[esi:..][label:100,200]`, `[gw:..]`.
impl fmt::Display for PathData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathData::None => Ok(()),
            PathData::EthernetAd { label } => write!(f, "[label:{label}]"),
            PathData::MacIp {
                esi,
                label1,
                label2,
            } => {
                write!(f, "[esi:{esi}][label:{label1}")?;
                if let Some(l) = label2 {
                    write!(f, ",{l}")?;
                }
                f.write_str("]")
            }
            PathData::IpPrefix {
                esi,
                gateway,
                label,
            } => write!(f, "[esi:{esi}][gw:{gateway}][label:{label}]"),
            PathData::Opaque(v) => {
                f.write_str("[value:")?;
                hex(f, v)?;
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex: &str) -> Vec<u8> {
        let hex: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        hex.chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }

    // The NLRI fields of the MP_REACH_NLRI attributes GoBGP 3.10.0 sent over a session
    // negotiated for l2vpn-evpn only (no ADD-PATH), one route per UPDATE, after each
    // `gobgp global rib -a evpn add ...` below (captured off 127.0.0.1 by a listener that
    // logged every UPDATE). Each comment is the command, then GoBGP's display of the route.

    // macadv aa:bb:cc:dd:ee:ff 10.0.0.1 etag 0 label 100 rd 65000:1 rt 65000:1 encap vxlan
    // [type:macadv][rd:65000:1][etag:0][mac:aa:bb:cc:dd:ee:ff][ip:10.0.0.1]
    const MACADV: &str =
        "02250000fde800000001000000000000000000000000000030aabbccddeeff200a000001000064";
    // macadv aa:bb:cc:dd:ee:01 0.0.0.0 etag 10 label 200 rd 192.0.2.1:7 encap vxlan
    // [type:macadv][rd:192.0.2.1:7][etag:10][mac:aa:bb:cc:dd:ee:01][ip:<nil>]
    const MACADV_MAC_ONLY: &str =
        "02210001c00002010007000000000000000000000000000a30aabbccddee01000000c8";
    // multicast 10.0.0.1 etag 0 rd 65000:1 rt 65000:1 encap vxlan
    // [type:multicast][rd:65000:1][etag:0][ip:10.0.0.1]
    const MULTICAST: &str = "03110000fde80000000100000000200a000001";
    // prefix 10.1.0.0/24 gw 172.16.0.1 esi 0 etag 0 label 100 rd 65000:1 rt 65000:1 encap vxlan
    // [type:Prefix][rd:65000:1][etag:0][prefix:10.1.0.0/24]
    const PREFIX: &str = "05220000fde8000000010000000000000000000000000000180a010000ac100001000064";
    // prefix 2001:db8:1::/48 etag 7 label 9000 rd 65000:9
    // [type:Prefix][rd:65000:9][etag:7][prefix:2001:db8:1::/48]
    const PREFIX_V6: &str = "053a0000fde80000000900000000000000000000000000073020010db800010000
        000000000000000000000000000000000000000000000000002328";
    // a-d esi LACP aa:bb:cc:dd:ee:ff 100 etag 4294967295 label 0 rd 10.0.0.1:0 rt 65000:1
    // [type:A-D][rd:10.0.0.1:0][esi:ESI_LACP | system mac aa:bb:cc:dd:ee:ff, port key 100][etag:4294967295]
    const AD: &str = "011900010a000001000001aabbccddeeff006400ffffffff000000";
    // esi 10.0.0.1 esi MAC 00:11:22:33:44:55 5 rd 10.0.0.1:0
    // [type:esi][rd:10.0.0.1:0][esi:ESI_MAC | system mac 00:11:22:33:44:55, local discriminator 5][ip:10.0.0.1]
    const ES: &str = "041700010a000001000003001122334455000005200a000001";

    // From a second GoBGP 3.10.0 session that negotiated ADD-PATH (send/receive) for
    // l2vpn-evpn: each NLRI comes with path id 1.

    // macadv 00:11:22:33:44:55 2001:db8::1 esi 0 11 22 33 44 55 66 77 88 etag 100
    //   label 300,5000 rd 65000:2 encap vxlan
    // [type:macadv][rd:65000:2][etag:100][mac:00:11:22:33:44:55][ip:2001:db8::1]
    const AP_MACADV_V6: &str = "0000000102340000fde8000000020011000000000000000000000064300011223344558020010db800000000000000000000000100012c001388";
    // multicast 2001:db8::2 etag 42 rd 65000:3
    // [type:multicast][rd:65000:3][etag:42][ip:2001:db8::2]
    const AP_MULTICAST_V6: &str =
        "00000001031d0000fde8000000030000002a8020010db8000000000000000000000002";
    // a-d esi 0 1 2 3 4 5 6 7 8 9 etag 5 label 1000 rd 65000:1 (GoBGP takes only "1" as the
    // arbitrary ESI's value)
    // [type:A-D][rd:65000:1][esi:ESI_ARBITRARY | 01:00:00:00:00:00:00:00:00][etag:5]
    const AP_AD: &str = "000000010119
        0000fde80000000100010000000000000000000000050003e8";
    // esi 2001:db8::9 esi AS 65000 7 rd 65000:5
    // [type:esi][rd:65000:5][esi:ESI_AS | as 65000, local discriminator 7][ip:2001:db8::9]
    const AP_ES_V6: &str =
        "0000000104230000fde800000005050000fde800000007008020010db8000000000000000000000009";
    // prefix 2001:db8:1::/48 etag 7 label 9000 rd 4200000000:9: GoBGP 3.10 writes this RD
    // as type 0 with the ASN cut to 65535, and shows it so.
    // [type:Prefix][rd:65535:9][etag:7][prefix:2001:db8:1::/48]
    const AP_PREFIX_V6: &str = "00000001053a0000ffff0000000900000000000000000000000000073020010db800010000000000000000000000000000000000000000000000000000002328";

    const PLAIN: [&str; 7] = [
        MACADV,
        MACADV_MAC_ONLY,
        MULTICAST,
        PREFIX,
        PREFIX_V6,
        AD,
        ES,
    ];
    const ADD_PATH: [&str; 5] = [AP_MACADV_V6, AP_MULTICAST_V6, AP_AD, AP_ES_V6, AP_PREFIX_V6];

    fn one(hex: &str) -> EvpnRoute<'static> {
        let b: &'static [u8] = bytes(hex).leak();
        match decode(b, false).unwrap()[..] {
            [(None, r)] => r,
            ref v => panic!("{v:?}"),
        }
    }

    fn reencoded(r: &EvpnRoute<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        r.encode(&mut out);
        assert_eq!(out.len(), r.wire_len());
        out
    }

    fn rd(s: &str) -> Rd {
        s.parse().unwrap()
    }

    #[test]
    fn a_gobgp_mac_ip_route_decodes_to_its_fields() {
        let r = one(MACADV);
        assert_eq!(
            r,
            EvpnRoute::MacIp(MacIp {
                rd: rd("65000:1"),
                esi: Esi::ZERO,
                etag: 0,
                mac: Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
                ip: Some("10.0.0.1".parse().unwrap()),
                label1: Label::from_value(100),
                label2: None,
            })
        );
        let EvpnRoute::MacIp(m) = one(MACADV_MAC_ONLY) else {
            panic!()
        };
        assert_eq!((m.rd, m.etag, m.ip), (rd("192.0.2.1:7"), 10, None));
        assert_eq!(m.label1.value(), 200);
        let EvpnRoute::MacIp(m) = decode(&bytes(AP_MACADV_V6), true).unwrap()[0].1 else {
            panic!()
        };
        assert_eq!(m.esi.to_string(), "00:11:00:00:00:00:00:00:00:00");
        assert_eq!(m.ip, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            (m.label1.value(), m.label2.map(|l| l.value())),
            (300, Some(5000))
        );
    }

    #[test]
    fn gobgp_routes_of_every_type_decode_to_their_fields() {
        assert_eq!(
            one(MULTICAST),
            EvpnRoute::Multicast(Multicast {
                rd: rd("65000:1"),
                etag: 0,
                originator: "10.0.0.1".parse().unwrap(),
            })
        );
        assert_eq!(
            one(PREFIX),
            EvpnRoute::IpPrefix(IpPrefix {
                rd: rd("65000:1"),
                esi: Esi::ZERO,
                etag: 0,
                prefix: "10.1.0.0".parse().unwrap(),
                prefix_len: 24,
                gateway: "172.16.0.1".parse().unwrap(),
                label: Label::from_value(100),
            })
        );
        let EvpnRoute::IpPrefix(p) = one(PREFIX_V6) else {
            panic!()
        };
        assert_eq!(p.prefix, "2001:db8:1::".parse::<IpAddr>().unwrap());
        assert_eq!((p.prefix_len, p.etag, p.label.value()), (48, 7, 9000));
        assert_eq!(p.gateway, "::".parse::<IpAddr>().unwrap());
        assert_eq!(
            one(AD),
            EvpnRoute::EthernetAd(EthernetAd {
                rd: rd("10.0.0.1:0"),
                esi: Esi([1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0, 100, 0]),
                etag: u32::MAX,
                label: Label([0; 3]),
            })
        );
        assert_eq!(
            one(ES),
            EvpnRoute::EthernetSegment(EthernetSegment {
                rd: rd("10.0.0.1:0"),
                esi: Esi([3, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0, 0, 5]),
                originator: "10.0.0.1".parse().unwrap(),
            })
        );
    }

    #[test]
    fn every_route_prints_as_gobgp_shows_it_with_the_esi_in_hex() {
        let ap = |hex: &str| {
            let b: &'static [u8] = bytes(hex).leak();
            decode(b, true).unwrap()[0].1
        };
        for (r, shown) in [
            (
                one(MACADV),
                "[type:macadv][rd:65000:1][etag:0][mac:aa:bb:cc:dd:ee:ff][ip:10.0.0.1]",
            ),
            // GoBGP adds "[ip:<nil>]".
            (
                one(MACADV_MAC_ONLY),
                "[type:macadv][rd:192.0.2.1:7][etag:10][mac:aa:bb:cc:dd:ee:01]",
            ),
            (
                one(MULTICAST),
                "[type:multicast][rd:65000:1][etag:0][ip:10.0.0.1]",
            ),
            (
                one(PREFIX),
                "[type:Prefix][rd:65000:1][etag:0][prefix:10.1.0.0/24]",
            ),
            (
                one(PREFIX_V6),
                "[type:Prefix][rd:65000:9][etag:7][prefix:2001:db8:1::/48]",
            ),
            (
                one(AD),
                "[type:A-D][rd:10.0.0.1:0][esi:01:aa:bb:cc:dd:ee:ff:00:64:00][etag:4294967295]",
            ),
            (
                one(ES),
                "[type:esi][rd:10.0.0.1:0][esi:03:00:11:22:33:44:55:00:00:05][ip:10.0.0.1]",
            ),
            (
                ap(AP_MACADV_V6),
                "[type:macadv][rd:65000:2][etag:100][mac:00:11:22:33:44:55][ip:2001:db8::1]",
            ),
            (
                ap(AP_MULTICAST_V6),
                "[type:multicast][rd:65000:3][etag:42][ip:2001:db8::2]",
            ),
            (
                ap(AP_AD),
                "[type:A-D][rd:65000:1][esi:00:01:00:00:00:00:00:00:00:00][etag:5]",
            ),
            (
                ap(AP_ES_V6),
                "[type:esi][rd:65000:5][esi:05:00:00:fd:e8:00:00:00:07:00][ip:2001:db8::9]",
            ),
            (
                ap(AP_PREFIX_V6),
                "[type:Prefix][rd:65535:9][etag:7][prefix:2001:db8:1::/48]",
            ),
        ] {
            assert_eq!(r.to_string(), shown);
            assert_eq!(r.key().to_string(), shown);
        }
        assert_eq!(
            one(AD).path_data().to_string() + &one(PREFIX).path_data().to_string(),
            "[label:0][esi:00:00:00:00:00:00:00:00:00:00][gw:172.16.0.1][label:100]"
        );
        let mut two = one(MACADV);
        if let EvpnRoute::MacIp(m) = &mut two {
            m.label2 = Some(Label::from_value(5000));
        }
        assert_eq!(
            two.path_data().to_string(),
            "[esi:00:00:00:00:00:00:00:00:00:00][label:100,5000]"
        );
    }

    #[test]
    fn every_gobgp_route_encodes_back_to_its_bytes_alone_and_in_one_list() {
        let mut list = Vec::new();
        for hex in PLAIN {
            let b = bytes(hex);
            assert_eq!(reencoded(&one(hex)), b, "{hex}");
            list.extend_from_slice(&b);
        }
        let routes = decode(&list, false).unwrap();
        assert_eq!(routes.len(), PLAIN.len());
        let mut out = Vec::new();
        routes
            .iter()
            .for_each(|(id, r)| encode_entry(*id, r, &mut out));
        assert_eq!(out, list);
    }

    #[test]
    fn add_path_identifiers_are_read_and_written_back() {
        let list: Vec<u8> = ADD_PATH.iter().flat_map(|h| bytes(h)).collect();
        let routes = decode(&list, true).unwrap();
        assert_eq!(routes.len(), ADD_PATH.len());
        assert!(routes.iter().all(|(id, _)| *id == Some(1)));
        let mut out = Vec::new();
        routes
            .iter()
            .for_each(|(id, r)| encode_entry(*id, r, &mut out));
        assert_eq!(out, list);
        // Read without ADD-PATH, the path id's zero octets look like a route of type 0
        // whose length runs past the end.
        assert!(decode(&bytes(AP_AD), false).is_err());
    }

    #[test]
    fn key_and_path_data_join_back_into_the_same_bytes() {
        let list: Vec<u8> = ADD_PATH.iter().flat_map(|h| bytes(h)).collect();
        let mut routes: Vec<EvpnRoute<'_>> = PLAIN.iter().map(|h| one(h)).collect();
        routes.extend(decode(&list, true).unwrap().into_iter().map(|(_, r)| r));
        for r in routes {
            let (key, data) = r.split();
            assert_eq!(join(&key, &data), Some(r));
            assert_eq!(key.route_type(), r.route_type());
        }
        assert_eq!(std::mem::size_of::<EvpnKey>(), 40);
        assert!(std::mem::size_of::<PathData>() <= 32);
    }

    #[test]
    fn key_holds_only_the_fields_the_rfcs_name() {
        let same_key = |a: &EvpnRoute<'_>, b: &EvpnRoute<'_>| a.key() == b.key();
        // Type 2 (RFC 7432 §7.2): ESI and labels are attributes; MAC and IP are the key.
        let EvpnRoute::MacIp(m) = one(MACADV) else {
            panic!()
        };
        let other_path = MacIp {
            esi: Esi([1; 10]),
            label1: Label::from_value(7),
            label2: Some(Label::from_value(8)),
            ..m
        };
        assert!(same_key(
            &EvpnRoute::MacIp(m),
            &EvpnRoute::MacIp(other_path)
        ));
        assert_ne!(
            EvpnRoute::MacIp(m).path_data(),
            EvpnRoute::MacIp(other_path).path_data()
        );
        for other in [
            MacIp { ip: None, ..m },
            MacIp {
                mac: Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0]),
                ..m
            },
            MacIp { etag: 1, ..m },
            MacIp {
                rd: rd("65000:2"),
                ..m
            },
        ] {
            assert!(!same_key(&EvpnRoute::MacIp(m), &EvpnRoute::MacIp(other)));
        }
        // Type 1 (§7.1): the label is an attribute; the ESI is part of the key.
        let EvpnRoute::EthernetAd(a) = one(AD) else {
            panic!()
        };
        let relabelled = EthernetAd {
            label: Label::from_value(9),
            ..a
        };
        assert!(same_key(
            &EvpnRoute::EthernetAd(a),
            &EvpnRoute::EthernetAd(relabelled)
        ));
        let other_esi = EthernetAd {
            esi: Esi::ZERO,
            ..a
        };
        assert!(!same_key(
            &EvpnRoute::EthernetAd(a),
            &EvpnRoute::EthernetAd(other_esi)
        ));
        // Type 5 (RFC 9136 §3.1): ESI, gateway and label are not; the prefix length is.
        let EvpnRoute::IpPrefix(p) = one(PREFIX) else {
            panic!()
        };
        let other_path = IpPrefix {
            esi: Esi([2; 10]),
            gateway: "192.0.2.9".parse().unwrap(),
            label: Label::from_value(1),
            ..p
        };
        assert!(same_key(
            &EvpnRoute::IpPrefix(p),
            &EvpnRoute::IpPrefix(other_path)
        ));
        let longer = IpPrefix {
            prefix_len: 25,
            ..p
        };
        assert!(!same_key(
            &EvpnRoute::IpPrefix(p),
            &EvpnRoute::IpPrefix(longer)
        ));
        // Types 3 and 4 (§7.3, §7.4): every field is key; a path carries nothing more.
        for r in [one(MULTICAST), one(ES)] {
            assert_eq!(r.path_data(), PathData::None);
        }
        let EvpnRoute::EthernetSegment(e) = one(ES) else {
            panic!()
        };
        let other_esi = EthernetSegment {
            esi: Esi::ZERO,
            ..e
        };
        assert!(!same_key(
            &EvpnRoute::EthernetSegment(e),
            &EvpnRoute::EthernetSegment(other_esi)
        ));
        // Keys of different types never meet, even over equal bytes.
        assert_ne!(one(MULTICAST).key(), one(PREFIX).key());
    }

    #[test]
    fn an_unknown_route_type_is_reflected_as_its_bytes_and_keyed_by_all_of_them() {
        // Type 6 (RFC 9251 SMET), which this module does not decode, then a type 2.
        // RD 65000:1, Ethernet Tag 0, no source, group 224.0.0.1, originator 10.0.0.1, flags 0.
        let mut list = bytes("0618 0000fde800000001 00000000 00 20e0000001 200a000001 00");
        list.extend(bytes(MACADV));
        let routes = decode(&list, false).unwrap();
        let EvpnRoute::Opaque(o) = routes[0].1 else {
            panic!("{routes:?}")
        };
        assert_eq!((o.route_type, o.value.len()), (6, 24));
        assert_eq!(
            routes[0].1.to_string(),
            "[type:6][value:0000fde800000001000000000020e0000001200a00000100]"
        );
        let mut out = Vec::new();
        routes
            .iter()
            .for_each(|(id, r)| encode_entry(*id, r, &mut out));
        assert_eq!(out, list);
        let (key, data) = routes[0].1.split();
        assert_eq!(data, PathData::None);
        assert_eq!(join(&key, &data), Some(routes[0].1));
        // One octet more or less in the value is another route.
        let mut other = list.clone();
        other[19] ^= 1;
        assert_ne!(decode(&other, false).unwrap()[0].1.key(), key);
        // The empty value is a route too.
        let empty = decode(&[200, 0], false).unwrap();
        assert_eq!(reencoded(&empty[0].1), [200, 0]);
    }

    #[test]
    fn an_unknown_route_too_long_for_the_key_is_keyed_by_a_hash_and_its_value_kept() {
        for len in [OPAQUE_INLINE_MAX, OPAQUE_INLINE_MAX + 1, 255] {
            let mut nlri = vec![99, len as u8];
            nlri.extend((0..len).map(|i| i as u8));
            let r = decode(&nlri, false).unwrap()[0].1;
            let (key, data) = r.split();
            let inline = len <= OPAQUE_INLINE_MAX;
            assert_eq!(matches!(data, PathData::None), inline, "{len}");
            assert_eq!(matches!(key.view(), KeyView::Hashed { .. }), !inline);
            let joined = join(&key, &data).unwrap();
            assert_eq!(reencoded(&joined), nlri);
            // The same bytes give the same key; one octet changed gives another.
            assert_eq!(decode(&nlri, false).unwrap()[0].1.key(), key);
            let mut changed = nlri.clone();
            *changed.last_mut().unwrap() ^= 0x80;
            assert_ne!(decode(&changed, false).unwrap()[0].1.key(), key);
            if !inline {
                assert_eq!(key.to_string(), format!("[type:99][len:{len}]"));
                // Another route's value does not join with this key.
                let short = PathData::Opaque(Arc::from(&nlri[3..]));
                assert_eq!(join(&key, &short), None);
            }
        }
    }

    #[test]
    fn key_and_path_data_of_different_routes_do_not_join() {
        let (k2, d2) = one(MACADV).split();
        let (k5, d5) = one(PREFIX).split();
        let (k3, d3) = one(MULTICAST).split();
        assert_eq!(join(&k2, &d5), None);
        assert_eq!(join(&k5, &d2), None);
        assert_eq!(join(&k2, &d3), None);
        assert_eq!(join(&k3, &d2), None);
        let v6_gateway = PathData::IpPrefix {
            esi: Esi::ZERO,
            gateway: "::1".parse().unwrap(),
            label: Label::default(),
        };
        assert_eq!(join(&k5, &v6_gateway), None);
    }

    #[test]
    fn malformed_known_routes_are_errors() {
        let with = |hex: &str, at: usize, b: u8| {
            let mut v = bytes(hex);
            v[at] = b;
            v
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (with(MACADV, 24, 47), "MAC length is not 48"),
            (with(MACADV, 31, 24), "IP length is not 0, 32 or 128"),
            (with(MACADV, 31, 0), "length does not fit one or two labels"),
            (with(MACADV, 31, 128), "shorter than its fields"),
            (with(MULTICAST, 14, 128), "IP length does not match"),
            (
                with(MULTICAST, 14, 0),
                "originator IP length is not 32 or 128",
            ),
            (with(ES, 20, 16), "originator IP length is not 32 or 128"),
            (with(PREFIX, 24, 33), "prefix length too long"),
            (with(PREFIX_V6, 24, 129), "prefix length too long"),
            (
                [bytes("0518"), bytes(PREFIX)[2..26].to_vec()].concat(),
                "not 34 or 58",
            ),
            (
                [bytes("0118"), bytes(AD)[2..26].to_vec()].concat(),
                "not 25",
            ),
            (bytes("0101ff"), "not 25"),
            (bytes("0203"), "runs past the end"),
            (bytes("02"), "truncated EVPN route length"),
        ];
        for (nlri, why) in cases {
            match decode(&nlri, false) {
                Err(e) => assert!(e.contains(why), "{nlri:02x?}: {e}, not {why}"),
                Ok(r) => panic!("{nlri:02x?} decoded as {r:?}"),
            }
        }
        assert_eq!(
            decode(&[0, 0, 0], true),
            Err("truncated ADD-PATH path identifier")
        );
        // One good route before a bad one: the whole field is an error.
        let good_then_bad = [bytes(MULTICAST), bytes("0300")].concat();
        assert!(decode(&good_then_bad, false).is_err());
        let mut it = iter(&good_then_bad, false);
        assert!(matches!(it.next(), Some(Ok(_))));
        assert!(matches!(it.next(), Some(Err(_))));
        assert!(it.next().is_none());
    }

    #[test]
    fn every_cut_of_a_route_is_an_error_and_never_a_panic() {
        for hex in PLAIN {
            let b = bytes(hex);
            for n in 1..b.len() {
                assert!(decode(&b[..n], false).is_err(), "{hex} cut at {n}");
                if n < 2 {
                    continue;
                }
                // The length octet says less: the rest reads as another NLRI, or fails.
                let mut shorter = b.clone();
                shorter[1] = (n - 2) as u8;
                if let Ok(routes) = decode(&shorter, false) {
                    let mut out = Vec::new();
                    routes
                        .iter()
                        .for_each(|(id, r)| encode_entry(*id, r, &mut out));
                    assert_eq!(out, shorter);
                }
            }
        }
    }

    #[test]
    fn known_types_accept_only_their_lengths() {
        let ok: [&[usize]; 5] = [
            &[25],
            &[33, 36, 37, 40, 49, 52],
            &[17, 29],
            &[23, 35],
            &[34, 58],
        ];
        for t in 1..=5u8 {
            let mut accepted = Vec::new();
            for len in 0..=255usize {
                for fill in [0u8, 32, 48, 128, 0xff] {
                    let mut nlri = vec![t, len as u8];
                    nlri.extend(std::iter::repeat_n(fill, len));
                    // Put the length octets where the layout expects them to reach deep.
                    let ip_len = match len {
                        33 | 36 | 17 | 23 => 0,
                        37 | 40 | 34 => 32,
                        _ => 128,
                    };
                    match t {
                        2 if len > 31 => {
                            nlri[24] = 48;
                            nlri[31] = ip_len;
                        }
                        3 if len > 13 => nlri[14] = if len == 17 { 32 } else { ip_len },
                        4 if len > 19 => nlri[20] = if len == 23 { 32 } else { ip_len },
                        5 if len > 23 => nlri[24] = nlri[24].min(32),
                        _ => {}
                    }
                    if let Ok(routes) = decode(&nlri, false) {
                        assert!(ok[t as usize - 1].contains(&len), "type {t} length {len}");
                        assert_eq!(reencoded(&routes[0].1), nlri);
                        if accepted.last() != Some(&len) {
                            accepted.push(len);
                        }
                    }
                }
            }
            assert_eq!(accepted, ok[t as usize - 1], "type {t}");
        }
    }

    #[test]
    fn labels_read_as_mpls_or_as_a_vni() {
        let l = Label([0x00, 0x06, 0x41]);
        assert_eq!((l.value(), l.mpls()), (0x641, 0x64));
        assert_eq!(Label::from_value(100).0, [0, 0, 100]);
        assert_eq!(l.to_string(), "1601");
    }
}
