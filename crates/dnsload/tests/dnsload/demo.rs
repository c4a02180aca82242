//! `dnsload demo`, shortened: the table, both shapes, and stubborn's zeros.

use crate::util::{args, dnsload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_the_side_by_side_table() {
    let started = std::time::Instant::now();
    let out = dnsload(args(&["demo", "--duration", "6s"])).await;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took.as_secs_f64() < 12.0, "a 6 s demo took {took:?}");
    for needle in [
        "lookups",
        "wrong_name",
        "drop.test (ndots 1, search name exists)",
        "myservice (ndots 5, bare name NXDOMAIN)",
        "stubborn: re-sending a lost query",
        "wrong address (0) or NXDOMAIN (0)",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let stub_rows: Vec<&str> = text.lines().filter(|l| l.contains(" stubborn ")).collect();
    assert_eq!(stub_rows.len(), 2, "{text}");
    if dnsload::glibc_override_supported() {
        assert_eq!(
            text.lines()
                .filter(|l| l.contains("glibc getaddrinfo"))
                .count(),
            2,
            "{text}"
        );
        assert!(text.contains("glibc: "), "{text}");
    } else {
        assert!(
            text.contains("glibc is not this program's C library"),
            "{text}"
        );
    }
}
