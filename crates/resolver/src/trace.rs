//! The vocabulary of what happened: per query ([`QueryResult`]), per candidate name
//! ([`Outcome`], [`FailureKind`]) and the traces that carry them ([`QueryTrace`],
//! [`CandidateTrace`]). Every answer and every lookup error carries its trace.
//!
//! Three levels, one idea each:
//! - a *query* is one datagram or TCP message sent; its [`QueryResult`] says what came back;
//! - a *candidate* is one fully qualified name tried; its [`Outcome`] is an answer, NODATA,
//!   NXDOMAIN, or a failure of one of the [`FailureKind`]s (never anything else);
//! - a *lookup* ends in an [`Answer`](crate::Answer) or an [`Error`](crate::Error) whose
//!   [`ErrorKind`](crate::ErrorKind) adds the kinds that are not about a candidate (an invalid
//!   name, a bad configuration).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

/// Why a candidate name got no answer about it after all its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// No usable reply before the attempts ran out or the deadline passed.
    Timeout,
    /// Servers answered SERVFAIL (or FORMERR, or an unusable referral).
    ServFail,
    /// Servers answered REFUSED or NOTIMP.
    Refused,
    /// Sockets failed: nothing listening (ICMP port unreachable), no route, and the like.
    Network,
    /// Replies that passed the ID and question checks made no sense.
    Malformed,
}

impl FailureKind {
    /// The lowercase name used in messages and by dnsload's outcome classes.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::ServFail => "servfail",
            FailureKind::Refused => "refused",
            FailureKind::Network => "network",
            FailureKind::Malformed => "malformed",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one candidate name (for `lookup_ip`: both of its families together) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Records of the asked type (for `lookup_ip`: of at least one family).
    Answer,
    /// The name exists but has no records of the asked type (NOERROR, empty answer).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// No answer about the name.
    Failed(FailureKind),
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
    /// A datagram over one of the resolver's pooled UDP sockets.
    Udp,
    /// A message over the resolver's TCP connection to the server (truncated reply, or
    /// `use-vc`).
    Tcp,
}

/// What one query got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryResult {
    /// A reply with records of the asked type.
    Answer,
    /// NOERROR without records of the asked type.
    NoData,
    /// NXDOMAIN.
    NxDomain,
    /// No usable reply before its attempt ended (the query stayed open for a late reply while
    /// its question ran on).
    Timeout,
    /// SERVFAIL: the server could not answer.
    ServFail,
    /// REFUSED: the server will not answer us.
    Refused,
    /// NOTIMP: the server does not do this.
    NotImp,
    /// FORMERR: the server did not understand the query (asked again without EDNS if it had it).
    FormErr,
    /// A referral or another reply a stub resolver cannot use (the server is not recursive).
    Lame,
    /// TC=1 over UDP: the question was asked again over TCP.
    Truncated,
    /// ICMP port unreachable (ECONNREFUSED): nobody listens there.
    ConnectionRefused,
    /// Another socket error.
    Network(std::io::ErrorKind),
    /// A reply that passed the ID and question checks but made no sense.
    Malformed,
    /// The lookup's overall deadline ended the query's attempt.
    Deadline,
    /// No reply before another query's reply settled the question.
    Unanswered,
}

impl QueryResult {
    /// True for the results that settle a question: an answer, NODATA or NXDOMAIN.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            QueryResult::Answer | QueryResult::NoData | QueryResult::NxDomain
        )
    }
}

impl fmt::Display for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            QueryResult::Answer => "answer",
            QueryResult::NoData => "nodata",
            QueryResult::NxDomain => "nxdomain",
            QueryResult::Timeout => "timeout",
            QueryResult::ServFail => "servfail",
            QueryResult::Refused => "refused",
            QueryResult::NotImp => "notimp",
            QueryResult::FormErr => "formerr",
            QueryResult::Lame => "lame reply",
            QueryResult::Truncated => "truncated",
            QueryResult::ConnectionRefused => "connection refused",
            QueryResult::Network(kind) => return write!(f, "network error: {kind}"),
            QueryResult::Malformed => "malformed",
            QueryResult::Deadline => "deadline",
            QueryResult::Unanswered => "unanswered",
        };
        f.write_str(text)
    }
}

/// One query sent for a candidate.
///
/// An *attempt* is one question to one server, lasting up to the per-attempt timeout; inside
/// it the question may be sent again (a re-send, possibly to another server) when the server's
/// retransmission timeout passes without a reply. Every query of an attempt carries the
/// attempt's index; [`resend`](Self::resend) tells the first query of an attempt from its
/// re-sends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryTrace {
    /// The server asked.
    pub server: SocketAddr,
    /// The record type asked.
    pub record_type: RecordType,
    /// UDP or TCP.
    pub transport: Transport,
    /// The query's message ID (random per query), to match server logs.
    pub id: u16,
    /// The attempt this query belongs to (0-based) within its question.
    pub attempt: u8,
    /// Whether this query re-sent the question inside its attempt (after the retransmission
    /// timeout) rather than starting the attempt.
    pub resend: bool,
    /// What came of it.
    pub result: QueryResult,
    /// Datagrams that carried this query's ID but were ignored (wrong question, unparsable,
    /// not a response).
    pub ignored: u32,
    /// Time from the start of the lookup to the query being sent.
    pub sent_at: Duration,
    /// Time from the start of the lookup to the result.
    pub finished_at: Duration,
}

