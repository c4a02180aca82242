//! The system's configuration: [`Config::system`] reads /etc/resolv.conf and /etc/hosts
//! leniently, and a resolver built from it follows changes to both.
//!
//! Following: every lookup compares the time with the next check (an atomic load); the first
//! lookup past it `stat`s both files, and only a file whose identity, size or times changed is
//! read again. Polling rather than inotify, because inotify misses files bind-mounted into a
//! container (Kubernetes' resolv.conf and hosts), and a poll at most every few seconds costs
//! nothing a lookup would notice.
//!
//! A file version that cannot be used (unreadable, over its size limit, binary garbage, a
//! resolv.conf gone) leaves the last good configuration in force; it is reported once, by a
//! `tracing` warning, and not read again until it changes. Unknown options and lines are
//! warned about once per version of the file (the parser's warnings), never fatal. There is
//! never a fallback to a public resolver: a file without a usable `nameserver` line means
//! 127.0.0.1:53, as in glibc.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::{Config, DEFAULT_RELOAD_INTERVAL};
use crate::error::Error;
use crate::hosts::Hosts;
use crate::lookup::Inner;
use crate::resolver::{Shared, build_inner};

/// Largest resolv.conf read: real ones are a few hundred bytes; anything near this is not one.
pub(crate) const MAX_RESOLV_CONF: u64 = 1 << 20;
/// Largest hosts file read: ad-blocking hosts files reach a few MiB.
pub(crate) const MAX_HOSTS: u64 = 16 << 20;
/// The system's files.
const SYSTEM_RESOLV_CONF: &str = "/etc/resolv.conf";
const SYSTEM_HOSTS: &str = "/etc/hosts";

impl Config {
    /// The machine's configuration: /etc/resolv.conf read as glibc reads it (see
    /// [`parse_resolv_conf`](Self::parse_resolv_conf): unknown options are warned about, never
    /// fatal), /etc/hosts consulted first, and both followed when they change (checked at most
    /// every 2 s, see [`with_reload_interval`](Self::with_reload_interval)). The other settings
    /// take their defaults; change them with the setters.
    ///
    /// A missing /etc/resolv.conf means 127.0.0.1:53, as glibc; there is never a fallback to
    /// a public resolver. Fails, with [`ErrorKind::Config`](crate::ErrorKind::Config), only
    /// when the file exists but cannot be read, is over 1 MiB, or holds binary garbage.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), stubborn::Error> {
    /// let resolver = stubborn::Resolver::new(stubborn::Config::system()?)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn system() -> Result<Config, Error> {
        Config::system_from(SYSTEM_RESOLV_CONF, SYSTEM_HOSTS)
    }

    /// [`system`](Self::system) with other files: a resolv.conf and a hosts file, followed
    /// when they change. For containers with their own files, and for tests.
    pub fn system_from(
        resolv_conf: impl AsRef<Path>,
        hosts: impl AsRef<Path>,
    ) -> Result<Config, Error> {
        let path = resolv_conf.as_ref();
        let text = match read_checked(path, MAX_RESOLV_CONF) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                warn!(
                    path = %path.display(),
                    "no resolv.conf: using 127.0.0.1:53, as glibc does"
                );
                String::new()
            }
            Err(source) => {
                return Err(Error::ResolvConf {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let mut config = Config::parse_resolv_conf(&text)
            .with_hosts_file(Some(hosts.as_ref().to_path_buf()))
            .with_reload_interval(Some(DEFAULT_RELOAD_INTERVAL));
        config.resolv_conf = Some(path.to_path_buf());
        Ok(config)
    }
}

/// Reads a configuration file of at most `limit` bytes that is text: no NUL byte nor other
/// control byte than tab, line feed, vertical tab, form feed and carriage return (a file
/// caught mid-write, or overwritten with binary data). Bytes that are not UTF-8 are read as
/// U+FFFD, as the parsers expect.
pub(crate) fn read_checked(path: &Path, limit: u64) -> io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    if let Some(at) = bytes
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("binary data (byte {:#04x} at offset {at})", bytes[at]),
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What identifies a version of a file, as `stat` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    Missing,
    Unreadable(io::ErrorKind),
    Present {
        dev: u64,
        ino: u64,
        len: u64,
        mtime: (i64, i64),
        ctime: (i64, i64),
    },
}

