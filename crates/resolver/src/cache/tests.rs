use super::*;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::{A, CNAME, TXT};
use std::net::Ipv4Addr;

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(ip))))
}

fn answer(records: Vec<Record>) -> Held {
    Held::Answer {
        answered: Answered {
            canonical: records[0].name.clone(),
            records,
            chain: Vec::new(),
        },
        server: "127.0.0.1:53".parse().unwrap(),
    }
}

fn cache(config: CacheConfig) -> Cache {
    Cache::new(config)
}

fn ttls(stored: &Stored, now: Instant) -> Vec<u32> {
    let (answered, _) = stored.answered_at(now).expect("an answer");
    answered.records.iter().map(|r| r.ttl).collect()
}

#[tokio::test(start_paused = true)]
async fn answers_are_fresh_for_their_smallest_ttl_then_stale_then_gone() {
    let c = cache(CacheConfig::new().with_serve_stale(Some(Duration::from_secs(100))));
    let n = name("www.example.com.");
    let t0 = Instant::now();
    let records = vec![
        a("www.example.com.", 60, [192, 0, 2, 1]),
        a("www.example.com.", 30, [192, 0, 2, 2]),
    ];
    c.store(&n, RecordType::A, answer(records), None, t0);
    match c.get(&n, RecordType::A, t0 + Duration::from_secs(10)) {
        Lookup::Fresh(stored) => {
            assert_eq!(stored.ttl, Duration::from_secs(30));
            // Counted down: 20 s left (the record that had 60 s is capped at the entry's).
            assert_eq!(ttls(&stored, t0 + Duration::from_secs(10)), [20, 20]);
            assert_eq!(ttls(&stored, t0 + Duration::from_millis(29_600)), [1, 1]);
        }
        other => panic!("{other:?}"),
    }
    // Other types and names are other entries; names compare case-insensitively.
    assert!(matches!(
        c.get(&n, RecordType::AAAA, t0),
        Lookup::Miss { stale: None }
    ));
    assert!(matches!(
        c.get(&name("WWW.Example.COM."), RecordType::A, t0),
        Lookup::Fresh(_)
    ));
    // Expired: a miss, with the stale answer to fall back on, whose records get TTL 30.
    match c.get(&n, RecordType::A, t0 + Duration::from_secs(30)) {
        Lookup::Miss {
            stale: Some(stored),
        } => {
            assert_eq!(
                ttls(&stored, t0 + Duration::from_secs(30)),
                [STALE_TTL, STALE_TTL]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(130)),
        Lookup::Miss { stale: Some(_) }
    ));
    // Past the stale window: nothing.
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(131)),
        Lookup::Miss { stale: None }
    ));
}

#[tokio::test(start_paused = true)]
async fn ttls_are_clamped_and_never_overflow() {
    let n = name("x.example.");
    let t0 = Instant::now();
    let c = cache(CacheConfig::new());
    // TTL 0: not cached by default (RFC 1035), and it replaces what was there.
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("x.example.", 60, [192, 0, 2, 1])]),
        None,
        t0,
    );
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("x.example.", 0, [192, 0, 2, 1])]),
        None,
        t0,
    );
    assert!(matches!(
        c.get(&n, RecordType::A, t0),
        Lookup::Miss { stale: None }
    ));
    // 2^31-1 is clamped to the one-day maximum; values with the top bit set count as 0.
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("x.example.", i32::MAX as u32, [192, 0, 2, 1])]),
        None,
        t0,
    );
    match c.get(&n, RecordType::A, t0) {
        Lookup::Fresh(stored) => assert_eq!(stored.ttl, DEFAULT_MAX_TTL),
        other => panic!("{other:?}"),
    }
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("x.example.", u32::MAX, [192, 0, 2, 1])]),
        None,
        t0,
    );
    assert!(matches!(
        c.get(&n, RecordType::A, t0),
        Lookup::Miss { stale: None }
    ));
    // A minimum raises short TTLs (and TTL 0).
    let c =
        cache(CacheConfig::new().with_ttl_bounds(Duration::from_secs(5), Duration::from_secs(10)));
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("x.example.", 0, [192, 0, 2, 1])]),
        None,
        t0,
    );
    match c.get(&n, RecordType::A, t0 + Duration::from_secs(4)) {
        Lookup::Fresh(stored) => assert_eq!(stored.ttl, Duration::from_secs(5)),
        other => panic!("{other:?}"),
    }
    // The chain's TTLs count too.
    let mut data = answer(vec![a("edge.example.", 60, [192, 0, 2, 1])]);
    if let Held::Answer { answered, .. } = &mut data {
        answered.chain.push(Record::from_rdata(
            name("x.example."),
            7,
            RData::CNAME(CNAME(name("edge.example."))),
        ));
    }
    c.store(&n, RecordType::A, data, None, t0);
    match c.get(&n, RecordType::A, t0) {
        Lookup::Fresh(stored) => assert_eq!(stored.ttl, Duration::from_secs(7)),
        other => panic!("{other:?}"),
    }
    // Bounds from the setters.
    let bounds =
        CacheConfig::new().with_ttl_bounds(Duration::from_secs(100), Duration::from_secs(10));
    assert_eq!(
        bounds.ttl_bounds(),
        (Duration::from_secs(10), Duration::from_secs(10))
    );
    let huge = CacheConfig::new().with_ttl_bounds(Duration::ZERO, Duration::MAX);
    assert_eq!(huge.ttl_bounds().1, MAX_TTL_BOUND);
}

