//! The one error type of the dnsload library.

use std::path::PathBuf;

use crate::plan::SYSTEM_RESOLV_CONF;

/// Everything that can stop dnsload before or during a run. Each variant says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flag has a value dnsload cannot use; fix the value.
    #[error("invalid {flag}: {reason}")]
    InvalidFlag {
        /// The flag, as written on the command line (`--rate`).
        flag: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// Two flags that cannot be used together; drop one.
    #[error("{first} cannot be used with {second}: {why}")]
    Conflict {
        /// The first flag.
        first: &'static str,
        /// The second flag.
        second: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A run without `--count` or `--duration`; give at least one.
    #[error("refusing an unbounded run: give --count N and/or --duration DUR")]
    Unbounded,
    /// No probe name; give `--name` or `--names FILE`.
    #[error("no names to look up: give --name NAME or --names FILE")]
    NoNames,
    /// Reading or writing a file failed; check the path and permissions.
    #[error("{action} {path}: {source}")]
    File {
        /// What was being done ("cannot read", "cannot create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file's contents could not be understood; check that it is a dnsload output.
    #[error("{path}: {reason}")]
    BadInput {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, with a line number where there is one.
        reason: String,
    },
    /// The run would send its queries wherever this machine's own resolver configuration
    /// points; name a server, or pass `--use-system-config` to mean it.
    #[error(
        "{0} would send queries wherever this machine's resolver configuration ({SYSTEM_RESOLV_CONF}) points: name the server with --server ADDR, or pass --use-system-config to use the machine's configuration on purpose"
    )]
    SystemConfigNotAsked(&'static str),
    /// The metrics address is not loopback; pass `--metrics-public` to expose it on purpose.
    #[error(
        "--metrics {0} is not a loopback address: add --metrics-public to serve metrics beyond this host"
    )]
    MetricsNotLoopback(std::net::SocketAddr),
    /// The system backend's resolver override did not take, so lookups would go to the
    /// machine's own resolver; dnsload refuses instead.
    #[error(
        "glibc resolver override did not take ({0}): refusing to fall back to /etc/resolv.conf"
    )]
    OverrideFailed(String),
    /// The requested backend feature needs glibc (the C library the resolver override knows).
    #[error("{0} needs glibc: this dnsload was built for a different C library")]
    GlibcRequired(&'static str),
    /// The stub resolver could not be configured; check the resolver flags or file.
    #[error("resolver configuration: {0}")]
    Resolver(#[source] stubborn::Error),
    /// A socket or runtime operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The in-process DNS server of the demo could not start.
    #[error("demo server: {0}")]
    Demo(String),
}

impl Error {
    /// An [`Error::InvalidFlag`].
    pub(crate) fn flag(flag: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidFlag {
            flag,
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`].
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An [`Error::File`].
    pub(crate) fn file(
        action: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Self {
        Error::File {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error is a broken pipe (a closed stdout is not a failure).
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            Error::File { source, .. } | Error::Io { source, .. } => source,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::BrokenPipe
    }
}

/// dnsload's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
