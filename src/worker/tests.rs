//! Worker behaviour that needs no peer: timer bookkeeping and connection replacement.

use super::*;
use std::net::TcpListener;

fn worker() -> (Worker, Receiver<ToRib>) {
    worker_with(crossbeam_channel::unbounded())
}

fn worker_with((rib_tx, rib_rx): (Sender<ToRib>, Receiver<ToRib>)) -> (Worker, Receiver<ToRib>) {
    let (_tx, inbox) = crossbeam_channel::unbounded();
    let cfg = WorkerConfig {
        index: 0,
        local_asn: 65000,
        local_id: Ipv4Addr::new(10, 0, 0, 1),
        inbox_weight: Default::default(),
        heartbeat: Default::default(),
    };
    let status = Arc::new(ArcSwap::from_pointee(Vec::new()));
    (
        Worker::new(cfg, Arc::new(Poller::new().unwrap()), inbox, rib_tx, status),
        rib_rx,
    )
}

/// A dialling (non-passive) neighbor on 127.0.0.1:`port`, built through the config parser.
fn neighbor(port: u16) -> Arc<Neighbor> {
    let text = format!(
        "asn: 65000\nrouter_id: 10.0.0.1\nneighbors:\n  - address: 127.0.0.1\n    asn: 65000\n    port: {port}\n"
    );
    let cfg = crate::config::parse(&text, std::path::Path::new("test.yaml")).expect("test config");
    Arc::new(cfg.neighbors[0].clone())
}

/// Adds peer `id`, a neighbor that dials `l`'s port on 127.0.0.1.
fn add_on(w: &mut Worker, id: PeerId, l: &TcpListener, now: Instant) {
    w.add_peer(id, neighbor(l.local_addr().unwrap().port()), now);
}

/// Connects to `l` and has the worker accept that connection for peer `id`; returns the
/// peer's end.
fn accept_on(w: &mut Worker, id: PeerId, l: &TcpListener, now: Instant) -> std::net::TcpStream {
    let client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    w.accepted(id, server, now);
    client
}

#[test]
fn an_inbound_session_does_not_leave_a_stale_dial_time_spinning_the_loop() {
    let (mut w, _rib) = worker();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    add_on(&mut w, 1, &l, now);
    // As close_conn leaves it after a session went down.
    w.peers.get_mut(&1).unwrap().next_connect = Some(now + Duration::from_secs(5));
    let _client = accept_on(&mut w, 1, &l, now);
    let later = now + Duration::from_secs(6);
    w.on_timers(later);
    assert!(
        w.next_due.saturating_duration_since(later) > Duration::from_millis(100),
        "worker would wake every millisecond"
    );
}

#[test]
fn a_newer_inbound_connection_replaces_an_older_unestablished_one() {
    let (mut w, _rib) = worker();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    add_on(&mut w, 1, &l, now);
    w.peers.get_mut(&1).unwrap().next_connect = None;
    let _c1 = accept_on(&mut w, 1, &l, now);
    let first = w.peers[&1].conns.clone();
    let _c2 = accept_on(&mut w, 1, &l, now);
    let second = w.peers[&1].conns.clone();
    assert_eq!(second.len(), 1, "one inbound connection at a time");
    assert!(w.conn(second[0]).is_some_and(|c| !c.outbound));
    assert_eq!(first.len(), 1);
}

#[test]
fn a_full_rib_inbox_pauses_reading_instead_of_blocking_and_keeps_order() {
    let (mut w, rib) = worker_with(crossbeam_channel::bounded(1));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    add_on(&mut w, 1, &l, now);
    let _client = accept_on(&mut w, 1, &l, now);
    let key = w.peers[&1].conns[0];
    w.tell_rib(ToRib::Xoff { peer: 1 });
    assert!(!w.reads_paused(key), "room for one");
    w.tell_rib(ToRib::Xon { peer: 1 });
    w.tell_rib(ToRib::PublishRoutes);
    assert!(
        w.reads_paused(key),
        "inbox full: reading stops instead of the thread blocking"
    );
    assert!(w.conn(key).is_some_and(|c| !c.read_interest));
    assert!(matches!(rib.try_recv(), Ok(ToRib::Xoff { .. })));
    w.drain_rib_backlog();
    assert!(matches!(rib.try_recv(), Ok(ToRib::Xon { .. })));
    assert!(
        !w.reads_paused(key) && w.conn(key).is_some_and(|c| c.read_interest),
        "the peer's last waiting message is out; what waits is no peer's"
    );
    w.drain_rib_backlog();
    assert!(matches!(rib.try_recv(), Ok(ToRib::PublishRoutes)));
}

