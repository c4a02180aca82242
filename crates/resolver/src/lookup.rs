//! One lookup: the hosts file, then the candidate walk under the overall deadline, each
//! candidate asked through `exchange` (A and AAAA together for `lookup_ip`).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::pin;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::time::Instant;

use crate::answer::Answer;
use crate::candidates::candidates;
use crate::config::{Config, SearchPolicy};
use crate::error::{Error, ErrorKind, Failure};
use crate::exchange::{Settings, TypeOutcome, exchange};
use crate::hosts::Hosts;
use crate::servers::Servers;
use crate::trace::{AttemptTrace, CandidateTrace, Outcome};
use crate::walk::{Step, Verdict, Walk};
use crate::wire::{Answered, Question};

/// What a lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// One record type.
    Type(RecordType),
    /// A and AAAA, merged.
    Ip,
}

/// The resolver's shared, validated state.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) search: Vec<Name>,
    pub(crate) servers: Servers,
    pub(crate) hosts: Hosts,
    pub(crate) settings: Settings,
}

/// An answer in the making: what a candidate's reply(s) gave.
struct Found {
    answered: Answered,
    extra: Vec<Record>,
    server: std::net::SocketAddr,
}

impl Found {
    /// The records of one question's answer, with nothing from the other family.
    fn new(answered: Answered, server: std::net::SocketAddr) -> Self {
        Found {
            answered,
            extra: Vec::new(),
            server,
        }
    }
}

/// What one candidate came to.
struct CandidateResult {
    outcome: Outcome,
    attempts: Vec<AttemptTrace>,
    found: Option<Found>,
    io: Option<io::ErrorKind>,
}

impl Inner {
    /// Runs a lookup of `name` (as parsed from `asked`) until `deadline_at`.
    pub(crate) async fn lookup(
        &self,
        asked: &str,
        name: &Name,
        ask: Ask,
        start: Instant,
        deadline: Instant,
        policy: SearchPolicy,
    ) -> Result<Answer, Error> {
        if let Some(answer) = self.hosts_answer(name, ask, start) {
            return Ok(answer);
        }
        let mut walk = Walk::new(policy);
        let mut traces: Vec<CandidateTrace> = Vec::new();
        let mut ios = Vec::new();
        let mut found = None;
        for candidate in candidates(name, &self.search, self.config.ndots) {
            let began = Instant::now();
            let result = if began >= deadline {
                // The deadline ended the walk before this candidate: a failure, never
                // not-found.
                let outcome = Outcome::Failed(ErrorKind::Timeout);
                CandidateResult {
                    outcome,
                    attempts: Vec::new(),
                    found: None,
                    io: None,
                }
            } else {
                self.candidate(&candidate, ask, start, deadline).await
            };
            let outcome = result.outcome;
            traces.push(CandidateTrace {
                name: candidate,
                outcome,
                attempts: result.attempts,
                elapsed: began.elapsed(),
            });
            ios.push(result.io);
            if result.found.is_some() {
                found = result.found;
            }
            if walk.record(outcome) == Step::Stop || began >= deadline {
                break;
            }
        }
        conclude(&walk, traces, ios, found, asked, ask, start.elapsed())
    }

    /// Asks one candidate.
    async fn candidate(
        &self,
        name: &Name,
        ask: Ask,
        start: Instant,
        deadline: Instant,
    ) -> CandidateResult {
        let question = |record_type| Question {
            name: name.clone(),
            record_type,
        };
        let settings = self.settings;
        match ask {
            Ask::Type(record_type) => {
                let mut attempts = Vec::new();
                let q = question(record_type);
                let outcome =
                    exchange(&self.servers, settings, &q, start, deadline, &mut attempts).await;
                let (outcome, found, io) = single(outcome);
                CandidateResult {
                    outcome,
                    attempts,
                    found,
                    io,
                }
            }
            Ask::Ip => {
                let (qa, qaaaa) = (question(RecordType::A), question(RecordType::AAAA));
                let (mut ta, mut taaaa) = (Vec::new(), Vec::new());
                let servers = &self.servers;
                let fa = exchange(servers, settings, &qa, start, deadline, &mut ta);
                let faaaa = exchange(servers, settings, &qaaaa, start, deadline, &mut taaaa);
                let grace = settings.timeout;
                let (a, aaaa) = if self.config.single_request {
                    let a = fa.await;
                    let aaaa = after(faaaa, &a, grace, deadline).await;
                    (a, aaaa)
                } else {
                    both(fa, faaaa, grace, deadline).await
                };
                let mut attempts = ta;
                attempts.extend(taaaa);
                attempts.sort_by_key(|a| a.sent_at);
                let (outcome, found, io) = merge(a, aaaa);
                CandidateResult {
                    outcome,
                    attempts,
                    found,
                    io,
                }
            }
        }
    }

