//! The crate's one error type, [`Error`], and its classification, [`ErrorKind`].

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};

use crate::trace::{CandidateTrace, FailureKind, Outcome, plural};

/// What kind of error a lookup ended with: the stable thing to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Every candidate name got NXDOMAIN: the name does not exist.
    NxDomain,
    /// Every candidate got NXDOMAIN or NODATA, at least one NODATA: the name exists but has no
    /// records of the asked type.
    NoData,
    /// No server replied in time (per-attempt timeouts exhausted, or the deadline reached).
    Timeout,
    /// Servers answered SERVFAIL (or FORMERR, or an unusable referral).
    ServFail,
    /// Servers answered REFUSED or NOTIMP.
    Refused,
    /// Sockets failed: nothing listening (ICMP port unreachable), no route, and the like.
    Network,
    /// Replies that passed the ID and question checks were unusable.
    Malformed,
    /// The name asked is not a valid domain name.
    InvalidName,
    /// The configuration is unusable (or a resolv.conf file could not be read).
    Config,
}

impl ErrorKind {
    /// The lowercase name used in messages and by dnsload's outcome classes.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NxDomain => "nxdomain",
            ErrorKind::NoData => "nodata",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ServFail => "servfail",
            ErrorKind::Refused => "refused",
            ErrorKind::Network => "network",
            ErrorKind::Malformed => "malformed",
            ErrorKind::InvalidName => "invalid name",
            ErrorKind::Config => "config",
        }
    }
}