fn version(path: &Path) -> Version {
    match std::fs::metadata(path) {
        Ok(m) => Version::Present {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Version::Missing,
        Err(e) => Version::Unreadable(e.kind()),
    }
}

/// A file followed, and the version last looked at (good or not).
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    seen: Version,
}

impl Followed {
    fn new(path: &Path) -> Followed {
        Followed {
            path: path.to_path_buf(),
            seen: version(path),
        }
    }

    /// Whether the file changed since last looked at (and remember the new version).
    fn changed(&mut self) -> bool {
        let now = version(&self.path);
        if now == self.seen {
            return false;
        }
        self.seen = now;
        true
    }
}

#[derive(Debug)]
struct Files {
    resolv_conf: Option<Followed>,
    hosts: Option<Followed>,
}

/// The files a resolver follows, and when to look at them next.
#[derive(Debug)]
pub(crate) struct Watch {
    interval: Duration,
    base: Instant,
    /// Milliseconds since `base` of the next check.
    next: AtomicU64,
    files: Mutex<Files>,
}

impl Watch {
    /// The watch `config` asks for: `None` without a reload interval or files.
    pub(crate) fn new(config: &Config) -> Option<Watch> {
        let interval = config.reload_interval?;
        let files = Files {
            resolv_conf: config.resolv_conf.as_deref().map(Followed::new),
            hosts: config.hosts_file.as_deref().map(Followed::new),
        };
        if files.resolv_conf.is_none() && files.hosts.is_none() {
            return None;
        }
        Some(Watch {
            interval,
            base: Instant::now(),
            next: AtomicU64::new(millis(interval)),
            files: Mutex::new(files),
        })
    }

