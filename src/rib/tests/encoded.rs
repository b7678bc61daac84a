//! The bytes a flush hands the workers, decoded back: one encoding per group, the
//! reflection attributes, End-of-RIB after a dump, withdrawals.

use super::*;

fn sends(out: &Outbox) -> Vec<(usize, Vec<PeerId>, Vec<Message>)> {
    out.msgs
        .iter()
        .map(|(w, m)| match m {
            ToWorker::Send { peers, data } => (*w, peers.to_vec(), decode_all(data, &codec())),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn encoded_update_is_shared_by_both_clients_and_decodes_with_reflection_attributes() {
    let mut r = rib_with(&[(1, true), (2, true), (3, true)]);
    r.feed(route(1, &["10.0.0.0/8", "10.1.0.0/16"]));
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    assert_eq!(s.len(), 1, "one encoded Bytes for the group");
    assert_eq!((s[0].0, &s[0].1), (0, &vec![2, 3]));
    let Message::Update(u) = &s[0].2[0] else {
        panic!("UPDATE expected")
    };
    let mut nlri = u.nlri.clone();
    nlri.sort_unstable();
    assert_eq!(nlri, vec![p4("10.0.0.0/8"), p4("10.1.0.0/16")]);
    let a = u.attrs.as_ref().unwrap();
    assert_eq!(a.next_hop, NextHop::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(a.cluster_list, vec![CLUSTER]);
    assert_eq!(a.communities, vec![0xfde8_0001]);
}

#[test]
fn encoded_dump_ends_with_end_of_rib_and_withdraws_decode() {
    let mut r = rib_with(&[(1, true)]);
    r.feed(route(1, &["10.0.0.0/8"]));
    r.plan();
    r.feed(ToRib::PeerUp(peer_up(2, true)));
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    let dump = s
        .iter()
        .find(|s| s.1 == vec![2])
        .expect("dump to the new peer");
    let Message::Update(first) = &dump.2[0] else {
        panic!()
    };
    assert_eq!(first.nlri, vec![p4("10.0.0.0/8")]);
    let mut eors: Vec<Family> = s
        .iter()
        .flat_map(|s| s.2.iter())
        .filter_map(|m| match m {
            Message::Update(u) => u.end_of_rib(),
            _ => None,
        })
        .collect();
    eors.sort_unstable();
    assert_eq!(eors, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);
    r.feed(withdraw(1, &["10.0.0.0/8"]));
    let mut out = Outbox::default();
    r.flush(&mut out);
    let s = sends(&out);
    let Message::Update(u) = &s[0].2[0] else {
        panic!()
    };
    assert_eq!(u.withdrawn, vec![p4("10.0.0.0/8")]);
}
