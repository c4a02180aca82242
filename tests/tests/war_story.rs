//! The war story on unmodified getaddrinfo: a host namespace whose own resolv.conf points at
//! faultdns in the resolver namespace, which drops the probe name with a probability.
//!
//! dnsload's `system` backend runs under `ip netns exec` without any override, so glibc reads
//! `/etc/resolv.conf` exactly as every program on the host would (the namespace's file is
//! bind-mounted there). The `stub` backend reads the same file. Four hosts run at once:
//!
//! | host | resolv.conf                         | probe          | backend |
//! |------|-------------------------------------|----------------|---------|
//! | h0   | search in.our.internal.domain       | cloudflare.com | system  |
//! | h1   | same                                | cloudflare.com | stub    |
//! | h2   | same + options ndots:5 (Kubernetes) | myservice      | system  |
//! | h3   | same as h2                          | myservice      | stub    |
//! | h4   | as h0                               | lossy.example  | system  |
//!
//! Shape 1 (dots >= ndots): `cloudflare.com.` times out twice, glibc walks the search list
//! and returns the address of `cloudflare.com.in.our.internal.domain`: `wrong_name`.
//! Shape 2 (dots < ndots): `myservice.in.our.internal.domain.` times out twice, glibc asks the
//! bare `myservice.`, whose NXDOMAIN becomes the answer: `nxdomain`. Both arrive after about
//! attempts x timeout (2 x 1 s). stubborn re-sends unanswered queries within each attempt, so
//! it answers nearly every lookup; one it cannot answer stops at the failed candidate: a
//! timeout, never a wrong answer. h4 is shape 1 where the search name does not exist: glibc
//! (2.36) walks the search list after the timeouts, gets NXDOMAIN for
//! `lossy.example.in.our.internal.domain.` and still reports a temporary failure (`timeout`),
//! as docs/semantics.md (3.3) says.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use stubborn_tests::netns::{Lab, check_capabilities};
use stubborn_tests::runs::{Scratch, run_all};
use stubborn_tests::servers::NsFaultdns;
use stubborn_tests::{assert_clean, require, serial};

const RESOLV_CONF: &str = "nameserver 198.18.0.1\n\
                           search in.our.internal.domain\n\
                           options timeout:1 attempts:2\n";
const RESOLV_CONF_NDOTS5: &str = "nameserver 198.18.0.1\n\
                                  search in.our.internal.domain\n\
                                  options ndots:5 timeout:1 attempts:2\n";
/// Share of queries for the probe names that faultdns drops.
const DROP: &str = "0.5";
const RUN: Duration = Duration::from_secs(10);

