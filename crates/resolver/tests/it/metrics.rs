//! Metrics through the `metrics` facade (feature `metrics`), as an exporter sees them, and the
//! counters of `cache_stats`.

#![cfg(feature = "metrics")]

use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

type Snapshot = Vec<(
    CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;
use stubborn::{Config, Resolver};

/// The value of counter `name` with `labels` (all of them), if emitted.
fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Option<u64> {
    snapshot.iter().find_map(|(key, _, _, value)| {
        let key = key.key();
        let wanted = key.name() == name
            && labels
                .iter()
                .all(|(k, v)| key.labels().any(|l| l.key() == *k && l.value() == *v));
        match value {
            DebugValue::Counter(n) if wanted => Some(*n),
            _ => None,
        }
    })
}

#[test]
fn cache_query_and_lookup_metrics_reach_the_recorder() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server_addr = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let server = crate::util::faultdns(&["drop name=v4only.example.com. first=1"]).await;
            let config = Config::new(vec![server.addr()]).with_hosts_file(None);
            let r = Resolver::new(config).expect("valid");
            r.lookup_ip("www.example.com").await.expect("answer");
            r.lookup_ip("www.example.com").await.expect("cached");
            r.lookup_ip("v4only.example.com")
                .await
                .expect("after a re-send");
            let _ = r.lookup_ip("nope.example.com").await;
            let stats = r.cache_stats();
            assert_eq!((stats.hits, stats.misses), (2, 6));
            server.addr()
        })
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let server = server_addr.to_string();
    assert_eq!(
        counter(
            &snapshot,
            "stubborn_cache_hits_total",
            &[("kind", "answer")]
        ),
        Some(2)
    );
    assert_eq!(
        counter(&snapshot, "stubborn_cache_misses_total", &[]),
        Some(6)
    );
    assert!(counter(&snapshot, "stubborn_queries_total", &[("server", &server)]).unwrap() >= 7);
    assert!(counter(&snapshot, "stubborn_resends_total", &[("server", &server)]).unwrap() >= 1);
    assert_eq!(
        counter(&snapshot, "stubborn_lookups_total", &[("result", "answer")]),
        Some(3)
    );
    assert_eq!(
        counter(
            &snapshot,
            "stubborn_lookups_total",
            &[("result", "nxdomain")]
        ),
        Some(1)
    );
    let latency = snapshot.iter().find_map(|(key, _, _, value)| match value {
        DebugValue::Histogram(samples) if key.key().name() == "stubborn_query_duration_seconds" => {
            Some(samples.len())
        }
        _ => None,
    });
    assert!(latency.unwrap_or(0) >= 6, "reply latencies recorded");
}
