//! Three lab hosts (a full conntrack table behind a DNAT'd service address, loss on the path,
//! clean): `dnsload report` must name each one's cause (see `stubborn_tests::attribution`).

use stubborn_tests::attribution::{self, HEADROOM};
use stubborn_tests::conntrack;
use stubborn_tests::netns::check_capabilities;
use stubborn_tests::runs::dnsload_binary;
use stubborn_tests::{assert_clean, require, serial, show};

#[test]
fn report_names_local_conntrack_path_loss_and_a_clean_host() {
    let _serial = serial();
    if require(
        "attribution",
        check_capabilities().and_then(|()| conntrack::fillable()),
    )
    .is_none()
    {
        return;
    }
    let dnsload = dnsload_binary().expect("lab-dnsload");
    // STUBBORN_ATTRIBUTION_OUT=DIR keeps the files (the report in docs/cluster.md is one).
    let keep = std::env::var_os("STUBBORN_ATTRIBUTION_OUT").map(std::path::PathBuf::from);
    let run = attribution::run(&dnsload, keep.as_deref()).expect("the scenario runs");
    show(&format!(
        "attribution scenario: h0's table filled to {} of {}, the switch dropped {} datagrams to h1, {:.1} s in all\n{}",
        run.filled.0,
        run.filled.1,
        run.path_dropped,
        run.took.as_secs_f64(),
        run.report_text
    ));
    let text = &run.report_text;
    assert_eq!(run.cause("h0"), Some("conntrack_full"), "{text}");
    assert_eq!(run.cause("h1"), Some("path"), "{text}");
    assert_eq!(run.cause("h2"), Some("clean"), "{text}");
    assert!(run.took.as_secs() < 60, "bounded: {:?}", run.took);

    // h0: the table was full to the headroom, and its drops are what the verdict counted.
    let (count, max) = run.filled;
    assert!(count + HEADROOM >= max, "{count} of {max}");
    let h0 = run.host("h0").unwrap();
    let drops = h0["kernel"]["grown"]["conntrack_drop"].as_u64().unwrap();
    let v0 = &h0["verdict"];
    assert!(drops > 0 && v0["coincident"].as_u64().unwrap() >= 3, "{h0}");
    assert_eq!(h0["kernel"]["conntrack_max"].as_u64(), Some(max));
    // h1: the switch dropped datagrams, h1's own counters saw none of it.
    assert!(run.path_dropped > 0);
    let row = run.host("h1").unwrap();
    for (name, grown) in row["kernel"]["grown"].as_object().unwrap() {
        assert_eq!(grown.as_u64(), Some(0), "h1 {name}: {row}");
    }
    assert!(row["verdict"]["failures"].as_u64().unwrap() >= 3, "{row}");
    // h2: every lookup answered after two candidates (the NXDOMAIN of the first search name,
    // then the answer), so about two queries each (a re-send when the busy machine was slow
    // to reply); h1 paid for its loss in re-sends and attempts.
    let amp = |h: &str| run.host(h).unwrap()["amplification"].clone();
    let h2 = amp("h2");
    assert_eq!(
        h2["candidates"].as_u64().unwrap(),
        2 * h2["lookups"].as_u64().unwrap()
    );
    assert!(h2["per_lookup"].as_f64().unwrap() < 2.1, "{h2}");
    let h1 = amp("h1");
    assert!(h1["per_lookup"].as_f64().unwrap() > 3.0, "{h1}");
    assert!(h1["resends"].as_u64().unwrap() > 0, "{h1}");
    assert_eq!(run.host("h2").unwrap()["failures"].as_u64(), Some(0));

    // The picture: h0's drops beside its failures, a verdict per row.
    let doc = roxmltree::Document::parse(&run.svg).expect("well-formed SVG");
    let marks = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("counter"))
        .filter(|n| n.attribute("data-host") == Some("h0"))
        .filter(|n| n.attribute("data-counter") == Some("conntrack_drop"))
        .count();
    assert!(marks > 0, "no conntrack marks for h0 in the SVG");
    let verdicts: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("verdict"))
        .map(|n| {
            (
                n.attribute("data-host").unwrap().to_string(),
                n.attribute("data-verdict").unwrap().to_string(),
            )
        })
        .collect();
    for (host, cause) in [("h0", "conntrack_full"), ("h1", "path"), ("h2", "clean")] {
        assert!(
            verdicts.contains(&(host.to_string(), cause.to_string())),
            "{verdicts:?}"
        );
    }
    drop(run);
    assert_clean();
}
