//! A resolver built from `Config::system_from` follows its resolv.conf and hosts file. Every
//! file here is the test's own, in a fresh temporary directory; never the machine's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stubborn::{Config, RecordType, Resolver};

/// A fresh directory for one test's files.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "stubborn-it-system-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Replaces `path` as configuration tools do: write a new file, rename it over the old one.
fn replace(path: &Path, contents: &[u8]) {
    let new = path.with_extension("new");
    std::fs::write(&new, contents).expect("write");
    std::fs::rename(&new, path).expect("rename");
}

fn resolv_conf(server: SocketAddr) -> String {
    format!("nameserver {server}\noptions timeout:1 attempts:2 no-aaaa\n")
}

/// A server answering www.example.com with `ip`.
async fn server_with(ip: &str) -> faultdns::Server {
    faultdns::Server::builder()
        .record(&format!("www.example.com. 60 A {ip}"))
        .expect("record")
        .start()
        .await
        .expect("faultdns")
}

async fn answered_by(r: &Resolver) -> (SocketAddr, String) {
    let answer = r
        .lookup("www.example.com", RecordType::A)
        .await
        .expect("answer");
    (
        answer.server().expect("from DNS"),
        answer.ips()[0].to_string(),
    )
}

/// Changing resolv.conf under a running resolver moves its lookups to the new server within
/// the documented interval (2 s by default), cache emptied (the old server's answer is not
/// served by the new configuration).
#[tokio::test]
async fn a_changed_resolv_conf_moves_lookups_within_the_interval() {
    let (old, new) = (
        server_with("192.0.2.1").await,
        server_with("192.0.2.2").await,
    );
    let dir = temp_dir();
    let path = dir.join("resolv.conf");
    std::fs::write(&path, resolv_conf(old.addr())).expect("write");
    let config = Config::system_from(&path, dir.join("hosts")).expect("readable");
    assert_eq!(config.reload_interval(), Some(Duration::from_secs(2)));
    let r = Resolver::new(config).expect("valid");
    assert_eq!(answered_by(&r).await, (old.addr(), "192.0.2.1".into()));
    replace(&path, resolv_conf(new.addr()).as_bytes());
    let changed = Instant::now();
    loop {
        let (server, ip) = answered_by(&r).await;
        if server == new.addr() {
            assert_eq!(
                ip, "192.0.2.2",
                "the new server's answer, not the cached one"
            );
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_millis(2500),
            "still on the old server after {:?}",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = changed.elapsed();
    eprintln!("lookups moved to the new server {took:?} after the change");
    let current = r.current_config();
    assert_eq!(current.servers(), &[new.addr()]);
    assert_eq!(current.attempts(), 2, "options from the file");
    assert_eq!(
        r.config().servers(),
        &[old.addr()],
        "the first configuration"
    );
}

/// Collects the warnings the resolver logs on this thread while the test runs.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn count(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(text)
            .count()
    }
}

/// Bad versions of the files (garbage, huge, a directory, gone) leave the last good
/// configuration in force, each said once; a good version is followed again.
#[tokio::test]
async fn bad_files_keep_the_last_good_configuration_and_say_so_once() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (good, next) = (
        server_with("192.0.2.1").await,
        server_with("192.0.2.2").await,
    );
    let dir = temp_dir();
    let path = dir.join("resolv.conf");
    let hosts = dir.join("hosts");
    std::fs::write(&path, resolv_conf(good.addr())).expect("write");
    std::fs::write(&hosts, "192.0.2.77 app.internal\n").expect("write");
    let interval = Duration::from_millis(100);
    let config = Config::system_from(&path, &hosts)
        .expect("readable")
        .with_reload_interval(Some(interval));
    let r = Resolver::new(config).expect("valid");

    let mut garbage = resolv_conf(next.addr()).into_bytes();
    garbage.extend_from_slice(b"nameserver 127.0.0.9\n\0\0\x01\x02\x7fELF");
    let huge = vec![b'#'; 2 << 20];
    type Make<'a> = Box<dyn Fn() + 'a>;
    let bad: [(&str, Make<'_>); 4] = [
        ("binary data", Box::new(|| replace(&path, &garbage))),
        ("larger than", Box::new(|| replace(&path, &huge))),
        (
            "Is a directory",
            Box::new(|| {
                std::fs::remove_file(&path).expect("remove");
                std::fs::create_dir(&path).expect("a directory in its place");
            }),
        ),
        (
            "No such file",
            Box::new(|| std::fs::remove_dir(&path).expect("remove the directory")),
        ),
    ];
    for (why, make) in bad {
        make();
        for _ in 0..5 {
            tokio::time::sleep(interval).await;
            assert_eq!(
                answered_by(&r).await.0,
                good.addr(),
                "{why}: the last good one"
            );
        }
        assert_eq!(log.count(why), 1, "{why} said once");
    }
    assert_eq!(
        log.count("resolv.conf changed but cannot be used: keeping the last good configuration"),
        4
    );
    replace(&path, resolv_conf(next.addr()).as_bytes());
    tokio::time::sleep(interval * 2).await;
    assert_eq!(
        answered_by(&r).await.0,
        next.addr(),
        "a good file is followed"
    );

    // The hosts file: followed, and a bad version keeps the last good one.
    let answer = r
        .lookup_ip("app.internal")
        .await
        .expect("from the hosts file");
    assert_eq!(
        answer.ips(),
        ["192.0.2.77".parse::<std::net::IpAddr>().unwrap()]
    );
    replace(&hosts, b"192.0.2.78 app.internal\n");
    tokio::time::sleep(interval * 2).await;
    let answer = r
        .lookup_ip("app.internal")
        .await
        .expect("from the hosts file");
    assert_eq!(
        answer.ips(),
        ["192.0.2.78".parse::<std::net::IpAddr>().unwrap()]
    );
    replace(&hosts, b"192.0.2.79 app.internal\n\0\0\0");
    tokio::time::sleep(interval * 2).await;
    let answer = r
        .lookup_ip("app.internal")
        .await
        .expect("the last good hosts file");
    assert_eq!(
        answer.ips(),
        ["192.0.2.78".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(log.count("hosts file changed but cannot be used"), 1);
}

/// Unknown options and what glibc ignores are warned about, never fatal, as the file is read.
#[test]
fn unknown_options_are_lenient() {
    let dir = temp_dir();
    let path = dir.join("resolv.conf");
    std::fs::write(
        &path,
        "nameserver 127.0.0.1:5353\noptions no-aaaa frobnicate:7 edns0 trust-ad\n",
    )
    .expect("write");
    let config = Config::system_from(&path, dir.join("hosts")).expect("lenient");
    assert_eq!(config.servers(), &["127.0.0.1:5353".parse().unwrap()]);
}
