//! The war stories: a lost packet must never become "no such host" nor another name's address.

use std::time::Duration;

use stubborn::{ErrorKind, FailureKind, Outcome, SearchPolicy};

use crate::util::{config, faultdns, resolver, timed};

const SEARCH: &str = "in.our.internal.domain";

/// dots >= ndots: `cloudflare.com` dropped at the server, `cloudflare.com.in.our.internal.domain`
/// NXDOMAIN. glibc walks on after the timeout; stubborn stops with a timeout and never asks the
/// search name.
#[tokio::test]
async fn dropped_name_times_out_and_search_name_is_never_asked() {
    let server = faultdns(&["drop name=cloudflare.com."]).await;
    let r = resolver(config(vec![server.addr()]).with_search(vec![SEARCH.into()]));
    let (result, elapsed) = timed(r.lookup_ip("cloudflare.com")).await;
    let e = result.expect_err("the name was dropped");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(!e.is_not_found() && e.is_temporary());
    assert_eq!(
        e.to_string(),
        format!(
            "timed out resolving cloudflare.com. after 3 attempts over 1 server ({:.2} s)",
            e.elapsed().as_secs_f64()
        ),
        "A and AAAA, 3 attempts each (counted per family)"
    );
    // About attempts x timeout: 3 x 250 ms.
    assert!(elapsed >= Duration::from_millis(740), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(
        server.queries_for("cloudflare.com.in.our.internal.domain."),
        0
    );
    assert_eq!(server.queries_for("cloudflare.com."), 6);
    assert_eq!(e.trace().len(), 1);
    assert_eq!(e.trace()[0].outcome, Outcome::Failed(FailureKind::Timeout));
}

/// The same with the continue policy: the search name is asked and is NXDOMAIN, and the error is
/// still the timeout, never not-found.
#[tokio::test]
async fn continue_policy_still_reports_the_timeout() {
    let server = faultdns(&["drop name=cloudflare.com."]).await;
    let r = resolver(
        config(vec![server.addr()])
            .with_search(vec![SEARCH.into()])
            .with_search_policy(SearchPolicy::ContinueOnFailure),
    );
    let e = r.lookup_ip("cloudflare.com").await.expect_err("dropped");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(!e.is_not_found());
    assert_eq!(
        server.queries_for("cloudflare.com.in.our.internal.domain."),
        2
    );
    let outcomes: Vec<Outcome> = e.trace().iter().map(|t| t.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Failed(FailureKind::Timeout), Outcome::NxDomain]
    );
    assert_eq!(
        e.failure().unwrap().candidate().unwrap().to_string(),
        "cloudflare.com."
    );
}

/// Where glibc returns the address of `name.search.domain` after the name timed out, stubborn
/// (default policy) returns the timeout; the opt-in continue policy returns the search name's
/// answer, and says which name answered.
#[tokio::test]
async fn existing_search_name_is_not_returned_by_default() {
    let server = faultdns(&["drop name=intranet."]).await;
    let base = config(vec![server.addr()])
        .with_search(vec![SEARCH.into()])
        .with_ndots(0);
    let r = resolver(base.clone());
    let e = r
        .lookup_ip("intranet")
        .await
        .expect_err("the bare name is dropped");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(server.queries_for("intranet.in.our.internal.domain."), 0);
    let r = resolver(base.with_search_policy(SearchPolicy::ContinueOnFailure));
    let answer = r
        .lookup_ip("intranet")
        .await
        .expect("the search name answers");
    assert_eq!(
        answer.name().to_string(),
        "intranet.in.our.internal.domain."
    );
    assert_eq!(
        answer.ips(),
        ["10.1.2.3".parse::<std::net::IpAddr>().unwrap()]
    );
}

