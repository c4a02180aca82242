//! Shared fixtures: an in-process faultdns, plans from command lines, temp dirs, the binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output};
use std::sync::Arc;

use clap::Parser;
use dnsload::{Backend, Cli, Command, Plan, RunReport, Stop, Summary};

/// Records every test zone has. None of these names is in /etc/hosts.
pub const RECORDS: &[&str] = &[
    "ok.test. 60 A 192.0.2.1",
    "drop.test. 60 A 192.0.2.2",
    "drop.test.corp.test. 60 A 192.0.2.99",
    "myservice.corp.test. 60 A 192.0.2.7",
    "lost.test. 60 A 192.0.2.3",
    "txtonly.test. 60 TXT \"no address here\"",
    "sf.test. 60 A 192.0.2.4",
    "ref.test. 60 A 192.0.2.5",
    "slow.test. 60 A 192.0.2.6",
];

/// Starts faultdns on 127.0.0.1:0 with [`RECORDS`] and `rules`.
pub async fn server(rules: &[&str], seed: u64) -> faultdns::Server {
    let mut b = faultdns::Server::builder();
    for r in RECORDS {
        b = b.record(r).expect("test record");
    }
    for r in rules {
        b = b.rule(r).expect("test rule");
    }
    b.seed(seed)
        .listen("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .expect("faultdns starts")
}

/// A plan from `dnsload run` flags.
pub fn plan(args: &[&str]) -> Plan {
    let mut argv = vec!["dnsload", "run"];
    argv.extend_from_slice(args);
    let Command::Run(run) = Cli::try_parse_from(argv).expect("flags parse").command else {
        unreachable!()
    };
    Plan::from_args(&run).expect("plan validates")
}

/// Builds the plan's backend.
pub async fn backend(plan: &Plan) -> Arc<dyn Backend> {
    dnsload::build_backend(plan).await.expect("backend starts")
}

/// Runs a plan to its bound.
pub async fn run(plan: &Plan) -> RunReport {
    let b = backend(plan).await;
    dnsload::run_with(plan, b, Stop::default())
        .await
        .expect("run completes")
}

/// A fresh directory for one test's files.
pub fn tmpdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dnsload-test-{test}-{}-{:x}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Runs the dnsload binary (off the async runtime, so in-process servers keep serving).
pub async fn dnsload(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dnsload"))
            .args(&args)
            .output()
            .expect("the binary runs")
    })
    .await
    .unwrap()
}

/// `dnsload run --backend raw --server ADDR` followed by `flags`, for the binary.
pub fn raw_run(server: &faultdns::Server, flags: &[&str]) -> Vec<String> {
    let addr = server.addr().to_string();
    let mut a = args(&["run", "--backend", "raw", "--server", &addr]);
    a.extend(args(flags));
    a
}

/// Asserts that the binary exited with status 0, showing its stderr otherwise.
pub fn assert_ran(out: &Output) {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the dnsload binary in the background (for tests that watch it while it runs).
pub fn spawn(args: Vec<String>) -> Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_dnsload"))
        .args(&args)
        .spawn()
        .expect("the binary starts")
}

/// Waits for a spawned binary off the async runtime, so in-process servers keep serving.
pub async fn wait(mut child: Child) -> ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().expect("the binary exits"))
        .await
        .unwrap()
}

/// Reads a `--summary-json` file.
pub fn read_summary(path: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("a summary")
}

/// `127.0.0.1:PORT` of a port nothing listens on (UDP).
pub fn closed_port() -> SocketAddr {
    // On 127.0.0.3, which nothing else binds: the client sockets of other tests, bound to
    // 127.0.0.1 by their `connect`, cannot take the port over in the meantime.
    let s = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
    s.local_addr().unwrap()
}

/// Strings from literals.
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Asserts that every field of a JSON output is named in docs/dnsload-schema.md.
pub fn assert_documented(json: &str) {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/dnsload-schema.md"
    ))
    .unwrap();
    let mut keys = std::collections::BTreeSet::new();
    collect_keys(&serde_json::from_str(json).unwrap(), &mut keys);
    for key in &keys {
        assert!(
            doc.contains(&format!("`{key}`")),
            "field `{key}` is not in docs/dnsload-schema.md"
        );
    }
}

/// Object keys at any depth, except the run-length map's numeric keys.
fn collect_keys(v: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                keys.insert(k.clone());
                if k != "runs" {
                    collect_keys(v, keys);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_keys(i, keys)),
        _ => {}
    }
}

/// The heat map of a `dnsload report --svg` picture, read back from the SVG.
#[derive(Debug, Default)]
pub struct Heatmap {
    /// Host labels, top to bottom.
    pub hosts: Vec<String>,
    /// Cells with failures: host, column, failures.
    pub cells: Vec<(String, usize, u64)>,
}

/// Parses the picture as XML (it must be well-formed) and reads its heat map.
pub fn heatmap(svg: &str) -> Heatmap {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let group = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("heatmap"))
        .expect("a heat map group");
    let mut map = Heatmap::default();
    for n in group.descendants() {
        match n.attribute("class") {
            Some("host") => map.hosts.push(
                n.children()
                    .find(|c| c.is_element() && c.has_tag_name("title"))
                    .and_then(|t| t.text())
                    .expect("a host label's full name")
                    .to_string(),
            ),
            Some("cell") => map.cells.push((
                n.attribute("data-host").unwrap().to_string(),
                n.attribute("data-column").unwrap().parse().unwrap(),
                n.attribute("data-failures").unwrap().parse().unwrap(),
            )),
            _ => {}
        }
    }
    map
}