/// What the cache gave for one question (a candidate name and a record type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CacheState {
    /// A reply still within its TTL (records, NXDOMAIN or NODATA): nothing was sent.
    Fresh,
    /// Records past their TTL, returned because asking again failed (or was still unanswered
    /// after the stale-answer wait); see
    /// [`CacheConfig::with_serve_stale`](crate::CacheConfig::with_serve_stale).
    Stale,
    /// A failure of the same question moments ago, remembered instead of asking again; see
    /// [`CacheConfig::with_failure_memory`](crate::CacheConfig::with_failure_memory).
    Failure,
}

impl fmt::Display for CacheState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CacheState::Fresh => "fresh",
            CacheState::Stale => "stale",
            CacheState::Failure => "remembered failure",
        })
    }
}

/// One question answered from the cache (or a remembered failure), for a candidate's trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheUse {
    /// The record type of the question.
    pub record_type: RecordType,
    /// What the cache gave.
    pub state: CacheState,
    /// How long ago the reply (or the failure) it gave was received.
    pub age: Duration,
}

/// Everything that happened to one candidate name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CandidateTrace {
    /// The fully qualified name asked.
    pub name: Name,
    /// What it came to.
    pub outcome: Outcome,
    /// Every query sent for it, in order of sending (for `lookup_ip`, both families). A lookup
    /// that joined an identical question already in flight lists that question's queries.
    pub queries: Vec<QueryTrace>,
    /// The questions the cache settled (fresh or stale records, a remembered failure), per
    /// record type; empty when every question went to the network.
    pub cache: Vec<CacheUse>,
    /// Time spent on this candidate.
    pub elapsed: Duration,
}

impl CandidateTrace {
    /// The distinct servers asked for this candidate, in order of first use.
    pub fn servers(&self) -> Vec<SocketAddr> {
        let mut servers = Vec::new();
        for query in &self.queries {
            if !servers.contains(&query.server) {
                servers.push(query.server);
            }
        }
        servers
    }

    /// The attempts made for this candidate: per record type, the number of attempts started;
    /// the largest over the types asked (for `lookup_ip`, A and AAAA each have their own
    /// attempts, so this counts per family, not both together).
    pub fn attempts(&self) -> usize {
        let mut per_type: Vec<(RecordType, u8)> = Vec::new();
        for query in &self.queries {
            match per_type.iter_mut().find(|(t, _)| *t == query.record_type) {
                Some((_, most)) => *most = (*most).max(query.attempt),
                None => per_type.push((query.record_type, query.attempt)),
            }
        }
        per_type
            .iter()
            .map(|&(_, most)| usize::from(most) + 1)
            .max()
            .unwrap_or(0)
    }

    /// Queries that re-sent a question inside its attempt.
    pub fn resends(&self) -> usize {
        self.queries.iter().filter(|q| q.resend).count()
    }
}

impl fmt::Display for CandidateTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.outcome)?;
        if !self.queries.is_empty() || self.cache.is_empty() {
            write!(
                f,
                " after {} ({}) over {}",
                plural(self.attempts(), "attempt"),
                plural(self.queries.len(), "query"),
                plural(self.servers().len(), "server"),
            )?;
        }
        if !self.cache.is_empty() {
            let uses: Vec<String> = self
                .cache
                .iter()
                .map(|u| format!("{} {}", u.record_type, u.state))
                .collect();
            write!(f, " with the cache ({})", uses.join(", "))?;
        }
        write!(f, " in {:.2} s", self.elapsed.as_secs_f64())
    }
}

/// `1 server`, `2 servers`, `3 queries`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    match (n, word.strip_suffix('y')) {
        (1, _) => format!("{n} {word}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {word}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(record_type: RecordType, attempt: u8, resend: bool) -> QueryTrace {
        QueryTrace {
            server: "127.0.0.1:53".parse().unwrap(),
            record_type,
            transport: Transport::Udp,
            id: 1,
            attempt,
            resend,
            result: QueryResult::Timeout,
            ignored: 0,
            sent_at: Duration::ZERO,
            finished_at: Duration::ZERO,
        }
    }

    #[test]
    fn attempts_count_per_family_and_resends_apart() {
        let trace = CandidateTrace {
            name: Name::from_ascii("a.example.").unwrap(),
            outcome: Outcome::Failed(FailureKind::Timeout),
            queries: vec![
                query(RecordType::A, 0, false),
                query(RecordType::AAAA, 0, false),
                query(RecordType::A, 0, true),
                query(RecordType::A, 1, false),
                query(RecordType::AAAA, 1, false),
            ],
            cache: Vec::new(),
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(trace.attempts(), 2);
        assert_eq!(trace.resends(), 1);
        assert_eq!(
            trace.to_string(),
            "a.example.: timeout after 2 attempts (5 queries) over 1 server in 2.00 s"
        );
        assert_eq!(plural(1, "query"), "1 query");
        let cached = CandidateTrace {
            queries: vec![],
            outcome: Outcome::Answer,
            cache: vec![
                CacheUse {
                    record_type: RecordType::A,
                    state: CacheState::Fresh,
                    age: Duration::from_secs(3),
                },
                CacheUse {
                    record_type: RecordType::AAAA,
                    state: CacheState::Stale,
                    age: Duration::from_secs(90),
                },
            ],
            ..trace
        };
        assert_eq!(
            cached.to_string(),
            "a.example.: answer with the cache (A fresh, AAAA stale) in 2.00 s"
        );
    }
}
