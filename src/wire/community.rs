//! RFC 1997 well-known communities: the three whose presence changes where a route may be
//! advertised. Read once per attribute set (when it is interned), so the outbound rules
//! never walk a COMMUNITIES attribute.

/// RFC 1997: not advertised outside the confederation (or AS): to no eBGP neighbor.
pub const NO_EXPORT: u32 = 0xFFFF_FF01;
/// RFC 1997: not advertised to any peer.
pub const NO_ADVERTISE: u32 = 0xFFFF_FF02;
/// RFC 1997: not advertised to external peers, not even confederation ones.
pub const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03;

/// Which of the well-known communities a set carries (one bit each).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct WellKnown(u8);

impl WellKnown {
    const NO_EXPORT: u8 = 1;
    const NO_ADVERTISE: u8 = 2;
    const NO_EXPORT_SUBCONFED: u8 = 4;

    /// The well-known communities among `communities`.
    pub fn of(communities: impl IntoIterator<Item = u32>) -> WellKnown {
        WellKnown(communities.into_iter().fold(0, |bits, c| {
            bits | match c {
                NO_EXPORT => Self::NO_EXPORT,
                NO_ADVERTISE => Self::NO_ADVERTISE,
                NO_EXPORT_SUBCONFED => Self::NO_EXPORT_SUBCONFED,
                _ => 0,
            }
        }))
    }

    /// As `of`, over a COMMUNITIES attribute's value (4 octets each; a trailing partial
    /// one is ignored, the decoder rejects it first).
    pub fn of_value(value: &[u8]) -> WellKnown {
        WellKnown::of(
            value
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        )
    }

    /// NO_ADVERTISE: advertised to no peer at all.
    pub fn no_advertise(self) -> bool {
        self.0 & Self::NO_ADVERTISE != 0
    }

    /// NO_EXPORT or NO_EXPORT_SUBCONFED: never advertised to an eBGP neighbor (reflectd has
    /// no confederations, so the two mean the same here).
    pub fn no_export(self) -> bool {
        self.0 & (Self::NO_EXPORT | Self::NO_EXPORT_SUBCONFED) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_well_known_community_is_recognised_and_others_are_not() {
        assert_eq!(
            WellKnown::of([1, 0xFFFF_0001, 0xFFFF_FF04]),
            WellKnown::default()
        );
        let adv = WellKnown::of([0xFDE8_0001, NO_ADVERTISE]);
        assert!(adv.no_advertise() && !adv.no_export());
        for c in [NO_EXPORT, NO_EXPORT_SUBCONFED] {
            let w = WellKnown::of([c]);
            assert!(w.no_export() && !w.no_advertise(), "{c:#x}");
        }
    }

    #[test]
    fn the_attribute_value_is_read_as_four_octet_communities() {
        let v = [0xFF, 0xFF, 0xFF, 0x02, 0, 0, 0, 1];
        assert_eq!(WellKnown::of_value(&v), WellKnown::of([NO_ADVERTISE, 1]));
        assert_eq!(WellKnown::of_value(&v[1..]), WellKnown::default());
    }
}
