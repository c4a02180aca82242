//! Spoofing and garbage: replies that are not the reply are ignored and counted, and the attempt
//! keeps waiting for the real one.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use stubborn::{QueryResult, RecordType};

use crate::util::{Emit, Responder, bytes, config, faultdns, reply, resolver, timed};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// faultdns answers the first query with a wrong ID: ignored, counted against the server (no
/// query of ours has that ID on the socket), and the retry answers.
#[tokio::test]
async fn wrong_id_reply_is_ignored() {
    let server = faultdns(&["wrong-id name=www.example.com. first=1"]).await;
    let r = resolver(config(vec![server.addr()]));
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the retry answers");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    let attempts = &answer.trace()[0].queries;
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (attempts[0].result, attempts[0].ignored),
        (QueryResult::Timeout, 0)
    );
    assert_eq!(attempts[1].result, QueryResult::Answer);
    assert!(
        elapsed >= Duration::from_millis(240),
        "the first attempt waited: {elapsed:?}"
    );
    assert_eq!(r.server_stats()[0].ignored, 1);
}

/// faultdns answers the first query with bytes that do not parse: the attempt does not end,
/// it runs to its timeout and the retry answers.
#[tokio::test]
async fn malformed_reply_does_not_end_the_attempt() {
    let server = faultdns(&["malformed name=www.example.com. first=1"]).await;
    let r = resolver(config(vec![server.addr()]));
    let (answer, elapsed) = timed(r.lookup("www.example.com", RecordType::A)).await;
    let answer = answer.expect("the retry answers");
    assert_eq!(answer.ips(), [ip("192.0.2.10")]);
    let attempts = &answer.trace()[0].queries;
    assert_eq!(
        (attempts[0].result, attempts[0].ignored),
        (QueryResult::Timeout, 1)
    );
    assert!(
        attempts[1].sent_at >= Duration::from_millis(240),
        "{:?}",
        attempts[1].sent_at
    );
    assert!(elapsed >= Duration::from_millis(240), "{elapsed:?}");
    assert_eq!(r.server_stats()[0].ignored, 1);
}

/// Within one attempt: a forged reply from another port (right ID, wrong address), a wrong-ID
/// reply, a reply to another question and garbage, then the real reply. Only the real one is
/// taken, in the first attempt, well before its timeout.
#[tokio::test]
async fn forged_replies_in_the_same_attempt_are_ignored() {
    let responder = Responder::start(|query, _| {
        let forged = reply(query, ResponseCode::NoError, Some([203, 0, 113, 66]));
        let mut wrong_id = forged.clone();
        wrong_id.metadata.id = query.metadata.id.wrapping_add(1);
        let mut other_question = forged.clone();
        other_question.queries[0].set_name("evil.example.".parse().unwrap());
        let mut garbage = bytes(&forged);
        garbage.truncate(20);
        vec![
            Emit::FromOtherPort(bytes(&forged)),
            Emit::Bytes(bytes(&wrong_id)),
            Emit::Bytes(bytes(&other_question)),
            Emit::Bytes(garbage),
            Emit::Pause(Duration::from_millis(30)),
            Emit::Bytes(bytes(&reply(
                query,
                ResponseCode::NoError,
                Some([192, 0, 2, 1]),
            ))),
        ]
    })
    .await;
    let r = resolver(config(vec![responder.addr]).with_timeout(std::time::Duration::from_secs(1)));
    let (answer, elapsed) = timed(r.lookup("real.example", RecordType::A)).await;
    let answer = answer.expect("the real reply is taken");
    assert_eq!(answer.ips(), [ip("192.0.2.1")]);
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    let attempts = &answer.trace()[0].queries;
    assert_eq!(attempts.len(), 1, "answered in the first attempt");
    // The other-port datagram never reaches a connected socket; the three others are counted
    // against the server, and the two that carried the query's ID (another question, garbage)
    // against the query too.
    assert_eq!(attempts[0].ignored, 2);
    assert_eq!(r.server_stats()[0].ignored, 3);
}

/// The ID is fresh and random per query, and an attempt that timed out retires its socket, so
/// the next attempt leaves from another port.
#[tokio::test]
async fn ids_and_ports_differ_between_attempts() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let responder = Responder::start(move |query, from| {
        log.lock().unwrap().push((query.metadata.id, from.port()));
        Vec::new()
    })
    .await;
    let r = resolver(
        config(vec![responder.addr])
            .with_timeout(Duration::from_millis(20))
            .with_attempts(10)
            .with_deadline(Duration::from_secs(2)),
    );
    let e = r
        .lookup("x.example", RecordType::A)
        .await
        .expect_err("no replies");
    assert_eq!(e.kind(), stubborn::ErrorKind::Timeout);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 10);
    let distinct = |mut v: Vec<u16>| {
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    // Ten random 16-bit IDs collide with probability ~0.07%; allow one collision.
    assert!(
        distinct(seen.iter().map(|s| s.0).collect()) >= 9,
        "IDs repeat: {seen:?}"
    );
    // Retired sockets stay open while their queries wait, so every attempt has its own port.
    assert_eq!(
        distinct(seen.iter().map(|s| s.1).collect()),
        10,
        "ports repeat: {seen:?}"
    );
    // The trace records each query's ID, in sending order.
    let traced: Vec<u16> = e.trace()[0].queries.iter().map(|a| a.id).collect();
    assert_eq!(traced, seen.iter().map(|s| s.0).collect::<Vec<_>>());
}
