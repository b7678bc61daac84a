//! Path attribute type codes and flag bits (RFC 4271 §4.3, RFC 7606 §3 c), and reading an
//! attribute's header in place: what the decoder (`attrs`), the encoder (`attrs_encode`)
//! and the RIB's stored sets (`stored`) all need, so none of them imports another for it.

pub(crate) const OPTIONAL: u8 = 0x80;
pub(crate) const TRANSITIVE: u8 = 0x40;
pub(crate) const PARTIAL: u8 = 0x20;
pub(crate) const EXTENDED_LENGTH: u8 = 0x10;

pub(crate) const ORIGIN: u8 = 1;
pub(crate) const AS_PATH: u8 = 2;
pub const NEXT_HOP: u8 = 3;
pub const MED: u8 = 4;
pub(crate) const LOCAL_PREF: u8 = 5;
pub(crate) const ATOMIC_AGGREGATE: u8 = 6;
pub(crate) const AGGREGATOR: u8 = 7;
pub(crate) const COMMUNITIES: u8 = 8;
pub const ORIGINATOR_ID: u8 = 9;
pub const CLUSTER_LIST: u8 = 10;
pub const MP_REACH_NLRI: u8 = 14;
pub const MP_UNREACH_NLRI: u8 = 15;
pub(crate) const EXT_COMMUNITIES: u8 = 16;
pub(crate) const AS4_PATH: u8 = 17;
pub(crate) const AS4_AGGREGATOR: u8 = 18;
pub(crate) const LARGE_COMMUNITIES: u8 = 32;

/// The Optional and Transitive bits each known attribute must carry (RFC 7606 §3 c).
pub(crate) fn expected_flags(code: u8) -> Option<u8> {
    Some(match code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => TRANSITIVE,
        MED | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => OPTIONAL,
        AGGREGATOR | COMMUNITIES | EXT_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | LARGE_COMMUNITIES => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

/// (type code, value, whole attribute) of the first attribute of `section`; None at its
/// end, or if the section ends inside the attribute. Checks nothing else: for sections
/// already checked (our stored sets) and tools that read in place; `decode` is the
/// checking reader.
pub fn next_attr(section: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&flags, rest) = section.split_first()?;
    let (&code, rest) = rest.split_first()?;
    let (len, hl) = if flags & EXTENDED_LENGTH != 0 {
        (
            u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize,
            4,
        )
    } else {
        (*rest.first()? as usize, 3)
    };
    let whole = section.get(..hl + len)?;
    Some((code, &whole[hl..], whole))
}
