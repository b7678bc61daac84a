//! Session protection socket options (Linux): TCP MD5 signatures (RFC 2385) and GTSM
//! (RFC 5082). Only the raw `setsockopt`/`getsockopt` calls that socket2 does not offer live
//! here; deciding which socket gets which option is the listener's and the worker's job.
//!
//! The option values are built as plain bytes laid out like the kernel's structs, so the only
//! unsafe code is the two system calls themselves.

use socket2::{Domain, SockRef};
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd};

/// The TTL / hop limit a GTSM peer one hop away sends with and we insist on (RFC 5082 §3:
/// 255 for a directly connected peer; BIRD's and FRR's `256 - hops` with one hop).
pub const GTSM_TTL: u8 = 255;

/// Linux `TCP_MD5SIG_MAXKEYLEN`; RFC 2385 itself sets no limit.
pub const MD5_MAX_KEY: usize = 80;

/// `struct tcp_md5sig` (Linux uapi `linux/tcp.h`): a `__kernel_sockaddr_storage` (128
/// bytes), flags, prefix length, key length (u16), ifindex (i32), then the key. The `libc`
/// crate does not define this struct (0.2.191), so the layout is built by hand here and the
/// tests check it against a `#[repr(C)]` copy of the uapi definition.
const MD5SIG_LEN: usize = 128 + 1 + 1 + 2 + 4 + MD5_MAX_KEY;
const MD5SIG_KEYLEN_AT: usize = 130;
const MD5SIG_KEY_AT: usize = 136;

/// Sets the MD5 key used with `peer` on `sock`: a listening socket (accepted connections
/// inherit it) or one about to connect. On an IPv6 socket an IPv4 peer is keyed by its
/// v4-mapped address, which is how it shows up on a dual-stack socket.
pub fn set_md5_key<S: AsFd>(sock: &S, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.is_empty() || key.len() > MD5_MAX_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("an MD5 key is 1 to {MD5_MAX_KEY} bytes"),
        ));
    }
    let sig = md5sig(socket_domain(sock)?, peer, key)?;
    setsockopt(sock, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// Removes `peer`'s MD5 key from `sock` (key length 0). A key that is not there is no error:
/// removal must be idempotent for reload.
pub fn clear_md5_key<S: AsFd>(sock: &S, peer: IpAddr) -> io::Result<()> {
    let sig = md5sig(socket_domain(sock)?, peer, &[])?;
    match setsockopt(sock, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other,
    }
}

/// GTSM for a session socket: send with TTL 255 and have the kernel drop every segment that
/// arrives with less (IP_MINTTL / IPV6_MINHOPCOUNT). The family is the peer's: an IPv4 peer
/// on an IPv6 socket travels in IPv4 packets, and the IP-level options are the ones that act.
pub fn set_gtsm<S: AsFd>(sock: &S, peer: IpAddr) -> io::Result<()> {
    set_send_ttl(sock, peer, GTSM_TTL.into())?;
    match peer.to_canonical() {
        IpAddr::V4(_) => setsockopt(
            sock,
            libc::IPPROTO_IP,
            libc::IP_MINTTL,
            &i32::from(GTSM_TTL).to_ne_bytes(),
        ),
        IpAddr::V6(_) => setsockopt(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_MINHOPCOUNT,
            &i32::from(GTSM_TTL).to_ne_bytes(),
        ),
    }
}

/// Outgoing TTL (IPv4) or unicast hop limit (IPv6) for packets to `peer`.
pub fn set_send_ttl<S: AsFd>(sock: &S, peer: IpAddr, ttl: u32) -> io::Result<()> {
    let s = SockRef::from(sock);
    match peer.to_canonical() {
        IpAddr::V4(_) => s.set_ttl_v4(ttl),
        IpAddr::V6(_) => s.set_unicast_hops_v6(ttl),
    }
}

/// Minimum TTL / hop count for received segments from `peer` (0 switches it off).
pub fn set_min_ttl<S: AsFd>(sock: &S, peer: IpAddr, ttl: u8) -> io::Result<()> {
    let (level, name) = match peer.to_canonical() {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_MINTTL),
        IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT),
    };
    setsockopt(sock, level, name, &i32::from(ttl).to_ne_bytes())
}