#[tokio::test(start_paused = true)]
async fn negative_answers_last_the_soa_minimum() {
    let n = name("nope.example.");
    let t0 = Instant::now();
    let c = cache(CacheConfig::new());
    c.store(&n, RecordType::A, Held::NxDomain, Some(30), t0);
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(29)),
        Lookup::Fresh(s) if matches!(s.data, Held::NxDomain)
    ));
    // Expired negative answers are never served stale.
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(30)),
        Lookup::Miss { stale: None }
    ));
    // Without a SOA: not cached (RFC 2308 §5).
    c.store(&n, RecordType::AAAA, Held::NoData, None, t0);
    assert!(matches!(
        c.get(&n, RecordType::AAAA, t0),
        Lookup::Miss { stale: None }
    ));
    // Capped at the negative maximum.
    c.store(&n, RecordType::MX, Held::NoData, Some(86_400), t0);
    match c.get(&n, RecordType::MX, t0) {
        Lookup::Fresh(stored) => assert_eq!(stored.ttl, DEFAULT_MAX_NEGATIVE_TTL),
        other => panic!("{other:?}"),
    }
    // An NXDOMAIN replaces the answer the name had: no stale answer after it.
    let c = cache(CacheConfig::new());
    c.store(
        &n,
        RecordType::A,
        answer(vec![a("nope.example.", 10, [192, 0, 2, 1])]),
        None,
        t0,
    );
    c.store(
        &n,
        RecordType::A,
        Held::NxDomain,
        Some(5),
        t0 + Duration::from_secs(20),
    );
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(30)),
        Lookup::Miss { stale: None }
    ));
    // Even one not cacheable (no SOA) replaces it.
    c.store(
        &n,
        RecordType::AAAA,
        answer(vec![a("nope.example.", 10, [192, 0, 2, 1])]),
        None,
        t0,
    );
    c.store(
        &n,
        RecordType::AAAA,
        Held::NxDomain,
        None,
        t0 + Duration::from_secs(20),
    );
    assert!(matches!(
        c.get(&n, RecordType::AAAA, t0 + Duration::from_secs(21)),
        Lookup::Miss { stale: None }
    ));
}

