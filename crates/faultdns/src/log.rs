//! The JSON-lines decision log, written by its own thread so the I/O tasks never wait on it.
//!
//! Each query that reaches the rules gives one line:
//! `{"time":"...","client":"127.0.0.1:40000","id":4660,"name":"www.example.com.","type":"A",
//! "proto":"udp","rule":0,"action":"drop"}` (`rule` is `null` for the default answer, and a
//! `delay_ms` field appears when the reply was delayed; forwarded queries add upstream fields). Lines go through a bounded channel; when
//! the writer falls behind, lines are dropped and counted rather than slowing the server.

use std::{
    fs::File,
    io::{self, BufWriter, Write},
    net::SocketAddr,
    path::PathBuf,
    sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    thread::JoinHandle,
    time::{Duration, SystemTime},
};

use hickory_proto::rr::RecordType;
use serde::Serialize;

use crate::{
    error::Error,
    rule::{Action, Proto},
};

/// Lines buffered between the server and the log writer.
const LOG_QUEUE: usize = 65_536;

/// Where the decision log goes: one JSON line per query that reached the rules, e.g.
///
/// ```text
/// {"time":"2026-11-23T09:41:00.123456Z","client":"127.0.0.1:40512","id":4660,
///  "name":"cloudflare.com.","type":"A","proto":"udp","rule":0,"action":"drop"}
/// ```
///
/// (on one line). `rule` is the index of the rule that fired, `null` for the default answer;
/// `delay_ms` appears when the reply was delayed. A forwarded query's line is written when it
/// is complete and adds `upstream` (the address asked, `null` when none was),
/// `upstream_outcome` (`answered`, `timeout`, `garbage`, `oversize`, `tcp_closed`,
/// `unreachable`, `overload`), `upstream_ms` (from sending to the outcome), and `reply_rule` /
/// `reply_action` when an `on=reply` rule fired. Lines go through a bounded queue to a writer
/// thread; when it falls behind, lines are dropped and counted (`Counters::log_dropped`).
#[non_exhaustive]
pub enum LogTarget {
    /// Standard output.
    Stdout,
    /// A file, created or truncated at start.
    File(PathBuf),
    /// Any writer (for tests and embedding).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for LogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogTarget::Stdout => f.write_str("Stdout"),
            LogTarget::File(p) => f.debug_tuple("File").field(p).finish(),
            LogTarget::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// One decision.
pub(crate) struct Entry {
    pub(crate) time: SystemTime,
    pub(crate) client: SocketAddr,
    pub(crate) id: u16,
    pub(crate) name: String,
    pub(crate) qtype: u16,
    pub(crate) proto: Proto,
    pub(crate) rule: Option<usize>,
    pub(crate) action: Action,
    pub(crate) delay: Option<Duration>,
    /// For a forwarded query: how it went upstream.
    pub(crate) upstream: Option<UpstreamEntry>,
}

/// The upstream part of a forwarded query's line.
pub(crate) struct UpstreamEntry {
    /// The upstream asked (none when the query was never sent).
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) outcome: &'static str,
    /// From sending the query to the outcome.
    pub(crate) elapsed: Option<Duration>,
    pub(crate) reply_rule: Option<usize>,
    pub(crate) reply_action: Option<Action>,
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    client: SocketAddr,
    id: u16,
    name: &'a str,
    #[serde(rename = "type")]
    qtype: String,
    proto: &'static str,
    rule: Option<usize>,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream: Option<Option<SocketAddr>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_rule: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_action: Option<&'static str>,
}

enum Msg {
    Entry(Box<Entry>),
    Stop,
}

/// The sending side, shared by the I/O tasks.
pub(crate) struct LogSender {
    tx: SyncSender<Msg>,
}

impl LogSender {
    /// Queue a line; false when the queue is full (the line is lost).
    pub(crate) fn send(&self, e: Entry) -> bool {
        !matches!(
            self.tx.try_send(Msg::Entry(Box::new(e))),
            Err(TrySendError::Full(_))
        )
    }
}

/// The writer thread; [`LogWriter::stop`] flushes and joins it.
pub(crate) struct LogWriter {
    tx: SyncSender<Msg>,
    thread: JoinHandle<()>,
}

impl LogWriter {
    pub(crate) fn start(target: LogTarget) -> Result<(LogSender, LogWriter), Error> {
        let out: Box<dyn Write + Send> = match target {
            LogTarget::Stdout => Box::new(io::stdout()),
            LogTarget::File(path) => {
                Box::new(File::create(&path).map_err(|source| Error::File {
                    path: path.clone(),
                    source,
                })?)
            }
            LogTarget::Writer(w) => w,
        };
        let (tx, rx) = sync_channel(LOG_QUEUE);
        let thread = std::thread::Builder::new()
            .name("faultdns-log".into())
            .spawn(move || write_loop(rx, BufWriter::with_capacity(64 * 1024, out)))
            .map_err(|source| Error::File {
                path: PathBuf::from("<log thread>"),
                source,
            })?;
        Ok((LogSender { tx: tx.clone() }, LogWriter { tx, thread }))
    }

    /// Write out what is queued, flush and end the thread. Blocks: call from a blocking context.
    pub(crate) fn stop(self) {
        let _ = self.tx.send(Msg::Stop);
        let _ = self.thread.join();
    }
}

fn write_loop(rx: Receiver<Msg>, mut out: BufWriter<Box<dyn Write + Send>>) {
    let mut broken = false;
    while let Ok(msg) = rx.recv() {
        let mut next = Some(msg);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Stop => {
                    let _ = out.flush();
                    return;
                }
                Msg::Entry(e) if !broken => {
                    // A closed stdout (broken pipe) ends logging, not the server.
                    broken = write_entry(&mut out, &e).is_err();
                }
                Msg::Entry(_) => {}
            }
            next = rx.try_recv().ok();
        }
        if !broken {
            broken = out.flush().is_err();
        }
    }
    let _ = out.flush();
}

fn write_entry(out: &mut impl Write, e: &Entry) -> io::Result<()> {
    let line = Line {
        time: humantime::format_rfc3339_micros(e.time).to_string(),
        client: e.client,
        id: e.id,
        name: &e.name,
        qtype: RecordType::from(e.qtype).to_string(),
        proto: e.proto.as_str(),
        rule: e.rule,
        action: e.action.as_str(),
        delay_ms: e.delay.map(|d| d.as_secs_f64() * 1000.0),
        upstream: e.upstream.as_ref().map(|u| u.addr),
        upstream_outcome: e.upstream.as_ref().map(|u| u.outcome),
        upstream_ms: e
            .upstream
            .as_ref()
            .and_then(|u| u.elapsed)
            .map(|d| d.as_secs_f64() * 1000.0),
        reply_rule: e.upstream.as_ref().and_then(|u| u.reply_rule),
        reply_action: e
            .upstream
            .as_ref()
            .and_then(|u| u.reply_action)
            .map(Action::as_str),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}
