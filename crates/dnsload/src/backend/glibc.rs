//! The glibc resolver-state override: one thread's `_res` pointed at one server.
//!
//! The C side is `csrc/resolv_override.c` (see there why it is C). Each `system` worker thread
//! calls [`apply`] once before its first lookup; the result is read back through the same
//! header and compared with what was asked, and the backend refuses to run if anything
//! differs, so a lookup never silently goes to the machine's own resolver.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// What to change in the thread's resolver state; `None` keeps glibc's value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Override {
    /// The one nameserver.
    pub server: Option<SocketAddrV4>,
    /// Per-attempt timeout in whole seconds (`options timeout:`).
    pub retrans: Option<u32>,
    /// Attempts (`options attempts:`).
    pub retry: Option<u32>,
    /// `options ndots:`.
    pub ndots: Option<u8>,
    /// The search list.
    pub search: Option<Vec<String>>,
}

impl Override {
    /// Whether nothing is to be changed.
    pub fn is_empty(&self) -> bool {
        *self == Override::default()
    }
}

/// A thread's resolver state as glibc holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolverState {
    /// Number of nameservers.
    pub nscount: u32,
    /// The first nameserver (IPv4 only; `None` for IPv6 or none).
    pub server: Option<SocketAddr>,
    /// Per-attempt timeout.
    #[serde(serialize_with = "secs")]
    pub retrans: Duration,
    /// Attempts.
    pub retry: u32,
    /// ndots.
    pub ndots: u8,
    /// Search list.
    pub search: Vec<String>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ResolverState {
    /// Checks that every asked change is in place.
    pub fn verify(&self, asked: &Override) -> Result<()> {
        let mismatch = |what: String| Err(Error::OverrideFailed(what));
        if let Some(server) = asked.server {
            if self.nscount != 1 {
                return mismatch(format!("{} nameservers instead of 1", self.nscount));
            }
            if self.server != Some(SocketAddr::V4(server)) {
                return mismatch(format!(
                    "nameserver is {:?} instead of {server}",
                    self.server
                ));
            }
        }
        if let Some(r) = asked.retrans
            && self.retrans != Duration::from_secs(u64::from(r))
        {
            return mismatch(format!("timeout is {:?} instead of {r}s", self.retrans));
        }
        if let Some(r) = asked.retry
            && self.retry != r
        {
            return mismatch(format!("attempts is {} instead of {r}", self.retry));
        }
        if let Some(n) = asked.ndots
            && self.ndots != n
        {
            return mismatch(format!("ndots is {} instead of {n}", self.ndots));
        }
        if let Some(s) = &asked.search
            && &self.search != s
        {
            return mismatch(format!("search is {:?} instead of {s:?}", self.search));
        }
        Ok(())
    }
}

#[cfg(dnsload_glibc)]
mod ffi {
    use std::ffi::{c_char, c_int};

    #[repr(C)]
    pub struct ResConf {
        pub set_server: c_int,
        pub addr_be: u32,
        pub port: u16,
        pub retrans: c_int,
        pub retry: c_int,
        pub ndots: c_int,
        pub set_search: c_int,
        pub search: *const c_char,
    }

    #[repr(C)]
    pub struct ResState {
        pub nscount: c_int,
        pub family: c_int,
        pub addr_be: u32,
        pub port: u16,
        pub retrans: c_int,
        pub retry: c_int,
        pub ndots: c_int,
        pub nsearch: c_int,
        pub search: [c_char; 256],
    }

    unsafe extern "C" {
        pub fn dnsload_res_apply(conf: *const ResConf) -> c_int;
        pub fn dnsload_res_read(out: *mut ResState);
    }
}

/// Whether this build can override glibc's resolver state.
pub fn supported() -> bool {
    cfg!(dnsload_glibc)
}

/// Applies `asked` to the calling thread's resolver state, reads it back and verifies it.
#[cfg(dnsload_glibc)]
pub fn apply(asked: &Override) -> Result<ResolverState> {
    use std::ffi::CString;

    let search = match &asked.search {
        Some(list) => Some(
            CString::new(list.join(" "))
                .map_err(|_| Error::flag("--search", "contains a NUL byte"))?,
        ),
        None => None,
    };
    let to_c = |v: Option<u32>| v.map_or(-1, |v| i32::try_from(v).unwrap_or(i32::MAX));
    let conf = ffi::ResConf {
        set_server: i32::from(asked.server.is_some()),
        addr_be: asked
            .server
            .map_or(0, |s| u32::from_ne_bytes(s.ip().octets())),
        port: asked.server.map_or(0, |s| s.port()),
        retrans: to_c(asked.retrans),
        retry: to_c(asked.retry),
        ndots: asked.ndots.map_or(-1, i32::from),
        set_search: i32::from(search.is_some()),
        search: search.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
    };
    // SAFETY: `conf` and the string it points to live across the call; the shim only reads
    // them and writes the calling thread's own `_res`.
    let rc = unsafe { ffi::dnsload_res_apply(&conf) };
    let why = match rc {
        0 => None,
        -1 => Some("res_init() failed"),
        -2 => Some("search list longer than 255 characters"),
        -3 => Some("more than 6 search domains"),
        _ => Some("a value is out of glibc's range"),
    };
    if let Some(why) = why {
        return Err(Error::OverrideFailed(why.into()));
    }
    let state = read().ok_or_else(|| Error::OverrideFailed("state not initialised".into()))?;
    state.verify(asked)?;
    Ok(state)
}