/// Kubernetes: ndots:5, a short name, the first search name dropped. glibc then asks the bare
/// name and returns its NXDOMAIN; stubborn stops with a timeout and asks nothing else.
#[tokio::test]
async fn kubernetes_shape_times_out_without_asking_the_rest() {
    let server = faultdns(&["drop name=myservice.default.svc.cluster.local."]).await;
    let search = [
        "default.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
    ];
    let r = resolver(
        config(vec![server.addr()])
            .with_search(search.iter().map(|s| s.to_string()).collect())
            .with_ndots(5),
    );
    let (result, elapsed) = timed(r.lookup_ip("myservice")).await;
    let e = result.expect_err("dropped");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(!e.is_not_found());
    assert!(
        e.to_string()
            .starts_with("timed out resolving myservice.default.svc.cluster.local.")
    );
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert_eq!(server.queries_for("myservice."), 0);
    assert_eq!(server.queries_for("myservice.svc.cluster.local."), 0);
    assert_eq!(server.queries_for("myservice.cluster.local."), 0);
    // Continue policy: everything else is NXDOMAIN, the error is still the timeout.
    let r = resolver(
        config(vec![server.addr()])
            .with_search(search.iter().map(|s| s.to_string()).collect())
            .with_ndots(5)
            .with_search_policy(SearchPolicy::ContinueOnFailure),
    );
    let e = r.lookup_ip("myservice").await.expect_err("dropped");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.trace().len(), 4);
    assert!(server.queries_for("myservice.") > 0);
}

/// Not-found only when every candidate said so.
#[tokio::test]
async fn not_found_when_every_candidate_is_nxdomain_or_nodata() {
    let server = faultdns(&[]).await;
    let r = resolver(config(vec![server.addr()]).with_search(vec![SEARCH.into()]));
    let e = r
        .lookup_ip("nosuch.example.com")
        .await
        .expect_err("no such name");
    assert_eq!(e.kind(), ErrorKind::NxDomain, "{e}");
    assert!(e.is_not_found() && !e.is_temporary());
    assert_eq!(e.trace().len(), 2);
    assert!(e.to_string().starts_with(
        "nosuch.example.com does not exist: nxdomain for nosuch.example.com., \
         nosuch.example.com.in.our.internal.domain."
    ));
    // v4only has an A record and no AAAA: NODATA for AAAA, and the search name is NXDOMAIN.
    let e = r
        .lookup("v4only.example.com", stubborn::RecordType::AAAA)
        .await
        .expect_err("nodata");
    assert_eq!(e.kind(), ErrorKind::NoData, "{e}");
    assert!(e.is_not_found());
}

/// The war story with the real defaults (1 s per attempt, 5 attempts, 5 s deadline), in
/// tokio's paused time: the dropped name costs exactly the 5 s budget, and the search name is
/// never asked. (Paused time jumps ahead whenever the runtime idles, which is harmless here:
/// the server never answers.)
#[tokio::test(start_paused = true)]
async fn war_story_with_default_timers() {
    let server = faultdns(&["drop name=cloudflare.com."]).await;
    let r = resolver(
        stubborn::Config::new(vec![server.addr()])
            .with_search(vec![SEARCH.into()])
            .with_hosts_file(None),
    );
    let start = tokio::time::Instant::now();
    let e = r.lookup_ip("cloudflare.com").await.expect_err("dropped");
    let elapsed = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_millis(5010),
        "{elapsed:?}"
    );
    assert_eq!(
        e.to_string(),
        "timed out resolving cloudflare.com. after 5 attempts over 1 server (5.00 s)"
    );
    // Each family: 5 attempts of 1 s; inside each, re-sends at the retransmission timeout
    // (300 ms before any reply was seen, backing off); the last attempt is cut by the deadline.
    let queries = &e.trace()[0].queries;
    for family in [stubborn::RecordType::A, stubborn::RecordType::AAAA] {
        for attempt in 0..5u8 {
            let of: Vec<_> = queries
                .iter()
                .filter(|q| q.record_type == family && q.attempt == attempt)
                .collect();
            assert!(
                (1..=4).contains(&of.len()),
                "{family} attempt {attempt}: {of:?}"
            );
            assert!(!of[0].resend && of[1..].iter().all(|q| q.resend));
            let expected = if attempt == 4 {
                stubborn::QueryResult::Deadline
            } else {
                stubborn::QueryResult::Timeout
            };
            assert!(of.iter().all(|q| q.result == expected), "{of:?}");
            assert_eq!(of[0].sent_at, Duration::from_secs(u64::from(attempt)));
        }
    }
    assert!(queries.len() > 10, "re-sends inside attempts: {queries:?}");
    assert_eq!(
        server.queries_for("cloudflare.com.in.our.internal.domain."),
        0
    );
}
