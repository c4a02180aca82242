//! The iron rule end to end: random server behaviour per candidate name, real lookups against
//! faultdns, compared with the walk's specification (docs/semantics.md, "The iron rule").

use std::time::Duration;

use proptest::prelude::*;
use stubborn::{Config, ErrorKind, RecordType, Resolver, SearchPolicy};

/// What the server does for one candidate name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Answer,
    NoData,
    NxDomain,
    Drop,
    ServFail,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        Just(Behaviour::Answer),
        Just(Behaviour::NoData),
        Just(Behaviour::NxDomain),
        Just(Behaviour::Drop),
        Just(Behaviour::ServFail),
    ]
}

/// The specified result: `Ok(index of the answering candidate)` or `Err(kind)`, and how many
/// candidates are asked.
fn expected(policy: SearchPolicy, behaviours: &[Behaviour]) -> (Result<usize, ErrorKind>, usize) {
    let mut first_failure = None;
    let mut nodata = false;
    for (i, b) in behaviours.iter().enumerate() {
        let failure = match b {
            Behaviour::Answer => return (Ok(i), i + 1),
            Behaviour::NoData => {
                nodata = true;
                continue;
            }
            Behaviour::NxDomain => continue,
            Behaviour::Drop => ErrorKind::Timeout,
            Behaviour::ServFail => ErrorKind::ServFail,
        };
        first_failure.get_or_insert(failure);
        if policy == SearchPolicy::StopOnFailure {
            return (Err(failure), i + 1);
        }
    }
    let kind = first_failure.unwrap_or(if nodata {
        ErrorKind::NoData
    } else {
        ErrorKind::NxDomain
    });
    (Err(kind), behaviours.len())
}

/// Candidate `i` of `probe` with search domains `s0.test` ... : `probe.s{i}.test.`, the bare
/// name last (ndots 1, no dot in the name).
fn candidate(i: usize, n: usize) -> String {
    if i + 1 == n {
        "probe.".to_string()
    } else {
        format!("probe.s{i}.test.")
    }
}

async fn run(policy: SearchPolicy, behaviours: Vec<Behaviour>) -> Result<(), TestCaseError> {
    let n = behaviours.len();
    let mut builder = faultdns::Server::builder().seed(1);
    for (i, b) in behaviours.iter().enumerate() {
        let name = candidate(i, n);
        builder = match b {
            Behaviour::Answer => builder.record(&format!("{name} 60 A 192.0.2.{i}")),
            Behaviour::NoData => builder.record(&format!("{name} 60 TXT \"no address\"")),
            Behaviour::NxDomain => Ok(builder),
            Behaviour::Drop => builder.rule(&format!("drop name={name}")),
            Behaviour::ServFail => builder.rule(&format!("servfail name={name}")),
        }
        .expect("valid fixture");
    }
    let server = builder.start().await.expect("faultdns starts");
    let search = (0..n - 1).map(|i| format!("s{i}.test")).collect();
    let config = Config::new(vec![server.addr()])
        .with_search(search)
        .with_timeout(Duration::from_millis(40))
        .with_attempts(2)
        .with_search_policy(policy)
        .with_hosts_file(None);
    let r = Resolver::new(config).expect("valid");
    let result = r.lookup("probe", RecordType::A).await;
    let (want, asked) = expected(policy, &behaviours);
    match (&result, want) {
        (Ok(answer), Ok(i)) => prop_assert_eq!(answer.name().to_string(), candidate(i, n)),
        (Err(e), Err(kind)) => {
            prop_assert_eq!(e.kind(), kind, "{}", e);
            let failed = e.trace().iter().any(|t| !t.outcome.is_not_found());
            prop_assert!(
                !(e.is_not_found() && failed),
                "not-found after a failure: {}",
                e
            );
        }
        (got, want) => prop_assert!(
            false,
            "got {:?}, want {:?}",
            got.as_ref().map(|a| a.name()),
            want
        ),
    }
    let traced = match &result {
        Ok(answer) => answer.trace().len(),
        Err(e) => e.trace().len(),
    };
    prop_assert_eq!(traced, asked, "one trace entry per candidate asked");
    for i in 0..asked {
        prop_assert!(
            server.queries_for(&candidate(i, n)) > 0,
            "candidate {} not asked",
            i
        );
    }
    for i in asked..n {
        prop_assert_eq!(
            server.queries_for(&candidate(i, n)),
            0,
            "candidate {} asked",
            i
        );
    }
    server.shutdown().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lookups_follow_the_walk_specification(
        continue_on_failure in any::<bool>(),
        behaviours in prop::collection::vec(behaviour(), 1..5),
    ) {
        let policy = if continue_on_failure {
            SearchPolicy::ContinueOnFailure
        } else {
            SearchPolicy::StopOnFailure
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run(policy, behaviours))?;
    }
}