/// Asks a listening socket to keep each connection's SYN headers (TCP_SAVE_SYN), so the
/// TTL the connection was opened with can be checked after accept.
pub fn save_syn<S: AsFd>(listener: &S) -> io::Result<()> {
    setsockopt(
        listener,
        libc::IPPROTO_TCP,
        libc::TCP_SAVE_SYN,
        &1i32.to_ne_bytes(),
    )
}

/// The TTL / hop limit of the SYN that opened an accepted connection, if the listener saved
/// it (`save_syn`). None when the kernel kept no SYN (e.g. the handshake used SYN cookies).
/// Reading it frees the saved copy.
pub fn saved_syn_ttl<S: AsFd>(stream: &S) -> io::Result<Option<u8>> {
    // Network header plus TCP header: at most 60 + 60 bytes for IPv4, and IPv6 extension
    // headers rarely come close to the rest.
    let mut buf = [0u8; 512];
    let n = getsockopt(stream, libc::IPPROTO_TCP, libc::TCP_SAVED_SYN, &mut buf)?;
    Ok(buf.get(..n).and_then(ip_header_ttl))
}

/// TTL (IPv4) or hop limit (IPv6) from the start of an IP header.
pub fn ip_header_ttl(h: &[u8]) -> Option<u8> {
    match h.first()? >> 4 {
        4 => h.get(8).copied(),
        6 => h.get(7).copied(),
        _ => None,
    }
}

fn socket_domain<S: AsFd>(sock: &S) -> io::Result<Domain> {
    SockRef::from(sock).domain()
}

/// `struct tcp_md5sig` for `peer` as seen by a socket of `domain`.
fn md5sig(domain: Domain, peer: IpAddr, key: &[u8]) -> io::Result<[u8; MD5SIG_LEN]> {
    let mut b = [0u8; MD5SIG_LEN];
    let peer = peer.to_canonical();
    match (domain, peer) {
        (Domain::IPV4, IpAddr::V4(a)) => {
            // struct sockaddr_in: family (host order), port, address (network order).
            b[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            b[4..8].copy_from_slice(&a.octets());
        }
        (Domain::IPV6, _) => {
            let a6 = match peer {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            // struct sockaddr_in6: family, port, flowinfo, address, scope id.
            b[0..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            b[8..24].copy_from_slice(&Ipv6Addr::octets(&a6));
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("an IPv4 socket cannot carry an MD5 key for {peer}"),
            ))
        }
    }
    let len = u16::try_from(key.len())
        .ok()
        .filter(|l| usize::from(*l) <= MD5_MAX_KEY)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "MD5 key too long"))?;
    b[MD5SIG_KEYLEN_AT..MD5SIG_KEYLEN_AT + 2].copy_from_slice(&len.to_ne_bytes());
    b[MD5SIG_KEY_AT..MD5SIG_KEY_AT + key.len()].copy_from_slice(key);
    Ok(b)
}

