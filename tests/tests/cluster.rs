//! The simulated cluster: 8 hosts, Unbound (and faultdns) in the resolver namespace, loss on
//! two links; `dnsload report` must find the lossy hosts (see `stubborn_tests::cluster`).

use std::path::Path;

use stubborn_tests::cluster::{ClusterConfig, simulate};
use stubborn_tests::netns::check_capabilities;
use stubborn_tests::servers::unbound_available;
use stubborn_tests::{assert_clean, require, serial};

#[test]
fn cluster_report_ranks_the_lossy_hosts_first_with_loss_estimates() {
    let _serial = serial();
    if require(
        "cluster",
        check_capabilities().and_then(|()| unbound_available()),
    )
    .is_none()
    {
        return;
    }
    let config = ClusterConfig::default();
    let run = simulate(&config, Path::new(env!("CARGO_BIN_EXE_lab-dnsload"))).expect("cluster");
    println!("{}\n{}", run.report_text, run.comparison());

    run.verdict(&config).expect("cluster verdict");
    // Every host ran and every file was read: events, summary and histogram log per host.
    assert_eq!(run.report["files"], 3 * config.hosts as u64);
    assert_eq!(run.report["runs"], config.hosts as u64);
    let merged = run.report["merged_count"].as_u64().unwrap();
    let lookups: u64 = run.hosts.iter().map(|h| h.queries).sum();
    assert_eq!(merged, lookups, "the merged histogram holds every lookup");
    for h in &run.hosts {
        // Each failed raw lookup is one reply the link dropped (or a reply later than the
        // timeout, which a clean host never had): dnsload's count matches nftables'.
        let lost: u64 = h.per_server.iter().map(|(_, _, lost)| lost).sum();
        assert_eq!(lost, h.failures, "{h:?}");
        assert!(
            h.failures <= h.dropped && h.dropped <= h.failures + config.workers as u64,
            "{}: dnsload counted {} lost, nftables dropped {}",
            h.label,
            h.failures,
            h.dropped
        );
        // The loss is the link's, not a server's: both servers lost replies on a lossy link.
        if h.loss > 0.0 {
            assert!(
                h.per_server.len() == 2 && h.per_server.iter().all(|(_, _, lost)| *lost > 0),
                "{h:?}"
            );
        }
    }
    drop(run);
    assert_clean();
}
