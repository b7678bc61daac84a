//! One TCP connection of a peer: the non-blocking socket, its read buffer (bounded by one
//! maximum-size message plus one read) and its write queue of shared byte chunks.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;

use crate::fsm::Session;
use crate::msg::PeerId;

/// Bytes asked of the kernel per read call.
const READ_CHUNK: usize = 64 * 1024;
/// Queued chunks handed to one `writev` (the kernel's limit is 1024).
const CHUNKS_PER_WRITE: usize = 64;

pub struct Conn {
    pub peer: PeerId,
    pub stream: TcpStream,
    /// We dialled it (as opposed to accepted it): collision resolution needs to know.
    pub outbound: bool,
    /// Non-blocking connect still in progress.
    pub connecting: bool,
    pub session: Session,
    rbuf: Vec<u8>,
    wqueue: VecDeque<Bytes>,
    /// Bytes of `wqueue.front()` already written.
    woff: usize,
    wbytes: usize,
    /// Poller interest currently includes writability / readability.
    pub write_interest: bool,
    pub read_interest: bool,
    /// We told the RIB to stop sending group updates to this peer (queue above high mark).
    pub xoff: bool,
    /// Ended with no NOTIFICATION sent or received (RFC 4724 §4.2): an Established session
    /// closing so reports `ToRib::PeerLost`, not `PeerDown`.
    pub lost: bool,
}

pub enum ReadOutcome {
    /// Some bytes arrived (possibly none were whole messages yet).
    Data(usize),
    WouldBlock,
    Closed,
}

impl Conn {
    pub fn new(
        peer: PeerId,
        stream: TcpStream,
        outbound: bool,
        connecting: bool,
        session: Session,
    ) -> Conn {
        Conn {
            peer,
            stream,
            outbound,
            connecting,
            session,
            rbuf: Vec::new(),
            wqueue: VecDeque::new(),
            woff: 0,
            wbytes: 0,
            write_interest: connecting,
            read_interest: !connecting,
            xoff: false,
            lost: false,
        }
    }

    /// One read call into the buffer's tail.
    pub fn read_some(&mut self) -> io::Result<ReadOutcome> {
        let len = self.rbuf.len();
        self.rbuf.resize(len + READ_CHUNK, 0);
        let res = self.stream.read(&mut self.rbuf[len..]);
        match res {
            Ok(0) => {
                self.rbuf.truncate(len);
                Ok(ReadOutcome::Closed)
            }
            Ok(n) => {
                self.rbuf.truncate(len + n);
                Ok(ReadOutcome::Data(n))
            }
            Err(e) => {
                self.rbuf.truncate(len);
                match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
                    io::ErrorKind::Interrupted => Ok(ReadOutcome::Data(0)),
                    _ => Err(e),
                }
            }
        }
    }

    /// The read buffer and the session that reads it, borrowed together.
    pub fn read_parts(&mut self) -> (&[u8], &mut Session) {
        (&self.rbuf, &mut self.session)
    }

    /// Drops the first `n` bytes (whole messages already handled).
    pub fn consume(&mut self, n: usize) {
        self.rbuf.drain(..n);
        if self.rbuf.capacity() > 4 * READ_CHUNK && self.rbuf.len() < READ_CHUNK {
            self.rbuf.shrink_to(2 * READ_CHUNK);
        }
    }

    pub fn queue(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.wbytes += data.len();
        self.wqueue.push_back(data);
    }

    pub fn queued_bytes(&self) -> usize {
        self.wbytes
    }

    /// Writes as much as the socket takes, many queued chunks per system call (a busy
    /// worker queues several small ones per peer before it flushes). Returns bytes written.
    pub fn flush(&mut self) -> io::Result<usize> {
        let mut total = 0;
        while !self.wqueue.is_empty() {
            let written = {
                let mut iov = [IoSlice::new(&[]); CHUNKS_PER_WRITE];
                let mut n = 0;
                for (slot, chunk) in iov.iter_mut().zip(&self.wqueue) {
                    let skip = if n == 0 { self.woff } else { 0 };
                    *slot = IoSlice::new(&chunk[skip..]);
                    n += 1;
                }
                self.stream.write_vectored(&iov[..n])
            };
            match written {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    total += n;
                    self.wbytes -= n;
                    self.advance(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Drops `n` written bytes from the front of the queue.
    fn advance(&mut self, mut n: usize) {
        while let Some(front) = self.wqueue.front() {
            let left = front.len() - self.woff;
            if n < left {
                self.woff += n;
                return;
            }
            n -= left;
            self.wqueue.pop_front();
            self.woff = 0;
        }
    }
}
