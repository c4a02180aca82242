//! The candidate walk and the iron rule, as a pure state machine.
//!
//! Algorithm: record each candidate's [`Outcome`] in order;
//! - an answer stops the walk: it is the result;
//! - NXDOMAIN or NODATA moves to the next candidate;
//! - a failure stops the walk under [`SearchPolicy::StopOnFailure`], and moves on under
//!   [`SearchPolicy::ContinueOnFailure`];
//! - when the walk ends without an answer, any failure makes the verdict that failure (the
//!   first one's kind); only a walk in which *every* candidate got NXDOMAIN/NODATA is
//!   not-found (NODATA if any candidate had it, as glibc's `res_search`).
//!
//! The I/O layer records a deadline that ends the walk early as a `Timeout` failure of the
//! candidate it interrupted (or of the next, untried one), so an unfinished walk can never be
//! mistaken for not-found.

use crate::config::SearchPolicy;
use crate::trace::{FailureKind, Outcome};

/// What the walk does after a recorded outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Try the next candidate (if there is one).
    Next,
    /// The walk is over.
    Stop,
}

/// How a finished walk ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The candidate at this index answered.
    Answered(usize),
    /// Every candidate tried got NXDOMAIN/NODATA; `nodata` if at least one got NODATA.
    NotFound {
        /// At least one candidate got NODATA (the error is then NODATA, as glibc's
        /// `res_search`).
        nodata: bool,
    },
    /// A candidate failed: the first failure's kind and index.
    Failed(FailureKind, usize),
}

/// The walk over one lookup's candidates.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    policy: SearchPolicy,
    outcomes: Vec<Outcome>,
    stopped: bool,
}

impl Walk {
    pub(crate) fn new(policy: SearchPolicy) -> Self {
        Walk {
            policy,
            outcomes: Vec::new(),
            stopped: false,
        }
    }

    /// Records the outcome of the next candidate and says whether to go on.
    pub(crate) fn record(&mut self, outcome: Outcome) -> Step {
        debug_assert!(!self.stopped, "outcome recorded after the walk stopped");
        self.outcomes.push(outcome);
        let step = match outcome {
            Outcome::Answer => Step::Stop,
            Outcome::NxDomain | Outcome::NoData => Step::Next,
            Outcome::Failed(_) => match self.policy {
                SearchPolicy::StopOnFailure => Step::Stop,
                SearchPolicy::ContinueOnFailure => Step::Next,
            },
        };
        self.stopped = step == Step::Stop;
        step
    }

    /// The verdict once the walk stopped or ran out of candidates; `None` before any outcome.
    pub(crate) fn verdict(&self) -> Option<Verdict> {
        let last = *self.outcomes.last()?;
        if last == Outcome::Answer {
            return Some(Verdict::Answered(self.outcomes.len() - 1));
        }
        if let Some((index, kind)) = self.outcomes.iter().enumerate().find_map(|(i, o)| match o {
            Outcome::Failed(kind) => Some((i, *kind)),
            _ => None,
        }) {
            return Some(Verdict::Failed(kind, index));
        }
        Some(Verdict::NotFound {
            nodata: self.outcomes.contains(&Outcome::NoData),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any candidate outcome (shared with the lookup's own iron-rule property test).
    pub(crate) fn outcome() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::Answer),
            Just(Outcome::NoData),
            Just(Outcome::NxDomain),
            Just(Outcome::Failed(FailureKind::Timeout)),
            Just(Outcome::Failed(FailureKind::ServFail)),
            Just(Outcome::Failed(FailureKind::Refused)),
            Just(Outcome::Failed(FailureKind::Network)),
            Just(Outcome::Failed(FailureKind::Malformed)),
        ]
    }

    fn policy() -> impl Strategy<Value = SearchPolicy> {
        prop_oneof![
            Just(SearchPolicy::StopOnFailure),
            Just(SearchPolicy::ContinueOnFailure)
        ]
    }

    /// Runs the walk over per-candidate outcomes; returns the tried prefix and the verdict.
    fn drive(policy: SearchPolicy, outcomes: &[Outcome]) -> (Vec<Outcome>, Verdict) {
        let mut walk = Walk::new(policy);
        let mut tried = Vec::new();
        for &outcome in outcomes {
            tried.push(outcome);
            if walk.record(outcome) == Step::Stop {
                break;
            }
        }
        (tried, walk.verdict().expect("at least one candidate"))
    }

    proptest! {
        #[test]
        fn iron_rule(policy in policy(), outcomes in prop::collection::vec(outcome(), 1..8)) {
            let (tried, verdict) = drive(policy, &outcomes);
            let failed = tried.iter().any(|o| matches!(o, Outcome::Failed(_)));
            if let Verdict::NotFound { nodata } = verdict {
                prop_assert!(tried.iter().all(|o| o.is_not_found()));
                prop_assert_eq!(tried.len(), outcomes.len(), "not-found before the walk ended");
                prop_assert_eq!(nodata, tried.contains(&Outcome::NoData));
            }
            if failed {
                prop_assert!(!matches!(verdict, Verdict::NotFound { .. }), "not-found after a failure");
            }
            // The walk moves on only after NXDOMAIN/NODATA (or a failure, when allowed).
            for o in &tried[..tried.len() - 1] {
                match o {
                    Outcome::Answer => prop_assert!(false, "walked past an answer"),
                    Outcome::Failed(_) => {
                        prop_assert_eq!(policy, SearchPolicy::ContinueOnFailure)
                    }
                    _ => {}
                }
            }
            match verdict {
                Verdict::Answered(i) => {
                    prop_assert_eq!(i, tried.len() - 1);
                    prop_assert_eq!(tried[i], Outcome::Answer);
                }
                Verdict::Failed(kind, i) => {
                    prop_assert_eq!(tried[i], Outcome::Failed(kind));
                    prop_assert!(tried[..i].iter().all(|o| o.is_not_found()));
                }
                Verdict::NotFound { .. } => {}
            }
        }
    }

    #[test]
    fn war_story_shapes() {
        use Outcome::*;
        let timeout = Failed(FailureKind::Timeout);
        // dots >= ndots: the name times out, the search name would be NXDOMAIN.
        let (tried, v) = drive(SearchPolicy::StopOnFailure, &[timeout, NxDomain]);
        assert_eq!(
            (tried.len(), v),
            (1, Verdict::Failed(FailureKind::Timeout, 0))
        );
        let (tried, v) = drive(SearchPolicy::ContinueOnFailure, &[timeout, NxDomain]);
        assert_eq!(
            (tried.len(), v),
            (2, Verdict::Failed(FailureKind::Timeout, 0))
        );
        // Continue policy: a later answer is still an answer.
        let (_, v) = drive(SearchPolicy::ContinueOnFailure, &[timeout, Answer]);
        assert_eq!(v, Verdict::Answered(1));
        // Kubernetes: the first search name times out, the bare name would be NXDOMAIN.
        let (tried, v) = drive(SearchPolicy::StopOnFailure, &[NxDomain, timeout, NxDomain]);
        assert_eq!(
            (tried.len(), v),
            (2, Verdict::Failed(FailureKind::Timeout, 1))
        );
        let (_, v) = drive(SearchPolicy::StopOnFailure, &[NxDomain, NoData, NxDomain]);
        assert_eq!(v, Verdict::NotFound { nodata: true });
    }
}
