//! RFC 6793 toward 2-octet-AS ("OLD") speakers: rebuilding the 4-octet AS path and
//! aggregator from AS_PATH + AS4_PATH and AGGREGATOR + AS4_AGGREGATOR on decode (§4.2.3),
//! and deciding what AS4_* attributes to send on encode (§4.2.2).

use super::message::AS_TRANS;
use super::types::*;
use std::net::Ipv4Addr;

/// Whether an ASN has to be sent as AS_TRANS to a 2-octet speaker.
pub(crate) fn is_wide(asn: u32) -> bool {
    asn > u16::MAX as u32
}

/// The 2-octet form of `asn`.
pub(crate) fn narrow(asn: u32) -> u16 {
    u16::try_from(asn).unwrap_or(AS_TRANS)
}

/// Whether the path needs an AS4_PATH toward a 2-octet speaker.
pub(crate) fn needs_as4_path(path: &AsPath) -> bool {
    path.segments
        .iter()
        .any(|s| s.asns.iter().any(|&a| is_wide(a)))
}

fn is_confed(kind: SegmentKind) -> bool {
    matches!(kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
}

/// RFC 6793 §6: confederation segments are invalid in AS4_PATH and are dropped from it.
pub(crate) fn strip_confed(path: &mut AsPath) {
    path.segments.retain(|s| !is_confed(s.kind));
}

/// AS_PATH (with AS_TRANS placeholders) + AS4_PATH -> the 4-octet path (§4.2.3).
/// The number of ASes is counted as for path selection (a SET is one, confederation
/// segments none). If AS_PATH is the shorter, AS4_PATH is ignored; otherwise the leading
/// ASes of AS_PATH that AS4_PATH lacks are prepended to AS4_PATH, together with the
/// confederation segments that lead or adjoin them.
pub(crate) fn merge_path(as_path: AsPath, as4_path: AsPath) -> AsPath {
    let n2 = as_path.route_len();
    let n4 = as4_path.route_len();
    if n2 < n4 {
        return as_path;
    }
    let mut need = n2 - n4;
    let mut merged: Vec<AsSegment> =
        Vec::with_capacity(as_path.segments.len() + as4_path.segments.len());
    for seg in as_path.segments {
        if is_confed(seg.kind) {
            merged.push(seg);
            continue;
        }
        if need == 0 {
            break;
        }
        match seg.kind {
            SegmentKind::Set => {
                need -= 1;
                merged.push(seg);
            }
            _ => {
                let take = need.min(seg.asns.len());
                need -= take;
                let mut seg = seg;
                seg.asns.truncate(take);
                merged.push(seg);
            }
        }
    }
    for seg in as4_path.segments {
        // Rejoin a SEQUENCE that the 2-octet path split at the AS4_PATH boundary.
        match merged.last_mut() {
            Some(last)
                if last.kind == SegmentKind::Sequence && seg.kind == SegmentKind::Sequence =>
            {
                last.asns.extend_from_slice(&seg.asns)
            }
            _ => merged.push(seg),
        }
    }
    AsPath { segments: merged }
}

/// AGGREGATOR + AS4_AGGREGATOR -> the aggregator, and whether AS4_PATH is to be used.
/// §4.2.3: if AGGREGATOR's AS is not AS_TRANS, AS4_AGGREGATOR and AS4_PATH are ignored;
/// if it is AS_TRANS, AS4_AGGREGATOR replaces it.
pub(crate) fn merge_aggregator(
    aggregator: Option<(u32, Ipv4Addr)>,
    as4_aggregator: Option<(u32, Ipv4Addr)>,
) -> (Option<(u32, Ipv4Addr)>, bool) {
    match (aggregator, as4_aggregator) {
        (Some((asn, _)), Some(_)) if asn != AS_TRANS as u32 => (aggregator, false),
        (Some(_), Some(a4)) => (Some(a4), true),
        (agg, _) => (agg, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(asns: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentKind::Sequence,
            asns: asns.to_vec(),
        }
    }
    fn set(asns: &[u32]) -> AsSegment {
        AsSegment {
            kind: SegmentKind::Set,
            asns: asns.to_vec(),
        }
    }
    fn path(segments: Vec<AsSegment>) -> AsPath {
        AsPath { segments }
    }
    const T: u32 = AS_TRANS as u32;

    #[test]
    fn as4_path_replaces_the_as_trans_tail_of_as_path() {
        let merged = merge_path(
            path(vec![seq(&[65001, T, 65002, T])]),
            path(vec![seq(&[400_000, 65002, 500_000])]),
        );
        assert_eq!(merged, path(vec![seq(&[65001, 400_000, 65002, 500_000])]));
    }

    #[test]
    fn as4_path_longer_than_as_path_is_ignored() {
        let as_path = path(vec![seq(&[65001, T])]);
        let merged = merge_path(as_path.clone(), path(vec![seq(&[1, 400_000, 3])]));
        assert_eq!(merged, as_path);
    }

    #[test]
    fn equal_lengths_take_as4_path_whole() {
        let merged = merge_path(
            path(vec![seq(&[T, T])]),
            path(vec![seq(&[400_000, 500_000])]),
        );
        assert_eq!(merged, path(vec![seq(&[400_000, 500_000])]));
    }

    #[test]
    fn sets_count_as_one_and_leading_confed_segments_are_kept() {
        let confed = AsSegment {
            kind: SegmentKind::ConfedSequence,
            asns: vec![64512],
        };
        let merged = merge_path(
            path(vec![
                confed.clone(),
                seq(&[65001]),
                set(&[T, 65003]),
                seq(&[T]),
            ]),
            path(vec![set(&[400_000, 65003]), seq(&[500_000])]),
        );
        assert_eq!(
            merged,
            path(vec![
                confed,
                seq(&[65001]),
                set(&[400_000, 65003]),
                seq(&[500_000])
            ])
        );
    }

    #[test]
    fn aggregator_other_than_as_trans_wins_over_as4_aggregator_and_drops_as4_path() {
        let id = Ipv4Addr::new(1, 1, 1, 1);
        let id4 = Ipv4Addr::new(2, 2, 2, 2);
        assert_eq!(
            merge_aggregator(Some((65001, id)), Some((400_000, id4))),
            (Some((65001, id)), false)
        );
        assert_eq!(
            merge_aggregator(Some((T, id)), Some((400_000, id4))),
            (Some((400_000, id4)), true)
        );
        assert_eq!(merge_aggregator(Some((T, id)), None), (Some((T, id)), true));
        assert_eq!(merge_aggregator(None, Some((400_000, id4))), (None, true));
    }

    #[test]
    fn only_paths_with_wide_asns_need_as4_path() {
        assert!(!needs_as4_path(&path(vec![seq(&[65535, 1])])));
        assert!(needs_as4_path(&path(vec![seq(&[65536])])));
        assert_eq!(narrow(65536), AS_TRANS);
        assert_eq!(narrow(65535), 65535);
    }
}
