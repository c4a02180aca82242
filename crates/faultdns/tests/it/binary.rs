//! The `faultdns` binary, driven by `dig` (Debian's dnsutils), a client no one here wrote.

use std::{
    io::{BufRead, BufReader, Read},
    net::{SocketAddr, TcpListener, UdpSocket},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_faultdns");

const ZONE: &str = "\
$ORIGIN example.com.
@    300 IN SOA ns1 hostmaster 7 3600 600 86400 120
ns1  300 IN A 192.0.2.53
www  60  IN A 192.0.2.10
";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultdns-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A loopback port free for both UDP and TCP right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The binary, serving; killed on drop if a test fails midway.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Running {
    for _ in 0..5 {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(BIN)
            .args(["--listen", &listen])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        if line.contains("serving on") {
            child.stderr = Some(err.into_inner());
            return Running { child, port };
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            line.contains("cannot listen"),
            "faultdns did not start: {line}"
        );
    }
    panic!("no free port after 5 tries");
}

/// Stop with SIGTERM; stdout and stderr after the start line, and whether it exited cleanly.
fn stop(mut r: Running) -> (String, String, bool) {
    let pid = r.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = r.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "faultdns did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    r.child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    r.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err, status.success())
}

/// Whether dig is here; without it the test is skipped, unless STUBBORN_REQUIRE_ALL=1.
fn have_dig() -> bool {
    let ok = Command::new("dig")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("STUBBORN_REQUIRE_ALL").as_deref() != Ok("1"),
            "dig is missing and STUBBORN_REQUIRE_ALL=1: apt-get install dnsutils"
        );
        eprintln!("skipping: dig not found (apt-get install dnsutils)");
    }
    ok
}