#[test]
fn decoded_updates_over_the_inbox_budget_wait_in_the_backlog_and_pause_only_their_peer() {
    let (mut w, rib) = worker();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    add_on(&mut w, 1, &l, now);
    let _client = accept_on(&mut w, 1, &l, now);
    let key = w.peers[&1].conns[0];
    let weight = w.cfg.inbox_weight.clone();
    // Others' batches already in the inbox, over the budget.
    weight.store(msg::INBOX_BUDGET + 1, std::sync::atomic::Ordering::Relaxed);
    let u = wire::Update {
        withdrawn: vec!["10.0.0.0/24".parse().unwrap()],
        ..wire::Update::default()
    };
    let r = msg::Received::of(u);
    let each = r.weight();
    w.batch.push(r);
    w.send_batch(key);
    // The channel has room, but the memory is taken: the batch waits, its peer is not read.
    assert!(rib.try_recv().is_err());
    assert!(w.reads_paused(key) && w.conn(key).is_some_and(|c| !c.read_interest));
    w.drain_rib_backlog();
    assert!(rib.try_recv().is_err() && w.reads_paused(key));
    // Once the RIB thread has taken enough, the batch goes and its weight is counted.
    weight.store(
        msg::INBOX_BUDGET - 100,
        std::sync::atomic::Ordering::Relaxed,
    );
    w.drain_rib_backlog();
    assert!(matches!(rib.try_recv(), Ok(ToRib::Updates { .. })));
    assert_eq!(
        weight.load(std::sync::atomic::Ordering::Relaxed),
        msg::INBOX_BUDGET - 100 + each
    );
    assert!(!w.reads_paused(key) && w.conn(key).is_some_and(|c| c.read_interest));
}

/// The OPEN (and KEEPALIVE) of a peer with identifier 10.0.0.`n`.
fn peer_hello(n: u8, keepalive: bool) -> Vec<u8> {
    let cfg = SessionConfig {
        local_asn: 65000,
        local_id: Ipv4Addr::new(10, 0, 0, n),
        remote_asn: 65000,
        hold_time: 90,
        families: wire::FamilySet::EMPTY.with(wire::Family::Ipv4Unicast),
        connect_retry: 1,
        graceful_restart: None,
    };
    let mut out = Vec::new();
    let ctx = wire::CodecCtx::default();
    wire::encode(&Message::Open(crate::fsm::our_open(&cfg)), &ctx, &mut out);
    if keepalive {
        wire::encode(&Message::Keepalive, &ctx, &mut out);
    }
    out
}

/// One UPDATE per prefix 10.`a`.`b`.0/24 for `b` in `range`.
fn updates(a: u8, range: std::ops::Range<u32>) -> Vec<u8> {
    let attrs = wire::PathAttrs {
        origin: wire::Origin::Igp,
        next_hop: wire::NextHop::V4(Ipv4Addr::new(100, 64, 0, 1)),
        local_pref: Some(100),
        ..wire::PathAttrs::default()
    };
    let mut out = Vec::new();
    for b in range {
        let p: wire::Prefix4 = format!("10.{a}.{}.{}/32", b >> 8, b & 0xff)
            .parse()
            .unwrap();
        wire::encode_announce(&wire::CodecCtx::default(), &attrs, &[p], &mut out);
    }
    out
}