#[tokio::test(start_paused = true)]
async fn failures_are_remembered_briefly_and_keep_the_stale_answer() {
    let n = name("flaky.example.");
    let t0 = Instant::now();
    let c = cache(CacheConfig::new());
    c.remember_failure(&n, RecordType::A, FailureKind::Timeout, t0);
    match c.get(&n, RecordType::A, t0 + Duration::from_millis(400)) {
        Lookup::Failure { kind, age, stale } => {
            assert_eq!(kind, FailureKind::Timeout);
            assert_eq!(age, Duration::from_millis(400));
            assert!(stale.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.get(&n, RecordType::A, t0 + Duration::from_secs(1)),
        Lookup::Miss { stale: None }
    ));
    // With an answer held: the failure memory serves it stale.
    c.store(
        &n,
        RecordType::AAAA,
        answer(vec![a("flaky.example.", 10, [192, 0, 2, 1])]),
        None,
        t0,
    );
    let t1 = t0 + Duration::from_secs(15);
    c.remember_failure(&n, RecordType::AAAA, FailureKind::ServFail, t1);
    assert!(matches!(
        c.get(&n, RecordType::AAAA, t1 + Duration::from_millis(500)),
        Lookup::Failure {
            kind: FailureKind::ServFail,
            stale: Some(_),
            ..
        }
    ));
    assert!(matches!(
        c.get(&n, RecordType::AAAA, t1 + Duration::from_secs(2)),
        Lookup::Miss { stale: Some(_) }
    ));
    // Memory off: nothing remembered.
    let off = cache(CacheConfig::new().with_failure_memory(None));
    off.remember_failure(&n, RecordType::A, FailureKind::Timeout, t0);
    assert!(matches!(
        off.get(&n, RecordType::A, t0),
        Lookup::Miss { stale: None }
    ));
    // Serve-stale off: no stale answer.
    let no_stale = cache(CacheConfig::new().with_serve_stale(None));
    no_stale.store(
        &n,
        RecordType::A,
        answer(vec![a("flaky.example.", 10, [192, 0, 2, 1])]),
        None,
        t0,
    );
    assert!(matches!(
        no_stale.get(&n, RecordType::A, t0 + Duration::from_secs(11)),
        Lookup::Miss { stale: None }
    ));
}

#[test]
fn both_bounds_hold() {
    // 64 entries of ~400 bytes allowed by count, but only 8 KiB: the byte bound wins.
    let c = cache(
        CacheConfig::new()
            .with_max_entries(64)
            .with_max_bytes(8 << 10),
    );
    let t0 = Instant::now();
    let big = |i: u32| {
        let text = TXT::new(vec!["x".repeat(200)]);
        let owner = format!("n{i}.example.");
        answer(vec![Record::from_rdata(name(&owner), 60, RData::TXT(text))])
    };
    for i in 0..500 {
        let owner = format!("n{i}.example.");
        c.store(&name(&owner), RecordType::TXT, big(i), None, t0);
    }
    assert!(c.weighted_size() <= 8 << 10, "{} bytes", c.weighted_size());
    assert!(c.entry_count() < 64, "{} entries", c.entry_count());
    // Small entries: the entry bound wins (each weighs at least max_bytes / max_entries).
    let c = cache(
        CacheConfig::new()
            .with_max_entries(16)
            .with_max_bytes(1 << 20),
    );
    for i in 0..500u32 {
        let owner = format!("n{i}.example.");
        let data = answer(vec![a(&owner, 60, [192, 0, 2, 1])]);
        c.store(&name(&owner), RecordType::A, data, None, t0);
    }
    assert!(c.entry_count() <= 16, "{} entries", c.entry_count());
    assert!(c.entry_count() > 0);
    // Setters clamp.
    assert_eq!(CacheConfig::new().with_max_entries(0).max_entries(), 1);
    assert_eq!(
        CacheConfig::new().with_max_bytes(1).max_bytes(),
        MIN_MAX_BYTES
    );
    assert_eq!(
        CacheConfig::new()
            .with_stale_wait(Duration::ZERO)
            .stale_wait(),
        MIN_STALE_WAIT
    );
    assert_eq!(
        CacheConfig::new()
            .with_failure_memory(Some(Duration::from_secs(3600)))
            .failure_memory(),
        Some(MAX_FAILURE_MEMORY)
    );
}

#[test]
fn estimates_grow_with_the_records() {
    let n = name("www.example.com.");
    let one = estimate(&n, &answer(vec![a("www.example.com.", 60, [192, 0, 2, 1])]));
    let two = estimate(
        &n,
        &answer(vec![
            a("www.example.com.", 60, [192, 0, 2, 1]),
            a("www.example.com.", 60, [192, 0, 2, 2]),
        ]),
    );
    assert!(one as usize > ENTRY_OVERHEAD && two > one, "{one} {two}");
    assert_eq!(
        estimate(&n, &Held::NxDomain) as usize,
        ENTRY_OVERHEAD + n.len()
    );
}

#[test]
fn keys_ignore_case_and_tell_names_and_types_apart() {
    let k = |n: &str, t| key(&name(n), t);
    assert_eq!(
        k("WWW.Example.com.", RecordType::A),
        k("www.example.com.", RecordType::A)
    );
    assert_ne!(
        k("www.example.com.", RecordType::A),
        k("www.example.com.", RecordType::AAAA)
    );
    assert_ne!(
        k("www.example.com.", RecordType::A),
        k("www.example.com", RecordType::A)
    );
    assert_ne!(k("a.bc.", RecordType::A), k("ab.c.", RecordType::A));
    let mut seen = std::collections::HashSet::new();
    for i in 0..20_000 {
        assert!(seen.insert(k(&format!("host{i}.example."), RecordType::A)));
    }
}