fn summary(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn count(s: &Value, class: &str) -> u64 {
    s["classes"][class]
        .as_u64()
        .unwrap_or_else(|| panic!("no {class} in {s}"))
}

#[test]
fn war_story_on_unmodified_getaddrinfo_and_stub_under_the_same_loss() {
    let _serial = serial();
    if require("war_story", check_capabilities()).is_none() {
        return;
    }
    let dnsload = Path::new(env!("CARGO_BIN_EXE_lab-dnsload"));
    let lab = Lab::new(5).expect("lab");
    let scratch = Scratch::new("stb-war-story").unwrap();
    let dir = scratch.path();

    let builder = faultdns::Server::builder()
        .seed(5)
        .record("cloudflare.com. 60 A 192.0.2.1")
        .unwrap()
        .record("cloudflare.com.in.our.internal.domain. 60 A 192.0.2.66")
        .unwrap()
        .record("myservice.in.our.internal.domain. 60 A 192.0.2.20")
        .unwrap()
        .record("lossy.example. 60 A 192.0.2.5")
        .unwrap()
        .rule(&format!("drop name=lossy.example. p={DROP}"))
        .unwrap()
        .rule(&format!("drop name=cloudflare.com. p={DROP}"))
        .unwrap()
        .rule(&format!(
            "drop name=myservice.in.our.internal.domain. p={DROP}"
        ))
        .unwrap();
    let addr = SocketAddr::from((lab.resolver().addr, 53));
    let faultdns = NsFaultdns::start(&lab.resolver().ns, builder, addr).expect("faultdns");

    let hosts = [
        ("h0", RESOLV_CONF, "cloudflare.com", "system"),
        ("h1", RESOLV_CONF, "cloudflare.com", "stub"),
        ("h2", RESOLV_CONF_NDOTS5, "myservice", "system"),
        ("h3", RESOLV_CONF_NDOTS5, "myservice", "stub"),
        ("h4", RESOLV_CONF, "lossy.example", "system"),
    ];
    let mut commands = Vec::new();
    for (i, (label, conf, name, backend)) in hosts.iter().enumerate() {
        let host = lab.host(i);
        lab.write_resolv_conf(&host.ns, conf).unwrap();
        let mut cmd = host.ns.command(dnsload);
        // Both backends read the namespace's resolv.conf (`ip netns exec` bind-mounts the
        // namespace's copy over /etc/resolv.conf), which dnsload uses only when told to.
        cmd.args([
            "run",
            "--backend",
            backend,
            "--name",
            name,
            "--use-system-config",
        ]);
        cmd.args(["--workers", "4", "--pause", "20ms", "--duration", "10s"])
            .args(["--host", label, "--quiet"])
            .arg("--summary-json")
            .arg(dir.join(format!("{label}.summary.json")))
            .arg("--events")
            .arg(dir.join(format!("{label}.events.jsonl")));
        commands.push((label.to_string(), cmd));
    }
    let runs = run_all(commands, dir, RUN + Duration::from_secs(40)).expect("dnsload runs");
    for run in &runs {
        assert!(
            run.status.success(),
            "{} failed: {}",
            run.label,
            run.stderr_text()
        );
    }

    let s: Vec<Value> = hosts
        .iter()
        .map(|(label, ..)| summary(&dir.join(format!("{label}.summary.json"))))
        .collect();
    let mut table = format!(
        "war story on unmodified getaddrinfo, faultdns dropping the probe names with p={DROP}:\n\
         host  backend  probe           lookups     ok  wrong_name  nxdomain  timeout\n"
    );
    for ((label, _, name, backend), s) in hosts.iter().zip(&s) {
        table.push_str(&format!(
            "{label:<5} {backend:<8} {name:<15} {:>7} {:>6} {:>11} {:>9} {:>8}\n",
            s["queries"].as_u64().unwrap_or(0),
            count(s, "ok"),
            count(s, "wrong_name"),
            count(s, "nxdomain"),
            count(s, "timeout")
        ));
    }
    stubborn_tests::show(&table);

    // glibc ran unmodified, on the namespace's resolv.conf.
    for i in [0, 2, 4] {
        let info = &s[i]["backend_info"];
        assert_eq!(info["glibc_override"], false, "{info}");
        let state = &info["resolver_state"];
        assert_eq!(state["server"], "198.18.0.1:53", "{state}");
        assert_eq!(state["retrans"], 1.0, "{state}");
        assert_eq!(state["retry"], 2, "{state}");
        assert_eq!(state["search"][0], "in.our.internal.domain", "{state}");
        assert_eq!(state["ndots"], if i == 2 { 5 } else { 1 }, "{state}");
    }

    // Shape 1: glibc answers with the search name's address; stubborn never does.
    assert!(
        count(&s[0], "wrong_name") > 0,
        "glibc gave no wrong name: {}",
        s[0]
    );
    for n in s[0]["notable"].as_array().unwrap() {
        if n["class"] == "wrong_name" {
            assert_eq!(
                n["answer_name"], "cloudflare.com.in.our.internal.domain",
                "{n}"
            );
        }
    }
    // Shape 2: glibc reports the bare short name's NXDOMAIN.
    assert!(
        count(&s[2], "nxdomain") > 0,
        "glibc gave no NXDOMAIN: {}",
        s[2]
    );
    // Both after every attempt for the name timed out: about attempts x timeout = 2 s.
    for i in [0, 2] {
        for n in s[i]["notable"].as_array().unwrap() {
            let ms = n["elapsed_ms"].as_f64().unwrap();
            assert!(
                (1900.0..4000.0).contains(&ms),
                "{} after {ms} ms, want about 2 x 1 s",
                n["class"]
            );
        }
    }
    // stubborn under the same loss: it felt the loss (it re-sent queries that went
    // unanswered) and recovered nearly every lookup by re-sending; what it could not recover
    // is a timeout, never a wrong answer. At p=0.5 a lookup times out only when all of its
    // queries in both attempts are lost (about 1 in 256), so a ten-second run may see none.
    for i in [1, 3] {
        assert_eq!(count(&s[i], "wrong_name"), 0, "{}", s[i]);
        assert_eq!(count(&s[i], "nxdomain"), 0, "{}", s[i]);
        assert_eq!(count(&s[i], "nodata"), 0, "{}", s[i]);
        let resends = s[i]["amplification"]["resends"].as_u64().unwrap_or(0);
        assert!(resends > 0, "stub saw no loss: {}", s[i]);
        let lookups = s[i]["queries"].as_u64().unwrap_or(0);
        assert!(
            count(&s[i], "ok") + count(&s[i], "timeout") == lookups && lookups > 0,
            "{}",
            s[i]
        );
        assert!(
            count(&s[i], "timeout") * 20 <= lookups,
            "stub recovered too little: {}",
            s[i]
        );
        assert_eq!(s[i]["backend_info"]["config"]["attempts"], 2, "{}", s[i]);
    }
    // Shape 1 without a search name: glibc asked it, got NXDOMAIN, and reported a
    // temporary failure; never the NXDOMAIN, never a wrong name.
    assert!(count(&s[4], "timeout") > 0, "{}", s[4]);
    assert_eq!(count(&s[4], "nxdomain"), 0, "{}", s[4]);
    assert_eq!(count(&s[4], "wrong_name"), 0, "{}", s[4]);
    assert!(
        faultdns
            .server()
            .queries_for("lossy.example.in.our.internal.domain.")
            > 0
    );
    // The search names were asked (by glibc) and the drop rules fired.
    assert!(
        faultdns
            .server()
            .queries_for("cloudflare.com.in.our.internal.domain.")
            > 0
    );
    assert!(faultdns.server().queries_for("myservice.") > 0);

    drop(faultdns);
    drop(lab);
    assert_clean();
}
