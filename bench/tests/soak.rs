//! A short soak through the command line: it passes, and the faults really happened (every
//! class of outcome the faults should produce shows up).

use std::process::Command;

#[test]
fn a_short_soak_under_every_fault_passes() {
    let json = std::env::temp_dir().join(format!("stubborn-soak-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_stubborn-bench"))
        .args([
            "soak",
            "--duration",
            "5s",
            "--rate",
            "150",
            "--interval",
            "1s",
            "--rotate",
            "500ms",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("running stubborn-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the soak failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).expect("JSON");
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(0));
    // Five intervals and the drain, each a row of the table.
    let intervals = report["intervals"].as_array().expect("intervals");
    assert!(intervals.len() >= 6, "{} intervals", intervals.len());
    assert_eq!(stdout.lines().count(), intervals.len() + 1, "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap_or("")
            .trim_start()
            .starts_with("drain")
    );
    let totals = &report["totals"];
    let count = |class: &str| totals[class].as_u64().unwrap_or(0);
    let started: u64 = intervals
        .iter()
        .map(|s| s["started"].as_u64().unwrap_or(0))
        .sum();
    assert!(started >= 700, "{started} lookups started");
    let ended: u64 = [
        "ok",
        "nodata",
        "nxdomain",
        "servfail",
        "refused",
        "timeout",
        "deadline",
        "cancelled",
        "other",
    ]
    .iter()
    .map(|c| count(c))
    .sum();
    assert_eq!(ended, started, "every lookup started ended once: {totals}");
    for class in [
        "ok",
        "nodata",
        "nxdomain",
        "servfail",
        "refused",
        "deadline",
        "cancelled",
    ] {
        assert!(count(class) > 0, "no {class} in {totals}");
    }
    // Lookups that ended were counted; descriptors came back once the resolver was dropped.
    let baseline = report["baseline_fds"].as_u64().expect("baseline");
    assert!(report["fds_after_drop"].as_u64().expect("after") <= baseline + 4);
}
