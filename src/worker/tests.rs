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

#[test]
fn an_inbound_session_does_not_leave_a_stale_dial_time_spinning_the_loop() {
    let (mut w, _rib) = worker();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    w.add_peer(1, neighbor(l.local_addr().unwrap().port()), now);
    // As close_conn leaves it after a session went down.
    w.peers.get_mut(&1).unwrap().next_connect = Some(now + Duration::from_secs(5));
    let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    w.accepted(1, server, now);
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
    w.add_peer(1, neighbor(l.local_addr().unwrap().port()), now);
    w.peers.get_mut(&1).unwrap().next_connect = None;
    let _c1 = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s1, _) = l.accept().unwrap();
    w.accepted(1, s1, now);
    let first = w.peers[&1].conns.clone();
    let _c2 = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s2, _) = l.accept().unwrap();
    w.accepted(1, s2, now);
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
    w.add_peer(1, neighbor(l.local_addr().unwrap().port()), now);
    let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    w.accepted(1, server, now);
    let key = w.peers[&1].conns[0];
    w.tell_rib(ToRib::Xoff { peer: 1 });
    assert!(!w.reads_paused, "room for one");
    w.tell_rib(ToRib::Xon { peer: 1 });
    w.tell_rib(ToRib::PublishRoutes);
    assert!(
        w.reads_paused,
        "inbox full: reading stops instead of the thread blocking"
    );
    assert!(w.conn(key).is_some_and(|c| !c.read_interest));
    assert!(matches!(rib.try_recv(), Ok(ToRib::Xoff { .. })));
    w.drain_rib_backlog();
    assert!(w.reads_paused, "one slot freed, one message still waiting");
    assert!(matches!(rib.try_recv(), Ok(ToRib::Xon { .. })));
    w.drain_rib_backlog();
    assert!(!w.reads_paused && w.conn(key).is_some_and(|c| c.read_interest));
    assert!(matches!(rib.try_recv(), Ok(ToRib::PublishRoutes)));
}

#[test]
fn decoded_updates_over_the_inbox_budget_pause_reading_until_the_rib_takes_them() {
    let (mut w, rib) = worker();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let now = Instant::now();
    w.add_peer(1, neighbor(l.local_addr().unwrap().port()), now);
    let _client = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    w.accepted(1, server, now);
    let key = w.peers[&1].conns[0];
    let weight = w.cfg.inbox_weight.clone();
    // Others' batches already in flight, just under the budget.
    weight.store(
        msg::INBOX_BUDGET - 100,
        std::sync::atomic::Ordering::Relaxed,
    );
    let u = wire::Update {
        withdrawn: vec!["10.0.0.0/24".parse().unwrap()],
        ..wire::Update::default()
    };
    let each = msg::update_weight(&u);
    assert!(each > 100);
    w.batch_weight += each;
    w.batch.push(u);
    w.send_batch(key);
    assert!(matches!(rib.try_recv(), Ok(ToRib::Updates { .. })));
    assert_eq!(
        weight.load(std::sync::atomic::Ordering::Relaxed),
        msg::INBOX_BUDGET - 100 + each
    );
    assert!(w.reads_paused && w.conn(key).is_some_and(|c| !c.read_interest));
    // The channel has room, but the memory is still taken: reading stays off...
    w.drain_rib_backlog();
    assert!(w.reads_paused);
    // ...until the RIB thread has taken enough.
    weight.fetch_sub(each, std::sync::atomic::Ordering::Relaxed);
    w.drain_rib_backlog();
    assert!(!w.reads_paused && w.conn(key).is_some_and(|c| c.read_interest));
}
