//! The per-candidate trace of a lookup: which names were tried, where, how often, and what came
//! back. Carried by every answer and every lookup error.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::error::ErrorKind;

/// What one candidate name came to after all its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Records of the asked type (or, for `lookup_ip`, of at least one family).
    Answer,
    /// The name exists but has no records of the asked type (NOERROR, empty answer).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// No answer about the name: `Timeout`, `ServFail`, `Refused`, `Network` or `Malformed`.
    Failed(ErrorKind),
}

impl Outcome {
    /// True for NXDOMAIN and NODATA: a server said the name (or the type) does not exist.
    pub fn is_not_found(self) -> bool {
        matches!(self, Outcome::NoData | Outcome::NxDomain)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Answer => f.write_str("answer"),
            Outcome::NoData => f.write_str("nodata"),
            Outcome::NxDomain => f.write_str("nxdomain"),
            Outcome::Failed(kind) => kind.fmt(f),
        }
    }
}

/// How a query travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// A datagram from a fresh ephemeral port.
    Udp,
    /// A fresh TCP connection (truncated reply, or `use-vc`).
    Tcp,
}

/// What one query (one attempt) got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// A reply with records of the asked type.
    Answer,
    /// NOERROR without records of the asked type.
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// No acceptable reply before the attempt's deadline (the socket stayed open for a late
    /// reply while the lookup ran on).
    Timeout,
    /// SERVFAIL: the server could not answer; the next server was asked.
    ServFail,
    /// REFUSED: the server will not answer us; the next server was asked.
    Refused,
    /// NOTIMP: the server does not do this; the next server was asked.
    NotImp,
    /// FORMERR: the server did not understand the query (asked again without EDNS if it had it).
    FormErr,
    /// A referral or another reply a stub resolver cannot use (the server is not recursive).
    Lame,
    /// TC=1 over UDP: the question was asked again over TCP.
    Truncated,
    /// ICMP port unreachable (ECONNREFUSED): nobody listens there; the next server was asked.
    ConnectionRefused,
    /// Another socket error.
    Network(std::io::ErrorKind),
    /// A reply that passed the ID and question checks but made no sense.
    Malformed,
    /// The lookup's overall deadline ended the attempt.
    Deadline,
    /// No reply before another attempt's reply ended the candidate.
    Unanswered,
}

impl fmt::Display for AttemptResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            AttemptResult::Answer => "answer",
            AttemptResult::NoData => "nodata",
            AttemptResult::NxDomain => "nxdomain",
            AttemptResult::Timeout => "timeout",
            AttemptResult::ServFail => "servfail",
            AttemptResult::Refused => "refused",
            AttemptResult::NotImp => "notimp",
            AttemptResult::FormErr => "formerr",
            AttemptResult::Lame => "lame reply",
            AttemptResult::Truncated => "truncated",
            AttemptResult::ConnectionRefused => "connection refused",
            AttemptResult::Network(kind) => return write!(f, "network error: {kind}"),
            AttemptResult::Malformed => "malformed",
            AttemptResult::Deadline => "deadline",
            AttemptResult::Unanswered => "unanswered",
        };
        f.write_str(text)
    }
}

/// One query sent for a candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptTrace {
    /// The server asked.
    pub server: SocketAddr,
    /// The record type asked.
    pub record_type: RecordType,
    /// UDP or TCP.
    pub transport: Transport,
    /// The query's message ID (random per query), to match server logs.
    pub id: u16,
    /// What came of it.
    pub result: AttemptResult,
    /// Datagrams received on this attempt's socket and ignored (wrong ID, wrong question,
    /// unparsable, not a response).
    pub ignored: u32,
    /// Time from the start of the lookup to the query being sent.
    pub sent_at: Duration,
    /// Time from the start of the lookup to the result.
    pub finished_at: Duration,
}

/// Everything that happened to one candidate name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CandidateTrace {
    /// The fully qualified name asked.
    pub name: Name,
    /// What it came to.
    pub outcome: Outcome,
    /// Every query sent for it, in order of sending.
    pub attempts: Vec<AttemptTrace>,
    /// Time spent on this candidate.
    pub elapsed: Duration,
}

impl CandidateTrace {
    /// The distinct servers asked for this candidate, in order of first use.
    pub fn servers(&self) -> Vec<SocketAddr> {
        let mut servers = Vec::new();
        for attempt in &self.attempts {
            if !servers.contains(&attempt.server) {
                servers.push(attempt.server);
            }
        }
        servers
    }
}

impl fmt::Display for CandidateTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} after {} attempts over {} in {:.2} s",
            self.name,
            self.outcome,
            self.attempts.len(),
            plural(self.servers().len(), "server"),
            self.elapsed.as_secs_f64()
        )
    }
}

/// `1 server`, `2 servers`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