fn setsockopt<S: AsFd>(sock: &S, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let fd = sock.as_fd().as_raw_fd();
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is borrowed from a live socket for the duration of the call, and the
    // kernel reads at most `len` bytes from `value`, which is that long.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setsockopt(fd, level, name, value.as_ptr().cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Returns the number of bytes the kernel wrote into `out`.
fn getsockopt<S: AsFd>(sock: &S, level: i32, name: i32, out: &mut [u8]) -> io::Result<usize> {
    let fd = sock.as_fd().as_raw_fd();
    let mut len = libc::socklen_t::try_from(out.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is borrowed from a live socket; the kernel writes at most `len` bytes into
    // `out`, which is that long, and stores the length it wrote in `len`.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getsockopt(fd, level, name, out.as_mut_ptr().cast(), &mut len) };
    if rc == 0 {
        Ok(usize::try_from(len).unwrap_or(0).min(out.len()))
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The uapi definition, for the compiler to lay out by C rules.
    #[repr(C)]
    struct UapiTcpMd5sig {
        tcpm_addr: libc::sockaddr_storage,
        tcpm_flags: u8,
        tcpm_prefixlen: u8,
        tcpm_keylen: u16,
        tcpm_ifindex: libc::c_int,
        tcpm_key: [u8; MD5_MAX_KEY],
    }

    #[test]
    fn the_hand_built_md5sig_layout_matches_the_c_struct() {
        assert_eq!(std::mem::size_of::<libc::sockaddr_storage>(), 128);
        assert_eq!(std::mem::size_of::<UapiTcpMd5sig>(), MD5SIG_LEN);
        assert_eq!(
            std::mem::offset_of!(UapiTcpMd5sig, tcpm_keylen),
            MD5SIG_KEYLEN_AT
        );
        assert_eq!(std::mem::offset_of!(UapiTcpMd5sig, tcpm_key), MD5SIG_KEY_AT);
    }

    #[test]
    fn the_md5sig_struct_has_the_kernels_layout() {
        let b = md5sig(Domain::IPV4, v4("192.0.2.7"), b"s3cret").unwrap();
        assert_eq!(b.len(), 216, "sizeof(struct tcp_md5sig) on Linux");
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET as u16);
        assert_eq!(&b[4..8], &[192, 0, 2, 7]);
        assert_eq!(u16::from_ne_bytes([b[130], b[131]]), 6);
        assert_eq!(&b[136..142], b"s3cret");
        assert!(b[142..].iter().all(|&x| x == 0));
    }

    #[test]
    fn an_ipv4_peer_is_keyed_by_its_mapped_address_on_an_ipv6_socket() {
        let b = md5sig(Domain::IPV6, v4("192.0.2.7"), b"k").unwrap();
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_INET6 as u16);
        let mapped = "192.0.2.7"
            .parse::<std::net::Ipv4Addr>()
            .unwrap()
            .to_ipv6_mapped()
            .octets();
        assert_eq!(&b[8..24], &mapped);
    }

    #[test]
    fn an_ipv6_peer_cannot_be_keyed_on_an_ipv4_socket() {
        assert!(md5sig(Domain::IPV4, v4("2001:db8::1"), b"k").is_err());
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused_before_the_kernel_sees_them() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let e = set_md5_key(&l, v4("127.0.0.2"), &[b'x'; 81]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(set_md5_key(&l, v4("127.0.0.2"), b"").is_err());
    }

    #[test]
    fn keys_are_set_and_cleared_on_both_families_and_clearing_twice_is_fine() {
        let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
        set_md5_key(&l4, v4("127.0.0.2"), b"s3cret").unwrap();
        clear_md5_key(&l4, v4("127.0.0.2")).unwrap();
        clear_md5_key(&l4, v4("127.0.0.2")).unwrap();
        let Ok(l6) = TcpListener::bind("[::1]:0") else {
            eprintln!("SKIPPED the IPv6 half: no ::1");
            return;
        };
        set_md5_key(&l6, v4("::1"), b"s3cret").unwrap();
        set_md5_key(&l6, v4("127.0.0.2"), b"mapped").unwrap();
        clear_md5_key(&l6, v4("::1")).unwrap();
        clear_md5_key(&l6, v4("127.0.0.2")).unwrap();
    }

    #[test]
    fn a_connection_signed_with_the_same_key_carries_data() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        set_md5_key(&l, v4("127.0.0.1"), b"s3cret").unwrap();
        let to = l.local_addr().unwrap();
        let s = socket2::Socket::new(Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        set_md5_key(&s, to.ip(), b"s3cret").unwrap();
        s.connect_timeout(&to.into(), Duration::from_secs(5))
            .unwrap();
        let mut c: TcpStream = s.into();
        let (mut a, _) = l.accept().unwrap();
        c.write_all(b"hello").unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 5];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello");
    }

    #[test]
    fn an_unsigned_connection_to_a_keyed_listener_never_completes() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        set_md5_key(&l, v4("127.0.0.1"), b"s3cret").unwrap();
        let to = l.local_addr().unwrap();
        for key in [None, Some(&b"wrong"[..])] {
            let s = socket2::Socket::new(Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            if let Some(k) = key {
                set_md5_key(&s, to.ip(), k).unwrap();
            }
            // The kernel drops the SYN (no or a bad signature): the connect cannot succeed.
            assert!(s
                .connect_timeout(&to.into(), Duration::from_secs(1))
                .is_err());
        }
    }

    #[test]
    fn an_ipv4_peer_of_a_dual_stack_socket_signs_with_its_mapped_key() {
        // A dual-stack IPv6 socket on the v4-mapped loopback sees IPv4 peers as ::ffff:a.b.c.d.
        let l = socket2::Socket::new(Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        l.set_only_v6(false).unwrap();
        let at: SocketAddr = "[::ffff:127.0.0.1]:0".parse().unwrap();
        if l.bind(&at.into()).is_err() {
            eprintln!("SKIPPED: no dual-stack sockets");
            return;
        }
        l.listen(8).unwrap();
        let l: TcpListener = l.into();
        set_md5_key(&l, v4("127.0.0.1"), b"mapped").unwrap();
        let to = SocketAddr::new(v4("127.0.0.1"), l.local_addr().unwrap().port());
        let unsigned = socket2::Socket::new(Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        assert!(unsigned
            .connect_timeout(&to.into(), Duration::from_secs(1))
            .is_err());
        let signed = socket2::Socket::new(Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        set_md5_key(&signed, to.ip(), b"mapped").unwrap();
        signed
            .connect_timeout(&to.into(), Duration::from_secs(5))
            .unwrap();
        let (mut a, from) = l.accept().unwrap();
        assert_eq!(from.ip().to_canonical(), v4("127.0.0.1"));
        let mut c: TcpStream = signed.into();
        c.write_all(b"ok").unwrap();
        a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 2];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
    }

    #[test]
    fn the_saved_syn_reports_the_ttl_the_client_sent() {
        for at in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(l) = TcpListener::bind(at) else {
                eprintln!("SKIPPED {at}: cannot bind");
                continue;
            };
            save_syn(&l).unwrap();
            let to: SocketAddr = l.local_addr().unwrap();
            for ttl in [64u32, 255] {
                let s = socket2::Socket::new(Domain::for_address(to), socket2::Type::STREAM, None)
                    .unwrap();
                set_send_ttl(&s, to.ip(), ttl).unwrap();
                s.connect_timeout(&to.into(), Duration::from_secs(5))
                    .unwrap();
                let (a, _) = l.accept().unwrap();
                // Loopback delivers locally: nothing decrements the TTL on the way.
                assert_eq!(saved_syn_ttl(&a).unwrap(), Some(ttl as u8), "{at}");
                assert_eq!(saved_syn_ttl(&a).unwrap(), None, "reading frees the copy");
            }
        }
    }

    #[test]
    fn gtsm_options_are_accepted_for_both_families() {
        let s4 = socket2::Socket::new(Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        set_gtsm(&s4, v4("127.0.0.2")).unwrap();
        assert_eq!(s4.ttl_v4().unwrap(), 255);
        let s6 = socket2::Socket::new(Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        set_gtsm(&s6, v4("::1")).unwrap();
        assert_eq!(s6.unicast_hops_v6().unwrap(), 255);
    }

    #[test]
    fn ttl_is_read_from_ipv4_and_ipv6_headers() {
        let mut h4 = [0u8; 20];
        h4[0] = 0x45;
        h4[8] = 255;
        assert_eq!(ip_header_ttl(&h4), Some(255));
        let mut h6 = [0u8; 40];
        h6[0] = 0x60;
        h6[7] = 64;
        assert_eq!(ip_header_ttl(&h6), Some(64));
        assert_eq!(ip_header_ttl(&[]), None);
        assert_eq!(ip_header_ttl(&[0x45; 5]), None, "truncated");
        assert_eq!(ip_header_ttl(&[0x55; 20]), None, "not IP");
    }
}