    /// An answer from the hosts file, if it lists the name asked with addresses of the family
    /// asked.
    fn hosts_answer(&self, name: &Name, ask: Ask, start: Instant) -> Option<Answer> {
        let (canonical, ips) = self.hosts.lookup(name)?;
        local_answer(name, canonical.clone(), ips, ask, start)
    }

    /// The hosts file's name for `ip`, as a PTR answer.
    pub(crate) fn reverse_from_hosts(&self, ip: IpAddr, start: Instant) -> Option<Answer> {
        let host = self.hosts.reverse(ip)?;
        let name = Name::from(ip);
        let record = Record::from_rdata(name.clone(), 0, RData::PTR(PTR(host.clone())));
        Some(local(&name, name.clone(), vec![record], start))
    }
}

/// The answer to an address literal (`192.0.2.1`, `2001:db8::1`) asked as A, AAAA or both: the
/// address itself, as getaddrinfo treats numeric hosts. Named by the address (IPv4) or its
/// `ip6.arpa.` name (IPv6, which is not a valid host name).
pub(crate) fn literal_answer(asked: &str, ask: Ask, start: Instant) -> Option<Answer> {
    let ip = asked.parse::<IpAddr>().ok()?;
    let mut name = Name::from_ascii(asked).unwrap_or_else(|_| Name::from(ip));
    name.set_fqdn(true);
    local_answer(&name, name.clone(), &[ip], ask, start)
}