/// Without glibc there is no `_res` to override.
#[cfg(not(dnsload_glibc))]
pub fn apply(asked: &Override) -> Result<ResolverState> {
    let _ = asked;
    Err(Error::GlibcRequired(
        "the system backend's resolver override",
    ))
}

/// The calling thread's resolver state, initialising it from the system's configuration if
/// needed (this reads /etc/resolv.conf but sends nothing).
#[cfg(dnsload_glibc)]
pub fn read() -> Option<ResolverState> {
    // SAFETY: ResState is plain data; all-zero is a valid value.
    let mut st: ffi::ResState = unsafe { std::mem::zeroed() };
    // SAFETY: the shim fills the struct it is given from the thread's own `_res`.
    unsafe { ffi::dnsload_res_read(&mut st) };
    if st.nscount == 0 && st.retrans == 0 {
        return None;
    }
    let server = (st.family == libc::AF_INET).then(|| {
        SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(st.addr_be.to_ne_bytes()),
            st.port,
        ))
    });
    let bytes: Vec<u8> = st
        .search
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    let search = String::from_utf8_lossy(&bytes)
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Some(ResolverState {
        nscount: u32::try_from(st.nscount).unwrap_or(0),
        server,
        retrans: Duration::from_secs(u64::try_from(st.retrans).unwrap_or(0)),
        retry: u32::try_from(st.retry).unwrap_or(0),
        ndots: u8::try_from(st.ndots).unwrap_or(1),
        search,
    })
}

/// Without glibc the state is not readable.
#[cfg(not(dnsload_glibc))]
pub fn read() -> Option<ResolverState> {
    None
}

/// Checks that getaddrinfo's host lookups go through glibc's `dns` module (which the override
/// redirects), not through a service that would ask the machine's resolver anyway.
pub fn check_nsswitch(text: &str) -> Result<()> {
    const HARMLESS: [&str; 7] = [
        "files",
        "dns",
        "myhostname",
        "mymachines",
        "mdns_minimal",
        "mdns4_minimal",
        "mdns6_minimal",
    ];
    let Some(line) = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| l.starts_with("hosts:"))
    else {
        // glibc's default without a hosts line is `dns files`.
        return Ok(());
    };
    let services: Vec<&str> = line["hosts:".len()..]
        .split_whitespace()
        .filter(|s| !s.starts_with('['))
        .collect();
    if !services.contains(&"dns") {
        return Err(Error::OverrideFailed(format!(
            "/etc/nsswitch.conf `{line}` has no `dns` service to redirect"
        )));
    }
    if let Some(other) = services.iter().find(|s| !HARMLESS.contains(s)) {
        return Err(Error::OverrideFailed(format!(
            "/etc/nsswitch.conf `{line}`: `{other}` would resolve names without the override"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsswitch_services_that_bypass_the_override_are_refused() {
        assert!(check_nsswitch("hosts:          files dns\n").is_ok());
        assert!(
            check_nsswitch("hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname").is_ok()
        );
        let e = check_nsswitch("hosts: files resolve [!UNAVAIL=return] dns").unwrap_err();
        assert!(e.to_string().contains("`resolve`"), "{e}");
        assert!(check_nsswitch("hosts: files").is_err());
        assert!(check_nsswitch("passwd: files\n").is_ok());
    }

    #[cfg(dnsload_glibc)]
    #[test]
    fn the_override_takes_and_reads_back_on_a_fresh_thread() {
        let asked = Override {
            server: Some("127.0.0.1:5353".parse().unwrap()),
            retrans: Some(1),
            retry: Some(2),
            ndots: Some(5),
            search: Some(vec!["corp.test".into(), "b.test".into()]),
        };
        let state = std::thread::spawn(move || apply(&asked))
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(state.nscount, 1);
        assert_eq!(state.server, Some("127.0.0.1:5353".parse().unwrap()));
        assert_eq!(state.retrans, Duration::from_secs(1));
        assert_eq!(state.retry, 2);
        assert_eq!(state.ndots, 5);
        assert_eq!(state.search, vec!["corp.test", "b.test"]);
    }

    #[cfg(dnsload_glibc)]
    #[test]
    fn without_an_override_a_fresh_thread_reads_the_system_state() {
        // Nothing has called res_init on this thread: read() must initialise it from the
        // system's configuration (reading the file only; nothing is sent), or the system
        // backend's wrong_name rule has no search list. Retrans is never 0 once initialised.
        let state = std::thread::spawn(read).join().unwrap();
        let state = state.expect("read() initialises the thread's resolver state");
        assert!(!state.retrans.is_zero(), "{state:?}");
        assert!(state.retry >= 1, "{state:?}");
    }

    #[test]
    fn verify_names_what_did_not_take() {
        let state = ResolverState {
            nscount: 2,
            server: Some("10.0.0.1:53".parse().unwrap()),
            retrans: Duration::from_secs(5),
            retry: 2,
            ndots: 1,
            search: vec![],
        };
        let asked = Override {
            server: Some("127.0.0.1:5353".parse().unwrap()),
            ..Override::default()
        };
        let e = state.verify(&asked).unwrap_err().to_string();
        assert!(e.contains("2 nameservers instead of 1"), "{e}");
        assert!(e.contains("refusing to fall back"), "{e}");
    }
}
