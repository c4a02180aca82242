//! TCP: one connection per server, reused for pipelined queries (RFC 7766 §6.2), closed when
//! idle.
//!
//! Algorithm:
//! - a query goes over the server's connection, opened on demand (by its task, so the query
//!   is queued while the connection is made); its ID is unique on the connection;
//! - the connection's task writes queued queries in order, reads length-prefixed replies and
//!   routes each by ID to the waiting query; replies may come in any order;
//! - it closes after [`IDLE`] with nothing waiting, when the server closes it, on any read or
//!   write error (every waiting query gets the error, and its question moves on), or when the
//!   resolver is dropped. The next query opens a new connection;
//! - at most [`MAX_PIPELINED`] queries wait on one connection; beyond that a query fails at
//!   once (its question moves on) rather than queueing without bound.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::{Delivery, Event, Inbox, Outgoing, TaskContext};
use crate::policy::servers::{Servers, bump, drop_by};
use crate::wire::{message_id, set_id};

/// A connection with nothing waiting closes after this long (servers close idle connections
/// after a few seconds; RFC 7766 §6.2.3 asks clients to close them first).
pub(crate) const IDLE: Duration = Duration::from_secs(5);

/// Queries waiting on one connection at most.
pub(crate) const MAX_PIPELINED: usize = 1024;

/// Longest wait for a connection to be made: a question stops waiting at its own timeout; this
/// only bounds the task.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Table {
    waiting: HashMap<u16, (Arc<Inbox>, u32)>,
    closed: bool,
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn {
    table: Mutex<Table>,
    queue: mpsc::UnboundedSender<Vec<u8>>,
    server: usize,
    servers: Arc<Servers>,
}

impl Conn {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fails every waiting query with `error` and closes the table.
    fn close(&self, error: &io::Error) {
        let waiting: Vec<(Arc<Inbox>, u32)> = {
            let mut table = self.table();
            table.closed = true;
            table.waiting.drain().map(|(_, w)| w).collect()
        };
        drop_by(
            &self.servers.get(self.server).counters.waiting,
            waiting.len() as u64,
        );
        let now = Instant::now();
        for (inbox, tag) in waiting {
            inbox.push(Delivery {
                tag,
                at: now,
                event: Event::Error(io::Error::new(error.kind(), error.to_string())),
            });
        }
    }
}

/// A query registered on a connection.
#[derive(Debug)]
pub(crate) struct Entry {
    conn: Arc<Conn>,
    id: u16,
}

impl Entry {
    pub(crate) fn id(&self) -> u16 {
        self.id
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if self.conn.table().waiting.remove(&self.id).is_some() {
            drop_by(&self.conn.servers.get(self.conn.server).counters.waiting, 1);
        }
    }
}

/// The TCP connections of one resolver in one runtime.
#[derive(Debug)]
pub(crate) struct Pool {
    conns: Vec<Mutex<Option<Arc<Conn>>>>,
}

impl Pool {
    pub(crate) fn new(servers: usize) -> Pool {
        Pool {
            conns: (0..servers).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Registers a query and queues it on the server's connection.
    pub(crate) fn send(
        &self,
        context: &TaskContext,
        addr: SocketAddr,
        out: Outgoing<'_>,
    ) -> io::Result<Entry> {
        let len = u16::try_from(out.message.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut slot = self.conns[out.server]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let conn = match &*slot {
            Some(conn) if !conn.table().closed => conn.clone(),
            _ => {
                let (queue, queued) = mpsc::unbounded_channel();
                let conn = Arc::new(Conn {
                    table: Mutex::new(Table::default()),
                    queue,
                    server: out.server,
                    servers: context.servers.clone(),
                });
                context
                    .handle
                    .spawn(run(conn.clone(), addr, queued, context.clone()));
                *slot = Some(conn.clone());
                conn
            }
        };
        drop(slot);
        let id = {
            let mut table = conn.table();
            if table.closed {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "TCP connection closed",
                ));
            }
            if table.waiting.len() >= MAX_PIPELINED {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "too many queries waiting on the TCP connection",
                ));
            }
            let id = loop {
                let id: u16 = rand::random();
                if !table.waiting.contains_key(&id) {
                    break id;
                }
            };
            table.waiting.insert(id, (out.inbox.clone(), out.tag));
            bump(&context.servers.get(out.server).counters.waiting);
            id
        };
        let entry = Entry { conn, id };
        set_id(out.message, id);
        let mut framed = Vec::with_capacity(out.message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(out.message);
        entry
            .conn
            .queue
            .send(framed)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "TCP connection closed"))?;
        Ok(entry)
    }
}

/// The task of one connection.
async fn run(
    conn: Arc<Conn>,
    addr: SocketAddr,
    mut queued: mpsc::UnboundedReceiver<Vec<u8>>,
    mut context: TaskContext,
) {
    let guard = context.guard();
    let error = tokio::select! {
        _ = context.shutdown.changed() => {
            io::Error::new(io::ErrorKind::ConnectionAborted, "resolver dropped")
        }
        error = serve(&conn, addr, &mut queued) => error,
    };
    debug!(%addr, %error, "TCP connection closed");
    conn.close(&error);
    guard.finish();
}

/// Connects and serves the connection until it ends; returns why it ended.
async fn serve(
    conn: &Conn,
    addr: SocketAddr,
    queued: &mut mpsc::UnboundedReceiver<Vec<u8>>,
) -> io::Error {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return error,
        Err(_) => return io::Error::new(io::ErrorKind::TimedOut, "TCP connect timed out"),
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 4096];
    let mut idle_since = Instant::now();
    loop {
        let idle = conn.table().waiting.is_empty();
        tokio::select! {
            message = queued.recv() => {
                let Some(message) = message else {
                    return io::Error::new(io::ErrorKind::ConnectionAborted, "resolver dropped");
                };
                if let Err(error) = writer.write_all(&message).await {
                    return error;
                }
                idle_since = Instant::now();
            }
            read = reader.read(&mut chunk) => {
                match read {
                    Ok(0) => {
                        return io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed by the server");
                    }
                    Ok(n) => pending.extend_from_slice(&chunk[..n]),
                    Err(error) => return error,
                }
                deliver(conn, &mut pending);
                idle_since = Instant::now();
            }
            _ = tokio::time::sleep_until(idle_since + IDLE), if idle => {
                return io::Error::new(io::ErrorKind::TimedOut, "idle");
            }
        }
    }
}

/// Routes every complete reply in `pending` and keeps the rest.
fn deliver(conn: &Conn, pending: &mut Vec<u8>) {
    let now = Instant::now();
    let mut start = 0;
    while pending.len() - start >= 2 {
        let len = usize::from(u16::from_be_bytes([pending[start], pending[start + 1]]));
        if pending.len() - start - 2 < len {
            break;
        }
        let message = &pending[start + 2..start + 2 + len];
        start += 2 + len;
        let Some(id) = message_id(message) else {
            continue;
        };
        let waiting = conn.table().waiting.get(&id).cloned();
        if let Some((inbox, tag)) = waiting {
            // The lookup checks the question (a TCP connection carries nothing forged from
            // elsewhere).
            inbox.push(Delivery {
                tag,
                at: now,
                event: Event::Message(message.to_vec()),
            });
        }
    }
    pending.drain(..start);
}