/// Runs `step` until `done` holds, for five seconds at most.
fn until(w: &mut Worker, mut step: impl FnMut(&mut Worker), done: impl Fn(&Worker) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(w) {
        assert!(Instant::now() < deadline, "condition not reached");
        step(w);
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Peer `id` on a connection the worker accepted, Established; returns its key and the
/// peer's end. The PeerUp is taken out of `rib`.
fn established_peer(
    w: &mut Worker,
    rib: &Receiver<ToRib>,
    id: PeerId,
    l: &TcpListener,
) -> (usize, std::net::TcpStream) {
    let now = Instant::now();
    add_on(w, id, l, now);
    w.peers.get_mut(&id).unwrap().next_connect = None;
    let mut client = accept_on(w, id, l, now);
    let key = w.peers[&id].conns[0];
    use std::io::Write;
    client.write_all(&peer_hello(id as u8 + 1, true)).unwrap();
    until(
        w,
        |w| w.on_event(Event::readable(key)),
        |w| w.peers[&id].established == Some(key),
    );
    assert!(matches!(rib.try_recv(), Ok(ToRib::PeerUp(_))));
    (key, client)
}

/// What waits in `rib`: `peer:prefixes` for each `ToRib::Updates`, `peer:down`, or the
/// message's name.
fn drained(rib: &Receiver<ToRib>) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(m) = rib.try_recv() {
        got.push(match m {
            ToRib::Updates { peer, updates, .. } => {
                let nlri: Vec<String> = updates
                    .iter()
                    .flat_map(|u| u.nlri.iter().map(|p| p.to_string()))
                    .collect();
                format!("{peer}:{}", nlri.join(","))
            }
            ToRib::PeerDown { peer } => format!("{peer}:down"),
            other => format!("{other:?}"),
        });
    }
    got
}

#[test]
fn a_full_rib_inbox_pauses_only_the_flooding_peer_and_keeps_its_order() {
    use std::io::Write;
    let (mut w, rib) = worker_with(crossbeam_channel::bounded(1));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (flood, mut flooder) = established_peer(&mut w, &rib, 1, &l);
    let (calm, mut keeper) = established_peer(&mut w, &rib, 2, &l);
    // The RIB thread is busy: its inbox is full.
    w.tell_rib(ToRib::PublishRoutes);

    flooder.write_all(&updates(1, 0..1)).unwrap();
    until(
        &mut w,
        |w| w.on_event(Event::readable(flood)),
        |w| w.reads_paused(flood),
    );
    assert!(w.conn(flood).is_some_and(|c| !c.read_interest));
    assert!(!w.reads_paused(calm) && w.conn(calm).is_some_and(|c| c.read_interest));
    // Paused: what it sends now waits in the socket, behind the UPDATE in the backlog.
    flooder.write_all(&updates(1, 1..2)).unwrap();

    // The other peer's KEEPALIVEs are still read, so our hold timer for it restarts.
    let before = w.conn(calm).unwrap().session.hold_deadline().unwrap();
    let keepalives = w.peers[&2].counters.msgs_in[3];
    std::thread::sleep(Duration::from_millis(5));
    let mut ka = Vec::new();
    wire::encode(&Message::Keepalive, &wire::CodecCtx::default(), &mut ka);
    keeper.write_all(&ka).unwrap();
    until(
        &mut w,
        |w| w.on_event(Event::readable(calm)),
        |w| w.peers[&2].counters.msgs_in[3] > keepalives,
    );
    assert!(w.conn(calm).unwrap().session.hold_deadline().unwrap() > before);
    assert!(!w.reads_paused(calm));
    w.on_event(Event::readable(flood));
    assert_eq!(
        w.peers[&1].counters.msgs_in[1], 1,
        "the paused peer is not read"
    );

    // The RIB catches up: the peer is read again, and its messages come in order.
    assert_eq!(drained(&rib), ["PublishRoutes"]);
    w.drain_rib_backlog();
    assert!(!w.reads_paused(flood) && w.conn(flood).is_some_and(|c| c.read_interest));
    until(
        &mut w,
        |w| w.on_event(Event::readable(flood)),
        |w| w.reads_paused(flood),
    );
    // Removed while its second UPDATE waits: the PeerDown comes after it.
    w.remove_peer(1, notif::CEASE_PEER_DECONFIGURED, Instant::now());
    let mut got = drained(&rib);
    w.drain_rib_backlog();
    got.extend(drained(&rib));
    w.drain_rib_backlog();
    got.extend(drained(&rib));
    assert_eq!(got, ["1:10.1.0.0/32", "1:10.1.0.1/32", "1:down"]);
    assert!(w.rib_backlog.is_empty() && w.backlogged.is_empty());
}

#[test]
fn a_read_that_finds_the_rib_inbox_full_is_the_last_of_its_event() {
    use std::io::Write;
    let (mut w, rib) = worker_with(crossbeam_channel::bounded(1));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let (flood, flooder) = established_peer(&mut w, &rib, 1, &l);
    w.tell_rib(ToRib::PublishRoutes);
    // Far more than one read (64 KiB), written from a thread as the socket takes it.
    let data = updates(1, 0..12_000);
    let total = data.len();
    let writer = std::thread::spawn(move || {
        let mut flooder = flooder;
        let _ = flooder.write_all(&data);
        flooder
    });
    // Wait until a second read would find bytes too.
    let mut peek = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    while w.conn(flood).unwrap().stream.peek(&mut peek).unwrap_or(0) <= 80 * 1024 {
        assert!(Instant::now() < deadline, "socket did not fill");
        std::thread::sleep(Duration::from_millis(1));
    }
    let handshake = w.peers[&1].counters.bytes_in;
    w.on_event(Event::readable(flood));
    assert!(w.reads_paused(flood));
    let read = w.peers[&1].counters.bytes_in - handshake;
    assert!(
        read <= 64 * 1024,
        "read {read} of {total} bytes after the pause"
    );
    // Unblock the writer: the peer's end closes with the worker.
    drop(w);
    drop(rib);
    let _ = writer.join();
}

/// The state `reflectd neighbors` shows for peer `id`.
fn shown(w: &Worker, id: PeerId) -> State {
    w.peer_state(&w.peers[&id], Instant::now())
}

#[test]
fn a_neighbor_that_dials_is_connect_then_active_while_it_waits_to_retry_never_idle() {
    let (mut w, _rib) = worker();
    // A port nobody listens on: every attempt is refused.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let now = Instant::now();
    w.add_peer(1, neighbor(port), now);
    assert_eq!(shown(&w, 1), State::Active, "about to dial");
    w.on_timers(now);
    if let Some(&key) = w.peers[&1].conns.first() {
        assert_eq!(shown(&w, 1), State::Connect, "dial in progress");
        until(
            &mut w,
            |w| w.on_event(Event::writable(key)),
            |w| w.peers[&1].conns.is_empty(),
        );
    }
    let p = &w.peers[&1];
    assert!(p.next_connect.is_some(), "a retry is scheduled");
    assert!(
        p.last_error
            .as_deref()
            .is_some_and(|e| e.contains("refused")),
        "{:?}",
        p.last_error
    );
    assert_eq!(shown(&w, 1), State::Active, "waiting to retry");
}

#[test]
fn a_passive_neighbor_waits_in_active_and_one_held_down_is_idle() {
    let (mut w, _rib) = worker();
    let now = Instant::now();
    let mut n = (*neighbor(179)).clone();
    n.passive = true;
    w.add_peer(1, Arc::new(n), now);
    assert_eq!(shown(&w, 1), State::Active);
    // Held down after max_prefixes, its connections are refused: RFC 4271 Idle.
    w.peers.get_mut(&1).unwrap().held_down = Some(HoldDown::Until(now + Duration::from_secs(60)));
    assert_eq!(shown(&w, 1), State::Idle);
    w.peers.get_mut(&1).unwrap().held_down = Some(HoldDown::Until(now));
    assert_eq!(shown(&w, 1), State::Active, "hold-down over");
}