fn dig(port: u16, args: &[&str]) -> (String, i32) {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+tries=1",
            "+timeout=2",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn dig_sees_answers_drops_and_truncation() {
    if !have_dig() {
        return;
    }
    let dir = temp_dir("dig");
    let zone = dir.join("example.zone");
    std::fs::write(&zone, ZONE).unwrap();
    let r = start(&[
        "--zone",
        zone.to_str().unwrap(),
        "--record",
        "tc.test. 60 A 192.0.2.77",
        "--rule",
        "drop name=lost.example.com.",
        "--rule",
        "truncate name=tc.test.",
        "--seed",
        "3",
        "--log",
        "-",
    ]);
    let (out, code) = dig(r.port, &["www.example.com", "A"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("status: NOERROR") && out.contains("flags: qr aa rd"),
        "{out}"
    );
    assert!(out.contains("192.0.2.10"), "{out}");

    let (out, _) = dig(r.port, &["nope.example.com", "A"]);
    assert!(
        out.contains("status: NXDOMAIN") && out.contains("flags: qr aa rd"),
        "{out}"
    );
    assert!(out.contains("AUTHORITY: 1") && out.contains("SOA"), "{out}");

    let started = Instant::now();
    let (out, code) = dig(r.port, &["lost.example.com", "A", "+timeout=1"]);
    assert_eq!(code, 9, "dig exits 9 when no reply comes: {out}");
    assert!(out.contains("timed out"), "{out}");
    assert!(started.elapsed() >= Duration::from_millis(900));

    let (out, _) = dig(r.port, &["tc.test", "A", "+ignore"]);
    assert!(out.contains("flags: qr aa tc rd"), "{out}");
    assert!(out.contains("ANSWER: 0"), "{out}");
    let (out, code) = dig(r.port, &["tc.test", "A"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert!(out.contains("192.0.2.77"), "answered over TCP: {out}");

    let (stdout, stderr, clean) = stop(r);
    assert!(clean, "exit status after SIGTERM: {stderr}");
    assert!(stderr.contains("queries"), "summary on stderr: {stderr}");
    assert!(
        stderr.contains("rule 0 `drop name=lost.example.com.`: matched 1, fired 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rule 1 `truncate name=tc.test.`: matched 3, fired 3"),
        "{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // www, nope, lost, tc (udp, +ignore), tc (udp), tc (tcp).
    assert_eq!(lines.len(), 6, "{stdout}");
    assert_eq!(lines[2]["action"], "drop");
    assert_eq!(lines[5]["proto"], "tcp");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_at_start_naming_the_token() {
    let out = Command::new(BIN)
        .args(["--rule", "drop nmae=x."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nmae=x.") && err.contains("unknown key"),
        "{err}"
    );

    let dir = temp_dir("badzone");
    let zone = dir.join("broken.zone");
    std::fs::write(
        &zone,
        "$ORIGIN example.com.\nwww 60 IN A 192.0.2.1\nmail 60 IN MX ten mail\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--zone", zone.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.zone") && err.contains("line 3"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn metrics_endpoint_serves_prometheus_counters() {
    let mport = free_port();
    let maddr: SocketAddr = ([127, 0, 0, 1], mport).into();
    let r = start(&[
        "--record",
        "www.example.com. 60 A 192.0.2.10",
        "--rule",
        "servfail name=www.example.com. every=2",
        "--metrics",
        &maddr.to_string(),
    ]);
    // Two queries over UDP from a plain socket.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm',
        b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    let mut buf = [0u8; 512];
    for _ in 0..2 {
        sock.send_to(&q, ("127.0.0.1", r.port)).unwrap();
        sock.recv_from(&mut buf).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(maddr) {
            use std::io::Write;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics endpoint did not come up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("faultdns_queries_total 2"), "{body}");
    assert!(
        body.contains(
            "faultdns_rule_fired_total{index=\"0\",rule=\"servfail name=www.example.com. every=2\"} 1"
        ),
        "{body}"
    );
    let (_, _, clean) = stop(r);
    assert!(clean);
}

#[test]
fn config_file_configures_the_server() {
    let dir = temp_dir("config");
    let config = dir.join("faultdns.toml");
    std::fs::write(
        &config,
        "record = [\"www.example.com. A 192.0.2.10\"]\n\
         rule = [\"servfail name=www.example.com. first=1\"]\n\
         seed = 4\n\
         log = \"decisions.jsonl\"\n",
    )
    .unwrap();
    let run = start(&["--config", config.to_str().unwrap()]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = [
        0x43, 0x21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm',
        b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    let mut buf = [0u8; 512];
    let mut rcodes = Vec::new();
    for _ in 0..2 {
        sock.send_to(&q, ("127.0.0.1", run.port)).unwrap();
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert!(n >= 12);
        rcodes.push(buf[3] & 0x0f);
    }
    assert_eq!(rcodes, [2, 0], "SERVFAIL first, then the answer");
    let (_, stderr, clean) = stop(run);
    assert!(clean, "{stderr}");
    assert!(stderr.contains("matched 2, fired 1"), "{stderr}");
    // The log path is relative to the config file.
    let log = std::fs::read_to_string(dir.join("decisions.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One HTTP request to the control endpoint; the status code and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::Write;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "control endpoint: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: faultdns\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The RCODE of a reply to an A query for `name` over UDP, or `None` without a reply.
fn rcode_of(port: u16, name: &str) -> Option<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut q = vec![0x43, 0x21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    sock.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 512];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    (n >= 12).then_some(buf[3] & 0x0f)
}

#[test]
fn forwards_to_another_faultdns_with_live_rule_control_and_sighup() {
    let dir = temp_dir("control");
    // The upstream: a second faultdns binary on loopback.
    let upstream = start(&["--record", "api.example.net. 60 A 192.0.2.80"]);
    let config = dir.join("front.toml");
    std::fs::write(
        &config,
        "rule = [\"servfail name=api.example.net. on=reply\"]\n",
    )
    .unwrap();
    let maddr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let front = start(&[
        "--config",
        config.to_str().unwrap(),
        "--upstream",
        &format!("127.0.0.1:{}", upstream.port),
        "--upstream-timeout",
        "500ms",
        "--metrics",
        &maddr.to_string(),
    ]);
    assert_eq!(
        rcode_of(front.port, "api.example.net."),
        Some(2),
        "on=reply servfail"
    );
    let (status, body) = http(maddr, "GET", "/rules", "");
    assert_eq!(status, 200, "{body}");
    let rules: Vec<String> = serde_json::from_str(&body).unwrap();
    assert_eq!(rules, ["servfail name=api.example.net. on=reply"]);

    // A bad list is refused whole, naming the bad token; the rules stay.
    let (status, body) = http(maddr, "PUT", "/rules", "drop name=a.\nnxdomain nmae=x.\n");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("line 2") && body.contains("(at `nmae=x.`)"),
        "{body}"
    );
    assert_eq!(rcode_of(front.port, "api.example.net."), Some(2));

    // A good list replaces the rules at once.
    let (status, body) = http(
        maddr,
        "PUT",
        "/rules",
        r#"["refused name=api.example.net."]"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(rcode_of(front.port, "api.example.net."), Some(5));
    let (_, body) = http(maddr, "GET", "/counters", "");
    let c: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(c["rules"][0]["fired"], 1, "{body}");
    assert_eq!(c["upstream_answered"], 2, "{body}");
    assert_eq!(c["forwarded"], 2, "{body}");

    // SIGHUP reads the config again: an empty rule list, so answers flow through.
    std::fs::write(&config, "rule = []\n").unwrap();
    let hup = |r: &Running| {
        let pid = r.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    hup(&front);
    let deadline = Instant::now() + Duration::from_secs(5);
    while http(maddr, "GET", "/rules", "").1.trim() != "[]" {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not apply the config's rules"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(rcode_of(front.port, "api.example.net."), Some(0));
    // A broken config keeps the rules in force.
    std::fs::write(&config, "rule = [\"dorp\"]\n").unwrap();
    hup(&front);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(http(maddr, "GET", "/rules", "").1.trim(), "[]");
    let (status, _) = http(maddr, "DELETE", "/rules", "");
    assert_eq!(status, 405);

    let (_, stderr, clean) = stop(front);
    assert!(clean, "{stderr}");
    assert!(stderr.contains("SIGHUP: 0 rule(s)"), "{stderr}");
    assert!(
        stderr.contains("SIGHUP:") && stderr.contains("dorp") && stderr.contains("rules unchanged"),
        "{stderr}"
    );
    assert!(stderr.contains("forwarded 3: answered 3"), "{stderr}");
    let (_, _, clean) = stop(upstream);
    assert!(clean);
    std::fs::remove_dir_all(&dir).unwrap();
}
