//! The simulated cluster: 8 hosts, Unbound (and faultdns) in the resolver namespace, loss on
//! two links; `dnsload report` must find the lossy hosts (see `stubborn_tests::cluster`).

use std::process::{Command, Stdio};

use stubborn_tests::cluster::{ClusterConfig, ClusterRun};
use stubborn_tests::netns::{check_capabilities, named_leftovers};
use stubborn_tests::runs::Scratch;
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
    // The binary scripts/cluster-sim.sh runs, with its defaults, keeping its files.
    let config = ClusterConfig::default();
    let out = Scratch::new("stb-cluster-test").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cluster-sim"))
        .arg("--out")
        .arg(out.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cluster-sim");
    let sim_pid = child.id();
    let sim = child.wait_with_output().expect("cluster-sim");
    let stdout = String::from_utf8_lossy(&sim.stdout);
    stubborn_tests::show(&stdout);
    assert!(
        sim.status.success(),
        "cluster-sim failed ({}): {}",
        sim.status,
        String::from_utf8_lossy(&sim.stderr)
    );
    let run = ClusterRun::load(out.path()).expect("cluster-sim output files");
    // What it printed is dnsload's report and the loss table.
    assert!(stdout.contains(&run.report_text), "report not printed");
    assert!(stdout.contains(&run.comparison()), "loss table not printed");
    assert!(stdout.contains("Errors per host (most failing first):"));

    run.verdict(&config).expect("cluster verdict");
    // Every host ran and every file was read: events, summary and histogram log per host.
    assert_eq!(run.report["files"], 3 * config.hosts as u64);
    assert_eq!(run.report["runs"], config.hosts as u64);
    let merged = run.report["merged_count"].as_u64().unwrap();
    let lookups: u64 = run.hosts.iter().map(|h| h.queries).sum();
    assert_eq!(merged, lookups, "the merged histogram holds every lookup");
    for h in &run.hosts {
        // A raw lookup fails only by losing its one reply (a clean host never lost one), so
        // dnsload's lost count is its share of what nftables dropped on the link.
        let lost: u64 = h.per_server.iter().map(|(_, _, lost)| lost).sum();
        assert_eq!(lost, h.failures, "{h:?}");
        assert!(h.failures <= h.dropped, "{h:?}");
        if h.loss == 0.0 {
            assert_eq!(h.dropped, 0, "{h:?}");
        } else {
            // nftables' own count is the link's real loss: the configured share, within 2x.
            let real = h.dropped as f64 / h.carried as f64;
            assert!(
                (h.loss / 2.0..=h.loss * 2.0).contains(&real),
                "{}: the link dropped {real:.3}, configured {}",
                h.label,
                h.loss
            );
        }
        // The loss is the link's, not a server's: both servers lost replies on a lossy link.
        if h.loss > 0.0 {
            assert!(
                h.per_server.len() == 2 && h.per_server.iter().all(|(_, _, lost)| *lost > 0),
                "{h:?}"
            );
        }
    }
    // The picture: a heat map of failures per host over time, hosts in ranked order, every
    // failure of a lossy host in a cell, no cell for a clean one.
    let svg = std::fs::read_to_string(out.path().join("report.svg")).expect("report.svg");
    let (rows, cells) = heatmap(&svg);
    assert_eq!(rows, run.ranking(), "heat map rows in ranked order");
    let columns = run.report["host_time"]["columns"].as_u64().unwrap();
    assert!(columns >= 10, "{columns} columns over the run");
    for h in &run.hosts {
        let drawn: Vec<&(String, u64, u64)> = cells.iter().filter(|c| c.0 == h.label).collect();
        assert_eq!(
            drawn.iter().map(|c| c.2).sum::<u64>(),
            h.failures,
            "{}: every failure drawn",
            h.label
        );
        assert!(drawn.iter().all(|c| c.1 < columns));
        if h.loss > 0.0 {
            // Loss all along the run: failures in many columns, not one blot.
            assert!(drawn.len() as u64 >= columns / 2, "{}: {drawn:?}", h.label);
        } else {
            assert!(drawn.is_empty(), "clean host {} drawn: {drawn:?}", h.label);
        }
    }
    // cluster-sim checked its own processes, veths and tables; its namespaces are gone too.
    assert_eq!(named_leftovers(sim_pid), Vec::<String>::new());
    drop(run);
    assert_clean();
}

/// The heat map of `dnsload report --svg`, parsed as XML: host rows top to bottom, and the
/// cells with failures as (host, column, failures).
fn heatmap(svg: &str) -> (Vec<String>, Vec<(String, u64, u64)>) {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let group = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("heatmap"))
        .expect("a heat map");
    let mut rows = Vec::new();
    let mut cells = Vec::new();
    for n in group.descendants() {
        match n.attribute("class") {
            Some("host") => rows.push(
                n.children()
                    .find(|c| c.has_tag_name("title"))
                    .and_then(|t| t.text())
                    .expect("a host label")
                    .to_string(),
            ),
            Some("cell") => cells.push((
                n.attribute("data-host").expect("data-host").to_string(),
                n.attribute("data-column")
                    .expect("data-column")
                    .parse()
                    .unwrap(),
                n.attribute("data-failures")
                    .expect("data-failures")
                    .parse()
                    .unwrap(),
            )),
            _ => {}
        }
    }
    (rows, cells)
}