/// An answer made of the addresses of `ips` that fit `ask` (A first, then AAAA); `None` when
/// none fits.
fn local_answer(
    name: &Name,
    canonical: Name,
    ips: &[IpAddr],
    ask: Ask,
    start: Instant,
) -> Option<Answer> {
    let wanted = |ip: &IpAddr| match ask {
        Ask::Ip => true,
        Ask::Type(RecordType::A) => ip.is_ipv4(),
        Ask::Type(RecordType::AAAA) => ip.is_ipv6(),
        Ask::Type(_) => false,
    };
    let mut ips: Vec<IpAddr> = ips.iter().copied().filter(wanted).collect();
    if ips.is_empty() {
        return None;
    }
    ips.sort_by_key(|ip| ip.is_ipv6());
    let records = ips
        .into_iter()
        .map(|ip| {
            let data = match ip {
                IpAddr::V4(v4) => RData::A(A(v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
            };
            Record::from_rdata(canonical.clone(), 0, data)
        })
        .collect();
    Some(local(name, canonical, records, start))
}

/// An answer that did not come from DNS (hosts file, address literal).
fn local(name: &Name, canonical: Name, records: Vec<Record>, start: Instant) -> Answer {
    let mut name = name.clone();
    name.set_fqdn(true);
    Answer {
        name,
        canonical,
        records,
        chain: Vec::new(),
        server: None,
        elapsed: start.elapsed(),
        trace: Vec::new(),
    }
}

/// Runs both questions concurrently in this future. Once one has an answer, the other gets
/// `grace` more (one per-attempt timeout) before it is given up as a timeout, so a family the
/// network loses cannot hold an answer back until the deadline.
async fn both(
    a: impl Future<Output = TypeOutcome>,
    aaaa: impl Future<Output = TypeOutcome>,
    grace: Duration,
    deadline: Instant,
) -> (TypeOutcome, TypeOutcome) {
    let (mut a, mut aaaa) = (pin!(a), pin!(aaaa));
    tokio::select! {
        done = &mut a => {
            let other = after(aaaa, &done, grace, deadline).await;
            (done, other)
        }
        done = &mut aaaa => {
            let other = after(a, &done, grace, deadline).await;
            (other, done)
        }
    }
}

/// Finishes `other` after `done` completed: in full, unless `done` is an answer, in which case
/// for at most `grace` more.
async fn after(
    other: impl Future<Output = TypeOutcome>,
    done: &TypeOutcome,
    grace: Duration,
    deadline: Instant,
) -> TypeOutcome {
    if !matches!(done, TypeOutcome::Answer { .. }) {
        return other.await;
    }
    let until = (Instant::now() + grace).min(deadline);
    tokio::time::timeout_at(until, other)
        .await
        .unwrap_or(TypeOutcome::Failed {
            kind: ErrorKind::Timeout,
            io: None,
        })
}

/// Turns a finished walk into the lookup's result: the answer of the candidate that answered,
/// or the error the verdict names, with the whole trace.
fn conclude(
    walk: &Walk,
    traces: Vec<CandidateTrace>,
    ios: Vec<Option<io::ErrorKind>>,
    found: Option<Found>,
    asked: &str,
    ask: Ask,
    elapsed: Duration,
) -> Result<Answer, Error> {
    let failure = |candidate: Option<usize>, traces: Vec<CandidateTrace>| Failure {
        name: asked.to_string(),
        record_type: match ask {
            Ask::Type(t) => Some(t),
            Ask::Ip => None,
        },
        candidate: candidate.map(|i| traces[i].name.clone()),
        elapsed,
        io_error: candidate.and_then(|i| ios.get(i).copied().flatten()),
        trace: traces,
    };
    match walk.verdict() {
        Some(Verdict::Answered(i)) => match found {
            Some(Found {
                answered,
                extra,
                server,
            }) => {
                let mut records = answered.records;
                records.extend(extra);
                Ok(Answer {
                    name: traces[i].name.clone(),
                    canonical: answered.canonical,
                    records,
                    chain: answered.chain,
                    server: Some(server),
                    elapsed,
                    trace: traces,
                })
            }
            // An answer outcome always carries its records.
            None => Err(Error::lookup(
                ErrorKind::Malformed,
                failure(Some(i), traces),
            )),
        },
        Some(Verdict::NotFound(kind)) => {
            let last = traces.len().checked_sub(1);
            Err(Error::lookup(kind, failure(last, traces)))
        }
        Some(Verdict::Failed(kind, i)) => Err(Error::lookup(kind, failure(Some(i), traces))),
        // No candidate at all cannot happen (a name always is its own candidate).
        None => Err(Error::lookup(ErrorKind::Timeout, failure(None, traces))),
    }
}

/// One question's outcome as a candidate outcome.
fn single(outcome: TypeOutcome) -> (Outcome, Option<Found>, Option<io::ErrorKind>) {
    match outcome {
        TypeOutcome::Answer { answered, server } => {
            (Outcome::Answer, Some(Found::new(answered, server)), None)
        }
        TypeOutcome::NoData => (Outcome::NoData, None, None),
        TypeOutcome::NxDomain => (Outcome::NxDomain, None, None),
        TypeOutcome::Failed { kind, io } => (Outcome::Failed(kind), None, io),
    }
}

/// A and AAAA outcomes merged: an answer if either family answered (the other's failure stays
/// in the trace); else a failure if either failed; else NXDOMAIN only if both said so.
fn merge(a: TypeOutcome, aaaa: TypeOutcome) -> (Outcome, Option<Found>, Option<io::ErrorKind>) {
    match (a, aaaa) {
        (TypeOutcome::Answer { answered, server }, TypeOutcome::Answer { answered: six, .. }) => {
            let found = Found {
                answered,
                extra: six.records,
                server,
            };
            (Outcome::Answer, Some(found), None)
        }
        (TypeOutcome::Answer { answered, server }, _)
        | (_, TypeOutcome::Answer { answered, server }) => {
            (Outcome::Answer, Some(Found::new(answered, server)), None)
        }
        (TypeOutcome::Failed { kind, io }, _) | (_, TypeOutcome::Failed { kind, io }) => {
            (Outcome::Failed(kind), None, io)
        }
        (TypeOutcome::NxDomain, TypeOutcome::NxDomain) => (Outcome::NxDomain, None, None),
        _ => (Outcome::NoData, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered() -> TypeOutcome {
        TypeOutcome::Answer {
            answered: Answered {
                canonical: Name::root(),
                records: vec![Record::from_rdata(
                    Name::root(),
                    5,
                    RData::A(A::new(192, 0, 2, 1)),
                )],
                chain: vec![],
            },
            server: "127.0.0.1:53".parse().unwrap(),
        }
    }

    fn failed(kind: ErrorKind) -> TypeOutcome {
        TypeOutcome::Failed { kind, io: None }
    }

    #[test]
    fn merge_prefers_answers_then_failures_then_not_found() {
        use TypeOutcome::{NoData, NxDomain};
        let t = ErrorKind::Timeout;
        assert_eq!(merge(answered(), failed(t)).0, Outcome::Answer);
        assert_eq!(merge(failed(t), answered()).0, Outcome::Answer);
        assert_eq!(merge(answered(), answered()).1.unwrap().extra.len(), 1);
        assert_eq!(merge(NoData, failed(t)).0, Outcome::Failed(t));
        assert_eq!(
            merge(failed(ErrorKind::ServFail), NxDomain).0,
            Outcome::Failed(ErrorKind::ServFail)
        );
        assert_eq!(merge(NxDomain, NxDomain).0, Outcome::NxDomain);
        assert_eq!(merge(NxDomain, NoData).0, Outcome::NoData);
        assert_eq!(merge(NoData, NoData).0, Outcome::NoData);
    }

    mod iron_rule {
        use super::*;
        use crate::walk::tests::outcome;
        use proptest::prelude::*;

        /// Drives the walk over per-candidate outcomes as `Inner::lookup` does, and concludes.
        fn lookup(policy: SearchPolicy, outcomes: &[Outcome]) -> Result<Answer, Error> {
            let mut walk = Walk::new(policy);
            let (mut traces, mut ios, mut found) = (Vec::new(), Vec::new(), None);
            for (i, &outcome) in outcomes.iter().enumerate() {
                traces.push(CandidateTrace {
                    name: Name::from_ascii(format!("c{i}.example.")).unwrap(),
                    outcome,
                    attempts: Vec::new(),
                    elapsed: Duration::ZERO,
                });
                ios.push(None);
                if outcome == Outcome::Answer {
                    let TypeOutcome::Answer { answered, server } = answered() else {
                        unreachable!()
                    };
                    found = Some(Found::new(answered, server));
                }
                if walk.record(outcome) == Step::Stop {
                    break;
                }
            }
            conclude(&walk, traces, ios, found, "c", Ask::Ip, Duration::ZERO)
        }

        proptest! {
            #[test]
            fn not_found_only_if_every_candidate_said_so(
                continue_on_failure in any::<bool>(),
                outcomes in prop::collection::vec(outcome(), 1..8),
            ) {
                let policy = if continue_on_failure {
                    SearchPolicy::ContinueOnFailure
                } else {
                    SearchPolicy::StopOnFailure
                };
                let result = lookup(policy, &outcomes);
                let trace: Vec<Outcome> = match &result {
                    Ok(answer) => answer.trace().iter().map(|t| t.outcome).collect(),
                    Err(e) => e.trace().iter().map(|t| t.outcome).collect(),
                };
                let failed = trace.iter().any(|o| matches!(o, Outcome::Failed(_)));
                match &result {
                    Err(e) if e.is_not_found() => {
                        prop_assert!(trace.iter().all(|o| o.is_not_found()));
                        prop_assert_eq!(trace.len(), outcomes.len(), "every candidate tried");
                        prop_assert!(!e.is_temporary());
                    }
                    Err(e) => {
                        prop_assert!(failed, "an error that is not not-found needs a failure");
                        prop_assert!(e.is_temporary());
                        let first = trace.iter().find_map(|o| match o {
                            Outcome::Failed(kind) => Some(*kind),
                            _ => None,
                        });
                        prop_assert_eq!(Some(e.kind()), first);
                    }
                    Ok(answer) => {
                        prop_assert_eq!(trace.last(), Some(&Outcome::Answer));
                        prop_assert_eq!(answer.name(), &answer.trace().last().unwrap().name);
                        prop_assert!(!failed || continue_on_failure);
                    }
                }
                if failed {
                    prop_assert!(!matches!(&result, Err(e) if e.is_not_found()));
                }
            }
        }
    }
}
