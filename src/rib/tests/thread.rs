//! The RIB thread's loop (`run`): snapshots published per batch, the inbox weight taken off,
//! reflected UPDATEs sent to the workers that own the peers, and how it ends.

use super::*;

fn worker() -> (WorkerHandle, crossbeam_channel::Receiver<ToWorker>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (
        WorkerHandle {
            tx,
            poller: Arc::new(polling::Poller::new().unwrap()),
        },
        rx,
    )
}

/// Where `run` publishes its snapshots.
fn published() -> Arc<arc_swap::ArcSwap<RibSnapshot>> {
    Arc::new(arc_swap::ArcSwap::from_pointee(RibSnapshot::default()))
}

#[test]
fn run_publishes_a_snapshot_per_batch_and_returns_on_shutdown() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let snap = published();
    let (w, _wrx) = worker();
    let mut up = peer_up(1, true);
    up.families = FamilySet::EMPTY;
    tx.send(ToRib::PeerUp(up)).unwrap();
    tx.send(ToRib::PublishRoutes).unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    let s2 = snap.clone();
    std::thread::spawn(move || run(config(), rx, vec![w], s2))
        .join()
        .unwrap();
    let s = snap.load();
    assert!(s.generation >= 1);
    assert_eq!(s.routes_generation, s.generation);
    assert_eq!(s.peers.len(), 1);
}

#[test]
fn run_takes_each_batch_off_the_shared_inbox_weight() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let weight = crate::msg::InboxWeight::default();
    let updates = vec![
        Update {
            withdrawn: vec![p4("10.0.0.0/8")],
            ..Update::default()
        },
        Update {
            attrs: Some(attrs([192, 0, 2, 1])),
            nlri: vec![p4("10.1.0.0/16"), p4("10.2.0.0/16")],
            ..Update::default()
        },
    ];
    let msg = ToRib::updates(1, updates);
    let ToRib::Updates { weight: w, .. } = msg else {
        unreachable!()
    };
    // As a worker does: the weight goes up when the batch is handed over.
    weight.fetch_add(w + 7, Relaxed);
    tx.send(ToRib::PeerUp(peer_up(1, true))).unwrap();
    tx.send(msg).unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    let (h, _wrx) = worker();
    let wt = weight.clone();
    std::thread::spawn(move || run_weighted(config(), rx, vec![h], published(), wt))
        .join()
        .unwrap();
    assert_eq!(
        weight.load(Relaxed),
        7,
        "exactly the batch's weight taken off"
    );
}

#[test]
fn run_returns_when_every_sender_is_gone() {
    let (tx, rx) = crossbeam_channel::unbounded::<ToRib>();
    drop(tx);
    run(
        RibConfig { asn: 1, ..config() },
        rx,
        Vec::new(),
        published(),
    );
}

#[test]
fn run_sends_reflected_updates_to_the_owning_workers() {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (w0, rx0) = worker();
    let (w1, rx1) = worker();
    let mut up2 = peer_up(2, true);
    up2.worker = 1;
    tx.send(ToRib::PeerUp(peer_up(1, true))).unwrap();
    tx.send(ToRib::PeerUp(up2)).unwrap();
    tx.send(ToRib::PeerUp(peer_up(3, true))).unwrap();
    let handle = std::thread::spawn(move || run(config(), rx, vec![w0, w1], published()));
    // Both get their (empty) dumps: End-of-RIB for each family.
    for rx in [&rx0, &rx1] {
        let ToWorker::Send { data, .. } = rx.recv().unwrap() else {
            panic!()
        };
        assert!(!data.is_empty());
    }
    while rx0.try_recv().is_ok() {}
    while rx1.try_recv().is_ok() {}
    tx.send(route(1, &["10.0.0.0/8"])).unwrap();
    tx.send(ToRib::Shutdown).unwrap();
    handle.join().unwrap();
    let mut got = Vec::new();
    for (i, rx) in [&rx0, &rx1].into_iter().enumerate() {
        for m in rx.try_iter() {
            let ToWorker::Send { peers, data } = m else {
                panic!()
            };
            for msg in decode_all(&data, &codec()) {
                if let Message::Update(u) = msg {
                    if !u.nlri.is_empty() {
                        got.push((i, peers.to_vec(), u.nlri));
                    }
                }
            }
        }
    }
    assert_eq!(
        got,
        vec![
            (0, vec![3], vec![p4("10.0.0.0/8")]),
            (1, vec![2], vec![p4("10.0.0.0/8")])
        ],
        "each worker its own members, less the source"
    );
}
