use super::*;
use crate::policy::walk::tests::outcome;
use proptest::prelude::*;

fn answered(ip: [u8; 4]) -> Got {
    let name = Name::from_ascii("www.example.com.").unwrap();
    Got::Answer {
        answered: Box::new(Answered {
            canonical: name.clone(),
            records: vec![Record::from_rdata(
                name,
                5,
                RData::A(A::from(std::net::Ipv4Addr::from(ip))),
            )],
            chain: vec![],
        }),
        server: "127.0.0.1:53".parse().unwrap(),
    }
}

fn failed(kind: FailureKind) -> Got {
    Got::Failed { kind, io: None }
}

fn outcome_of(settled: Vec<Option<Got>>) -> Outcome {
    let types = [RecordType::A, RecordType::AAAA];
    merge(types.into_iter().zip(settled).collect()).0
}

#[test]
fn merge_prefers_answers_then_failures_then_not_found() {
    use Got::{NoData, NxDomain};
    let t = FailureKind::Timeout;
    assert_eq!(
        outcome_of(vec![Some(answered([192, 0, 2, 1])), Some(failed(t))]),
        Outcome::Answer
    );
    assert_eq!(
        outcome_of(vec![Some(failed(t)), Some(answered([192, 0, 2, 1]))]),
        Outcome::Answer
    );
    let both = merge(vec![
        (RecordType::A, Some(answered([192, 0, 2, 1]))),
        (RecordType::AAAA, Some(answered([192, 0, 2, 2]))),
    ]);
    assert_eq!(both.1.unwrap().extra.len(), 1, "both families' records");
    assert_eq!(
        outcome_of(vec![Some(NoData), Some(failed(t))]),
        Outcome::Failed(t)
    );
    assert_eq!(
        outcome_of(vec![Some(failed(FailureKind::ServFail)), Some(NxDomain)]),
        Outcome::Failed(FailureKind::ServFail)
    );
    assert_eq!(
        outcome_of(vec![Some(NxDomain), Some(NxDomain)]),
        Outcome::NxDomain
    );
    assert_eq!(
        outcome_of(vec![Some(NxDomain), Some(NoData)]),
        Outcome::NoData
    );
    assert_eq!(
        outcome_of(vec![Some(NoData), Some(NoData)]),
        Outcome::NoData
    );
    // A family left unsettled by the resolution delay never makes a candidate not found.
    assert_eq!(
        outcome_of(vec![Some(answered([192, 0, 2, 1])), None]),
        Outcome::Answer
    );
    assert_eq!(outcome_of(vec![Some(NxDomain), None]), Outcome::NoData);
}

/// Drives the walk over per-candidate outcomes as `Inner::lookup` does, and concludes.
fn lookup(policy: SearchPolicy, outcomes: &[Outcome]) -> Result<Answer, Error> {
    let mut walk = Walk::new(policy);
    let (mut traces, mut ios, mut found) = (Vec::new(), Vec::new(), None);
    for (i, &outcome) in outcomes.iter().enumerate() {
        traces.push(CandidateTrace {
            name: Name::from_ascii(format!("c{i}.example.")).unwrap(),
            outcome,
            queries: Vec::new(),
            cache: Vec::new(),
            elapsed: Duration::ZERO,
        });
        ios.push(None);
        if outcome == Outcome::Answer {
            let (_, answer, _) = merge(vec![(RecordType::A, Some(answered([192, 0, 2, 1])))]);
            found = answer;
        }
        if walk.record(outcome) == Step::Stop {
            break;
        }
    }
    let details = Details {
        asked: "c",
        ask: Ask::Ip,
        elapsed: Duration::ZERO,
    };
    conclude(&walk, traces, ios, found, details)
}

proptest! {
    /// The iron rule end to end through `conclude`: not-found only if every candidate said
    /// so; an error after a failure is that failure; an answer is the last candidate's.
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
                    Outcome::Failed(kind) => Some(crate::ErrorKind::from(*kind)),
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
