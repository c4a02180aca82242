//! Forwarding over TCP: per client connection, one upstream connection, opened at the first
//! forwarded query and kept while the client's connection lives.
//!
//! One task owns the upstream connection and the client's queries waiting on it: it takes
//! queries from the client's reader, writes them with IDs unique on the connection (pipelined,
//! as the client sent them), matches the replies a reader task hands it, and expires what the
//! upstream did not answer in time. When the connection closes or breaks, every query waiting
//! on it ends as `tcp_closed`; the next query opens a new connection (round robin over the
//! upstreams). The task ends when the client's reader has ended and nothing is waiting, or at
//! shutdown.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, tcp::OwnedWriteHalf},
    sync::mpsc,
    task::JoinHandle,
    time::{sleep_until, timeout},
};

use crate::{
    counters::Live,
    handler::{Shared, Target, stopped},
    upstream::{Deadlines, Delivery, Forward, Outcome, Slot, judge, next_id},
};

/// Queries a client's reader may queue for the upstream task.
pub(crate) const QUEUE: usize = 64;

struct Conn {
    addr: SocketAddr,
    writer: OwnedWriteHalf,
    /// Messages from the reader task; `None` (closed channel) when the connection ended.
    frames: mpsc::Receiver<Vec<u8>>,
    reader: JoinHandle<()>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

struct Waiting {
    fwd: Box<Forward>,
    sent: Instant,
    seq: u64,
    _slot: Slot,
}

/// The upstream task of one client connection. `out` is the client's writer queue.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut queries: mpsc::Receiver<Box<Forward>>,
    out: mpsc::Sender<Vec<u8>>,
) {
    let Some(up) = &shared.upstreams else {
        return;
    };
    let mut shutdown = shared.shutdown.clone();
    let mut conn: Option<Conn> = None;
    let mut waiting: HashMap<u16, Waiting> = HashMap::new();
    let mut deadlines = Deadlines::default();
    let mut next: u16 = rand::random();
    let mut seq = 0u64;
    let mut client_open = true;
    let mut buf = Vec::with_capacity(512);
    while client_open || !waiting.is_empty() {
        let deadline = deadlines.next();
        tokio::select! {
            () = stopped(&mut shutdown) => return,
            q = queries.recv(), if client_open => {
                let Some(fwd) = q else {
                    client_open = false;
                    continue;
                };
                let Some(slot) = Slot::take(&shared) else {
                    let d = shared.complete(&fwd, None, None, Outcome::Overload, &[]);
                    deliver(&shared, &out, d).await;
                    continue;
                };
                if conn.is_none() {
                    let addr = up.addrs[up.pick()];
                    match connect(addr, up.timeout).await {
                        Some(c) => conn = Some(c),
                        None => {
                            drop(slot);
                            let d = shared.complete(&fwd, Some(addr), None, Outcome::Unreachable, &[]);
                            deliver(&shared, &out, d).await;
                            continue;
                        }
                    }
                }
                let Some(c) = conn.as_mut() else { continue };
                let Some(id) = next_id(&mut next, |id| waiting.contains_key(&id)) else {
                    let d = shared.complete(&fwd, Some(c.addr), None, Outcome::Overload, &[]);
                    deliver(&shared, &out, d).await;
                    continue;
                };
                buf.clear();
                buf.extend_from_slice(&(fwd.query.len() as u16).to_be_bytes());
                let mut body = Vec::with_capacity(fwd.query.len());
                fwd.bytes_with_id(id, &mut body);
                buf.extend_from_slice(&body);
                let now = Instant::now();
                seq += 1;
                deadlines.push(now + up.timeout, id, seq);
                waiting.insert(id, Waiting { fwd, sent: now, seq, _slot: slot });
                let written = timeout(up.timeout, c.writer.write_all(&buf)).await;
                if !matches!(written, Ok(Ok(()))) {
                    let addr = c.addr;
                    conn = None;
                    fail_all(&shared, &out, &mut waiting, addr, Outcome::TcpClosed).await;
                }
            }
            frame = async { conn.as_mut().expect("guarded").frames.recv().await }, if conn.is_some() => {
                let Some(c) = conn.as_ref() else { continue };
                let addr = c.addr;
                let Some(reply) = frame else {
                    conn = None;
                    fail_all(&shared, &out, &mut waiting, addr, Outcome::TcpClosed).await;
                    continue;
                };
                let Some(id) = reply.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
                    // Too short to carry an ID: it concerns no query.
                    Live::bump(&shared.live.up_wrong_id);
                    continue;
                };
                let verdict = waiting.get(&id).and_then(|w| judge(&w.fwd, &reply));
                match verdict.and_then(|v| waiting.remove(&id).map(|w| (w, v))) {
                    Some((w, Ok(()))) => {
                        let d = shared.complete(&w.fwd, Some(addr), Some(w.sent), Outcome::Answered, &reply);
                        deliver(&shared, &out, d).await;
                    }
                    Some((w, Err(outcome))) => {
                        let d = shared.complete(&w.fwd, Some(addr), Some(w.sent), outcome, &[]);
                        deliver(&shared, &out, d).await;
                    }
                    None => Live::bump(&shared.live.up_wrong_id),
                }
            }
            () = async { sleep_until(deadline.expect("guarded").into()).await }, if deadline.is_some() => {
                let now = Instant::now();
                while let Some((id, s)) = deadlines.pop_expired(now) {
                    if waiting.get(&id).is_some_and(|w| w.seq == s)
                        && let Some(w) = waiting.remove(&id)
                    {
                        let addr = conn.as_ref().map(|c| c.addr);
                        let d = shared.complete(&w.fwd, addr, Some(w.sent), Outcome::Timeout, &[]);
                        deliver(&shared, &out, d).await;
                    }
                }
            }
        }
    }
}

/// Open a connection and start its reader; `None` when it cannot be opened in time.
async fn connect(addr: SocketAddr, within: std::time::Duration) -> Option<Conn> {
    let stream = timeout(within, TcpStream::connect(addr)).await.ok()?.ok()?;
    let _ = stream.set_nodelay(true);
    let (mut rd, writer) = stream.into_split();
    let (tx, frames) = mpsc::channel(QUEUE);
    let reader = tokio::spawn(async move {
        loop {
            let mut len = [0u8; 2];
            if rd.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if rd.read_exact(&mut msg).await.is_err() {
                return;
            }
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    Some(Conn {
        addr,
        writer,
        frames,
        reader,
    })
}

async fn fail_all(
    shared: &Shared,
    out: &mpsc::Sender<Vec<u8>>,
    waiting: &mut HashMap<u16, Waiting>,
    addr: SocketAddr,
    outcome: Outcome,
) {
    let mut ended: Vec<Waiting> = waiting.drain().map(|(_, w)| w).collect();
    ended.sort_by_key(|w| w.seq);
    for w in ended {
        let d = shared.complete(&w.fwd, Some(addr), Some(w.sent), outcome, &[]);
        deliver(shared, out, d).await;
    }
}

/// Queue a reply on the client's connection (with its length prefix), now or later.
async fn deliver(shared: &Shared, out: &mpsc::Sender<Vec<u8>>, d: Delivery) {
    let Some(bytes) = d.bytes else {
        return;
    };
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    framed.extend_from_slice(&bytes);
    match d.delay {
        Some(delay) => shared.send_later(delay, framed, Target::Tcp(out.clone())),
        None => {
            let _ = out.send(framed).await;
        }
    }
}