    /// Whether a check is due now; true for one caller per interval.
    fn due(&self) -> bool {
        let now = millis(Instant::now().saturating_duration_since(self.base));
        let next = self.next.load(Ordering::Relaxed);
        now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now + millis(self.interval),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Shared {
    /// The configuration in force, after following the files if a check is due.
    pub(crate) fn inner(&self) -> Arc<Inner> {
        if let Some(watch) = &self.watch
            && watch.due()
        {
            self.follow(watch);
        }
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads the files that changed and puts the new configuration in force.
    fn follow(&self, watch: &Watch) {
        let mut files = watch.files.lock().unwrap_or_else(|e| e.into_inner());
        let resolv_changed = files.resolv_conf.as_mut().is_some_and(Followed::changed);
        let hosts_changed = files.hosts.as_mut().is_some_and(Followed::changed);
        if !resolv_changed && !hosts_changed {
            return;
        }
        let previous = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut config = previous.config.clone();
        let mut changed = false;
        if resolv_changed && let Some(file) = &files.resolv_conf {
            match read_checked(&file.path, MAX_RESOLV_CONF) {
                Ok(text) => {
                    config = from_file(Config::parse_resolv_conf(&text), &config);
                    changed = true;
                }
                Err(error) => warn!(
                    path = %file.path.display(),
                    %error,
                    "resolv.conf changed but cannot be used: keeping the last good configuration"
                ),
            }
        }
        let mut hosts = previous.hosts.clone();
        if hosts_changed && let Some(file) = &files.hosts {
            match read_checked(&file.path, MAX_HOSTS) {
                Ok(text) => {
                    hosts = Hosts::parse(&text);
                    changed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    hosts = Hosts::default();
                    changed = true;
                }
                Err(error) => warn!(
                    path = %file.path.display(),
                    %error,
                    "hosts file changed but cannot be used: keeping the last good one"
                ),
            }
        }
        drop(files);
        if !changed {
            return;
        }
        let servers_changed = config.servers != previous.config.servers;
        let shared = (&self.cache, &self.metrics, &self.sorter);
        match build_inner(config, hosts, shared, Some(previous.as_ref())) {
            Ok(inner) => {
                if servers_changed && let Some(cache) = &self.cache {
                    cache.clear();
                }
                info!(
                    servers = ?inner.config.servers,
                    search = ?inner.config.search,
                    "configuration files changed: now in force"
                );
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(inner);
            }
            Err(error) => warn!(
                %error,
                "configuration files changed but cannot be used: keeping the last good configuration"
            ),
        }
    }
}

/// `running` with the settings a resolv.conf sets taken from `file`.
fn from_file(file: Config, running: &Config) -> Config {
    let mut config = running.clone();
    config.servers = file.servers;
    config.search = file.search;
    config.ndots = file.ndots;
    config.timeout = file.timeout;
    config.attempts = file.attempts;
    config.rotate = file.rotate;
    config.edns_payload = file.edns_payload;
    config.use_tcp = file.use_tcp;
    config.single_request = file.single_request;
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file in a fresh directory of its own under the system's temporary directory.
    pub(crate) fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stubborn-system-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(contents)
            .unwrap();
        path
    }

    #[test]
    fn system_from_reads_leniently_and_follows() {
        let resolv = temp_file(
            "resolv.conf",
            b"nameserver 127.0.0.53\noptions no-aaaa edns0 trust-ad frobnicate:3\nsearch corp.example\n",
        );
        let hosts = temp_file("hosts", b"127.0.0.1 localhost\n");
        let config = Config::system_from(&resolv, &hosts).unwrap();
        assert_eq!(config.servers(), &["127.0.0.53:53".parse().unwrap()]);
        assert_eq!(config.search(), &["corp.example".to_string()]);
        assert_eq!(config.hosts_file(), Some(hosts.as_path()));
        assert_eq!(config.resolv_conf(), Some(resolv.as_path()));
        assert_eq!(config.reload_interval(), Some(DEFAULT_RELOAD_INTERVAL));
    }

    #[test]
    fn no_file_or_no_nameserver_means_localhost_never_a_public_resolver() {
        let missing = std::env::temp_dir().join("stubborn-no-such-dir/resolv.conf");
        let config = Config::system_from(&missing, "/nonexistent/hosts").unwrap();
        assert_eq!(config.servers(), &["127.0.0.1:53".parse().unwrap()]);
        let empty = temp_file("resolv.conf", b"# nothing here\noptions ndots:2\n");
        let config = Config::system_from(&empty, "/nonexistent/hosts").unwrap();
        assert_eq!(config.servers(), &["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(config.ndots(), 2);
    }

    #[test]
    fn unusable_files_are_errors_at_start() {
        let garbage = temp_file("resolv.conf", b"nameserver 127.0.0.1\n\x00\x00\x7fELF\x01");
        let e = Config::system_from(&garbage, "/nonexistent/hosts").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("binary data"), "{e}");
        let huge = temp_file("resolv.conf", &vec![b'#'; (MAX_RESOLV_CONF + 1) as usize]);
        let e = Config::system_from(&huge, "/nonexistent/hosts").unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        // A directory cannot be read as a file.
        let dir = std::env::temp_dir();
        assert!(Config::system_from(&dir, "/nonexistent/hosts").is_err());
    }

    #[test]
    fn read_checked_accepts_text_and_latin1() {
        let path = temp_file("hosts", b"192.0.2.1 caf\xe9.example\r\n\tx\x0b\x0c\n");
        let text = read_checked(&path, 1024).unwrap();
        assert!(text.starts_with("192.0.2.1 caf\u{fffd}.example"));
    }

    #[test]
    fn versions_tell_changes_apart() {
        let path = temp_file("resolv.conf", b"nameserver 127.0.0.1\n");
        let mut followed = Followed::new(&path);
        assert!(!followed.changed());
        std::fs::write(&path, b"nameserver 127.0.0.2\n").unwrap();
        // Same size, maybe the same mtime tick: the ctime or the content's size tells; a
        // rename gives another inode.
        let replacement = path.with_extension("new");
        std::fs::write(&replacement, b"nameserver 127.0.0.3\n").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        assert!(followed.changed());
        assert!(!followed.changed());
        std::fs::remove_file(&path).unwrap();
        assert!(followed.changed());
        assert_eq!(followed.seen, Version::Missing);
    }

    #[tokio::test(start_paused = true)]
    async fn checks_are_due_once_per_interval() {
        let path = temp_file("hosts", b"");
        let config = Config::new(vec!["127.0.0.1:53".parse().unwrap()])
            .with_hosts_file(Some(path))
            .with_reload_interval(Some(Duration::from_secs(2)));
        let watch = Watch::new(&config).expect("a file to follow");
        assert!(!watch.due());
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(!watch.due());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(watch.due());
        assert!(!watch.due(), "once per interval");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(watch.due());
        let none = Config::new(vec!["127.0.0.1:53".parse().unwrap()]).with_hosts_file(None);
        assert!(Watch::new(&none.with_reload_interval(Some(Duration::from_secs(1)))).is_none());
    }
}
