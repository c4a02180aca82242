//! The hosts file (`/etc/hosts` format), consulted before DNS for address and reverse lookups.
//!
//! Format: `ADDRESS NAME [ALIAS...]`, `#` starts a comment, names compare case-insensitively
//! without a trailing dot. The first name on a line is the canonical name of its aliases and the
//! answer of a reverse lookup, as glibc's `files` backend.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use hickory_proto::rr::Name;
use tracing::{debug, warn};

/// A parsed hosts file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hosts {
    /// Lowercase name without trailing dot -> (canonical name, addresses in file order).
    pub(crate) by_name: HashMap<String, (Name, Vec<IpAddr>)>,
    /// Address -> the first canonical name given for it.
    pub(crate) by_addr: HashMap<IpAddr, Name>,
}

impl Hosts {
    /// Reads `path`; a missing or unreadable file gives an empty table (with a debug or warn
    /// event), as glibc treats a missing /etc/hosts.
    pub(crate) fn load(path: &Path) -> Hosts {
        match std::fs::read(path) {
            Ok(bytes) => Hosts::parse(&String::from_utf8_lossy(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                debug!(path = %path.display(), "no hosts file");
                Hosts::default()
            }
            Err(error) => {
                warn!(path = %path.display(), %error, "hosts file unreadable, ignored");
                Hosts::default()
            }
        }
    }

    pub(crate) fn parse(text: &str) -> Hosts {
        let mut hosts = Hosts::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let Some(addr) = words.next() else { continue };
            // Link-local IPv6 with a zone (`fe80::1%eth0`) cannot be returned as an IpAddr.
            let Ok(ip) = addr.parse::<IpAddr>() else {
                debug!(addr, "hosts: not an address, line ignored");
                continue;
            };
            // A word that reads as the root (`.` once its dots are trimmed, or an escape that
            // comes to nothing, `\0`) is no host name, nor an answer for a reverse lookup.
            let names: Vec<Name> = words
                .filter_map(|w| Name::from_utf8(trim_root_dots(w)).ok())
                .filter(|n| n.num_labels() > 0)
                .map(|mut n| {
                    n.set_fqdn(true);
                    n
                })
                .collect();
            let Some(canonical) = names.first().cloned() else {
                continue;
            };
            hosts.by_addr.entry(ip).or_insert_with(|| canonical.clone());
            for name in names {
                let key = key(&name);
                let entry = hosts
                    .by_name
                    .entry(key)
                    .or_insert_with(|| (canonical.clone(), Vec::new()));
                if !entry.1.contains(&ip) {
                    entry.1.push(ip);
                }
            }
        }
        hosts
    }

    /// The canonical name and addresses of `name`, if listed.
    pub(crate) fn lookup(&self, name: &Name) -> Option<(&Name, &[IpAddr])> {
        if self.by_name.is_empty() {
            return None;
        }
        self.by_name
            .get(&key(name))
            .map(|(canonical, ips)| (canonical, ips.as_slice()))
    }

    /// The name listed for `ip`, if any.
    pub(crate) fn reverse(&self, ip: IpAddr) -> Option<&Name> {
        self.by_addr.get(&ip)
    }
}

/// `word` without its trailing dots, but for one escaped by a backslash (`a\\.` ends in a
/// label's own dot).
fn trim_root_dots(word: &str) -> &str {
    let mut end = word.len();
    while word[..end].ends_with('.') {
        let backslashes = word[..end - 1]
            .bytes()
            .rev()
            .take_while(|b| *b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &word[..end]
}

/// The lookup key of a name: its lowercase text without the root's dot. Only that one dot
/// goes: a label may end in an escaped dot of its own (`a\\.`), which stays.
fn key(name: &Name) -> String {
    let mut text = name.to_lowercase().to_ascii();
    if name.is_fqdn() && text.ends_with('.') {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `stubborn_hosts` fuzz target: a name whose last label ends in a dot of its
    /// own (`b\.`) lost that dot, in its key and when read from a hosts file, leaving a
    /// dangling escape (`b\`).
    #[test]
    fn keys_keep_escaped_dots() {
        let name = Name::from_labels(vec![&b"a"[..], &b"b."[..]]).unwrap();
        assert_eq!(key(&name), "a.b\\.");
        let parsed = Name::from_ascii(key(&name)).unwrap();
        assert_eq!(key(&parsed), key(&name));
        assert_eq!(key(&Name::from_ascii("DB.Example.").unwrap()), "db.example");
        assert_eq!(key(&Name::from_ascii("db").unwrap()), "db");
        // Read from a hosts file, the escaped dot is the label's, the others the root's.
        let hosts = Hosts::parse("192.0.2.1 a.b\\..\n");
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(hosts.lookup(&name).map(|(_, ips)| ips), Some(&[ip][..]));
        assert_eq!(trim_root_dots("x..."), "x");
        assert_eq!(trim_root_dots("x\\.."), "x\\.");
        assert_eq!(trim_root_dots("x\\\\.."), "x\\\\");
    }

    /// Found by the `stubborn_hosts` fuzz target: `.` (or `..`, or `\0`) became the root
    /// name, so a reverse lookup of the address answered `.` and the root resolved.
    #[test]
    fn a_word_of_dots_is_not_a_host_name() {
        let hosts = Hosts::parse("127.0.0.1 .\n192.0.2.1 ... real.example .. \\0\n::1 \\0\n");
        let localhost: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(hosts.reverse(localhost), None);
        assert_eq!(hosts.lookup(&Name::root()), None);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(hosts.reverse(ip).unwrap().to_string(), "real.example.");
        assert_eq!(hosts.by_name.len(), 1, "{:?}", hosts.by_name);
    }

    #[test]
    fn parses_names_aliases_and_comments() {
        let hosts = Hosts::parse(
            "127.0.0.1 localhost\n# comment\n::1 localhost ip6-localhost\n\
             192.0.2.1  db.example  db   # the database\n  \n192.0.2.2 DB.example\nbogus line\n",
        );
        let name = |s: &str| Name::from_ascii(s).unwrap();
        let (canonical, ips) = hosts.lookup(&name("localhost")).unwrap();
        assert_eq!(canonical.to_string(), "localhost.");
        assert_eq!(
            ips,
            &[
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        let (canonical, ips) = hosts.lookup(&name("DB.")).unwrap();
        assert_eq!(canonical.to_string(), "db.example.");
        assert_eq!(ips.len(), 1);
        assert_eq!(hosts.lookup(&name("db.example")).unwrap().1.len(), 2);
        assert_eq!(
            hosts
                .reverse("192.0.2.1".parse().unwrap())
                .unwrap()
                .to_string(),
            "db.example."
        );
        assert!(hosts.lookup(&name("the")).is_none());
    }

    #[test]
    fn missing_file_is_empty() {
        let hosts = Hosts::load(Path::new("/nonexistent/stubborn/hosts"));
        assert!(hosts.by_name.is_empty());
    }
}