impl From<FailureKind> for ErrorKind {
    fn from(kind: FailureKind) -> Self {
        match kind {
            FailureKind::Timeout => ErrorKind::Timeout,
            FailureKind::ServFail => ErrorKind::ServFail,
            FailureKind::Refused => ErrorKind::Refused,
            FailureKind::Network => ErrorKind::Network,
            FailureKind::Malformed => ErrorKind::Malformed,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The details of a lookup that did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub(crate) name: String,
    pub(crate) record_type: Option<RecordType>,
    pub(crate) candidate: Option<Name>,
    pub(crate) elapsed: Duration,
    pub(crate) trace: Vec<CandidateTrace>,
}

impl Failure {
    /// The name as the caller asked it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The record type asked; `None` for `lookup_ip` (A and AAAA).
    pub fn record_type(&self) -> Option<RecordType> {
        self.record_type
    }

    /// The candidate whose failure ended the lookup (for not-found errors: the last one tried).
    pub fn candidate(&self) -> Option<&Name> {
        self.candidate.as_ref()
    }

    /// Time from the start of the lookup to the error.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// One entry per candidate tried, in order.
    pub fn trace(&self) -> &[CandidateTrace] {
        &self.trace
    }

    /// The failing candidate's trace entry.
    fn failing(&self) -> Option<&CandidateTrace> {
        let candidate = self.candidate.as_ref()?;
        self.trace.iter().rev().find(|t| &t.name == candidate)
    }

    /// `NAME after N attempts over M servers (S s)`, for failure messages. Attempts count per
    /// family for `lookup_ip` (A and AAAA each have the full budget).
    fn attempts_summary(&self) -> String {
        let (attempts, servers) = self
            .failing()
            .map(|t| (t.attempts(), t.servers().len()))
            .unwrap_or((0, 0));
        let candidate = match &self.candidate {
            Some(name) => name.to_string(),
            None => self.name.clone(),
        };
        if attempts == 0 {
            let remembered = self.failing().and_then(|t| {
                t.cache
                    .iter()
                    .find(|u| u.state == crate::trace::CacheState::Failure)
            });
            if let Some(memory) = remembered {
                return format!(
                    "{candidate}: the same question failed {:.2} s ago and is remembered \
                     (nothing sent)",
                    memory.age.as_secs_f64()
                );
            }
            return format!(
                "{candidate}: the deadline passed before it was asked ({:.2} s)",
                self.elapsed.as_secs_f64()
            );
        }
        format!(
            "{candidate} after {} over {} ({:.2} s)",
            plural(attempts, "attempt"),
            plural(servers, "server"),
            self.elapsed.as_secs_f64()
        )
    }

    /// `nxdomain for a., b.; nodata for c.`, for not-found messages.
    fn tried_summary(&self) -> String {
        let mut parts = Vec::new();
        for outcome in [Outcome::NxDomain, Outcome::NoData] {
            let names: Vec<String> = self
                .trace
                .iter()
                .filter(|t| t.outcome == outcome)
                .map(|t| t.name.to_string())
                .collect();
            if !names.is_empty() {
                parts.push(format!("{outcome} for {}", names.join(", ")));
            }
        }
        format!("{} ({:.2} s)", parts.join("; "), self.elapsed.as_secs_f64())
    }

    fn type_text(&self) -> String {
        match self.record_type {
            Some(t) => t.to_string(),
            None => "address".to_string(),
        }
    }
}

/// `connection refused`, or the error's own text.
fn io_text(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => error.to_string(),
    }
}

/// Why a lookup (or building a resolver) failed.
///
/// Match on [`kind()`](Error::kind) or use the predicates; every lookup error also carries the
/// name asked, the elapsed time and the per-candidate [`trace`](Error::trace). A network error
/// keeps the socket error as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Every candidate got NXDOMAIN. The name does not exist: check its spelling and the search
    /// list.
    #[error("{} does not exist: {}", .0.name, .0.tried_summary())]
    NxDomain(Box<Failure>),
    /// Every candidate got NXDOMAIN or NODATA and at least one NODATA: the name exists without
    /// records of this type. Ask for another type (AAAA vs A) or fix the zone.
    #[error("{} has no {} records: {}", .0.name, .0.type_text(), .0.tried_summary())]
    NoData(Box<Failure>),
    /// No reply in time. Says nothing about the name: retry later, check the servers and the
    /// network path.
    #[error("timed out resolving {}", .0.attempts_summary())]
    Timeout(Box<Failure>),
    /// The servers could not answer (SERVFAIL, FORMERR, lame). Usually upstream trouble: retry
    /// later, check the recursive resolver's logs.
    #[error("server failure resolving {}", .0.attempts_summary())]
    ServFail(Box<Failure>),
    /// The servers refused (REFUSED, NOTIMP). Check that they serve recursion to this client.
    #[error("refused resolving {}", .0.attempts_summary())]
    Refused(Box<Failure>),
    /// Sockets failed (e.g. nothing listens on the server port). Check the server addresses
    /// and that the servers run.
    #[error("{} resolving {}", io_text(source), failure.attempts_summary())]
    Network {
        /// The lookup details.
        failure: Box<Failure>,
        /// The socket error that ended the failing candidate.
        source: io::Error,
    },
    /// Replies were unusable. Check the servers (or what sits between them and us).
    #[error("malformed replies resolving {}", .0.attempts_summary())]
    Malformed(Box<Failure>),
    /// The name is not a valid domain name; nothing was sent. Fix the caller's input.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration cannot work (no servers, a bad search domain). Fix the configuration.
    #[error("invalid configuration: {setting}: {reason}")]
    Config {
        /// The setting at fault.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A resolv.conf file could not be read. Check the path and its permissions.
    #[error("cannot read {}: {source}", path.display())]
    ResolvConf {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: io::Error,
    },
}

impl Error {
    /// The error's kind: what dnsload and other callers classify by.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NxDomain(_) => ErrorKind::NxDomain,
            Error::NoData(_) => ErrorKind::NoData,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::ServFail(_) => ErrorKind::ServFail,
            Error::Refused(_) => ErrorKind::Refused,
            Error::Network { .. } => ErrorKind::Network,
            Error::Malformed(_) => ErrorKind::Malformed,
            Error::InvalidName { .. } => ErrorKind::InvalidName,
            Error::Config { .. } | Error::ResolvConf { .. } => ErrorKind::Config,
        }
    }

    /// True only if every candidate tried got an NXDOMAIN or NODATA reply: the name (or the
    /// type) really does not exist. Never true after a timeout or any other failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self.kind(), ErrorKind::NxDomain | ErrorKind::NoData)
    }

    /// True when the lookup ended on a timeout (per-attempt timeouts or the deadline).
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// True when no server gave an answer about the name (timeout, SERVFAIL, REFUSED, network,
    /// malformed): trying again later may succeed. Never true together with
    /// [`is_not_found`](Self::is_not_found).
    pub fn is_temporary(&self) -> bool {
        self.failure().is_some() && !self.is_not_found()
    }

    /// The lookup details, for lookup errors (`None` for name and configuration errors).
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::NxDomain(f)
            | Error::NoData(f)
            | Error::Timeout(f)
            | Error::ServFail(f)
            | Error::Refused(f)
            | Error::Network { failure: f, .. }
            | Error::Malformed(f) => Some(f),
            Error::InvalidName { .. } | Error::Config { .. } | Error::ResolvConf { .. } => None,
        }
    }

    /// The name as the caller asked it (`None` for configuration errors).
    pub fn name(&self) -> Option<&str> {
        match self {
            Error::InvalidName { name, .. } => Some(name),
            _ => self.failure().map(Failure::name),
        }
    }

    /// Time from the start of the lookup to the error (zero for name and config errors).
    pub fn elapsed(&self) -> Duration {
        self.failure().map(Failure::elapsed).unwrap_or_default()
    }

    /// One entry per candidate tried (empty for name and config errors).
    pub fn trace(&self) -> &[CandidateTrace] {
        self.failure().map(Failure::trace).unwrap_or_default()
    }

    /// The error a walk that found nothing ends with: every candidate said NXDOMAIN (`nodata`
    /// false) or at least one said NODATA.
    pub(crate) fn not_found(nodata: bool, failure: Failure) -> Error {
        let failure = Box::new(failure);
        if nodata {
            Error::NoData(failure)
        } else {
            Error::NxDomain(failure)
        }
    }

    /// The error of a failed candidate. `io` is the socket error behind a network failure
    /// (one is made up, naming the missing cause, if the caller has none).
    pub(crate) fn failed(kind: FailureKind, failure: Failure, io: Option<io::Error>) -> Error {
        let failure = Box::new(failure);
        match kind {
            FailureKind::Timeout => Error::Timeout(failure),
            FailureKind::ServFail => Error::ServFail(failure),
            FailureKind::Refused => Error::Refused(failure),
            FailureKind::Malformed => Error::Malformed(failure),
            FailureKind::Network => Error::Network {
                failure,
                source: io.unwrap_or_else(|| io::Error::other("socket error")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{QueryResult, QueryTrace, Transport};
    use std::error::Error as _;

    fn query(server: &str, record_type: RecordType, attempt: u8) -> QueryTrace {
        QueryTrace {
            server: server.parse().unwrap(),
            record_type,
            transport: Transport::Udp,
            id: 1,
            attempt,
            resend: false,
            result: QueryResult::Timeout,
            ignored: 0,
            sent_at: Duration::ZERO,
            finished_at: Duration::from_secs(1),
        }
    }

    fn failure(record_type: Option<RecordType>, queries: Vec<QueryTrace>) -> Failure {
        let name = Name::from_ascii("cloudflare.com.").unwrap();
        Failure {
            name: "cloudflare.com".into(),
            record_type,
            candidate: Some(name.clone()),
            elapsed: Duration::from_millis(5000),
            trace: vec![CandidateTrace {
                name,
                outcome: Outcome::Failed(FailureKind::Timeout),
                queries,
                cache: vec![],
                elapsed: Duration::from_secs(5),
            }],
        }
    }

    #[test]
    fn timeout_message_is_one_specific_line() {
        let servers = ["10.0.0.1:53", "10.0.0.2:53"];
        let queries = (0..5)
            .map(|i| query(servers[i % 2], RecordType::A, i as u8))
            .collect();
        let e = Error::failed(
            FailureKind::Timeout,
            failure(Some(RecordType::A), queries),
            None,
        );
        assert_eq!(
            e.to_string(),
            "timed out resolving cloudflare.com. after 5 attempts over 2 servers (5.00 s)"
        );
        assert!(e.is_timeout() && e.is_temporary() && !e.is_not_found());
        assert_eq!(e.name(), Some("cloudflare.com"));
        assert!(e.source().is_none());
    }

    #[test]
    fn lookup_ip_counts_attempts_per_family() {
        let mut queries = Vec::new();
        for attempt in 0..5 {
            queries.push(query("10.0.0.1:53", RecordType::A, attempt));
            queries.push(query("10.0.0.1:53", RecordType::AAAA, attempt));
        }
        let e = Error::failed(FailureKind::Timeout, failure(None, queries), None);
        assert_eq!(
            e.to_string(),
            "timed out resolving cloudflare.com. after 5 attempts over 1 server (5.00 s)"
        );
    }

    #[test]
    fn network_error_keeps_the_socket_error_as_source() {
        let io = io::Error::from(io::ErrorKind::ConnectionRefused);
        let queries = vec![query("10.0.0.1:53", RecordType::A, 0)];
        let e = Error::failed(
            FailureKind::Network,
            failure(Some(RecordType::A), queries),
            Some(io),
        );
        assert_eq!(e.kind(), ErrorKind::Network);
        assert!(
            e.to_string()
                .starts_with("connection refused resolving cloudflare.com. after 1 attempt"),
            "{e}"
        );
        let source = e.source().expect("io source");
        let io = source.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn a_remembered_failure_says_so() {
        let mut f = failure(Some(RecordType::A), vec![]);
        f.trace[0].cache.push(crate::trace::CacheUse {
            record_type: RecordType::A,
            state: crate::trace::CacheState::Failure,
            age: Duration::from_millis(420),
        });
        let e = Error::failed(FailureKind::Timeout, f, None);
        assert_eq!(
            e.to_string(),
            "timed out resolving cloudflare.com.: the same question failed 0.42 s ago and is \
             remembered (nothing sent)"
        );
        assert!(e.is_timeout() && !e.is_not_found());
    }

    #[test]
    fn not_found_message_lists_candidates() {
        let trace = ["a.example.", "a."]
            .iter()
            .zip([Outcome::NoData, Outcome::NxDomain])
            .map(|(n, outcome)| CandidateTrace {
                name: Name::from_ascii(n).unwrap(),
                outcome,
                queries: vec![],
                cache: vec![],
                elapsed: Duration::ZERO,
            })
            .collect();
        let e = Error::not_found(
            true,
            Failure {
                name: "a".into(),
                record_type: Some(RecordType::AAAA),
                candidate: Some(Name::from_ascii("a.").unwrap()),
                elapsed: Duration::from_millis(12),
                trace,
            },
        );
        assert_eq!(
            e.to_string(),
            "a has no AAAA records: nxdomain for a.; nodata for a.example. (0.01 s)"
        );
        assert!(e.is_not_found() && !e.is_temporary());
        assert_eq!(e.kind(), ErrorKind::NoData);
    }
}
