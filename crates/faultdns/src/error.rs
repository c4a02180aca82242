//! The one error type of the faultdns library.

use std::{io, net::SocketAddr, path::PathBuf};

/// Everything that can go wrong while configuring or starting a faultdns server.
///
/// Queries never produce errors: a bad packet is counted (see [`crate::Counters`]) and answered
/// or ignored as an authoritative server would.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule did not parse. `token` is the offending word of `rule`; fix it or see the rule
    /// syntax in the crate documentation.
    #[error("bad rule `{rule}`: {reason} (at `{token}`)")]
    Rule {
        /// The whole rule text.
        rule: String,
        /// The token that could not be understood.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Zone text did not parse. `source_name` is the file name (or `zone text` for text given
    /// in code), `line` the 1-based line of the first bad entry when it can be located.
    #[error("bad zone data in {source_name}{}{}: {reason}", line_suffix(*line, text), token_suffix(token))]
    Zone {
        /// The file the zone came from, or `zone text`.
        source_name: String,
        /// The 1-based line number of the bad entry, when known.
        line: Option<usize>,
        /// The text of that line, when known.
        text: Option<String>,
        /// The token the parser choked on, when it can be singled out.
        token: Option<String>,
        /// What the zone parser reported.
        reason: String,
    },
    /// A one-line record (`--record`) did not parse.
    #[error("bad record `{record}`{}: {reason}", token_suffix(token))]
    Record {
        /// The record text.
        record: String,
        /// The token the parser choked on, when it can be singled out.
        token: Option<String>,
        /// What the parser reported.
        reason: String,
    },
    /// A synthesis suffix is not a valid domain name.
    #[error("bad synthesis suffix `{suffix}`: {reason}")]
    Synthesis {
        /// The suffix as given.
        suffix: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file (zone file, log file) could not be read or created.
    #[error("cannot open {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A listen address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A rule's action cannot be carried out where the rule was given (in the hickory-server
    /// layer: `wrong-id` and `malformed`, which only the faultdns server can send). Use the
    /// faultdns server for these, or another action.
    #[error(
        "rule `{rule}`: `{action}` is not available in the hickory-server layer (hickory-server encodes every response itself); use the faultdns server for it"
    )]
    Unsupported {
        /// The rule, in canonical text.
        rule: String,
        /// The action that is not available.
        action: &'static str,
    },
    /// A socket towards an upstream could not be opened (no route, no such address family).
    #[error("cannot open a socket to upstream {addr}: {source}")]
    Upstream {
        /// The upstream address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

fn line_suffix(line: Option<usize>, text: &Option<String>) -> String {
    match (line, text) {
        (Some(line), Some(text)) => format!(" line {line} (`{}`)", text.trim()),
        (Some(line), None) => format!(" line {line}"),
        _ => String::new(),
    }
}

fn token_suffix(token: &Option<String>) -> String {
    token
        .as_ref()
        .map(|t| format!(" at `{t}`"))
        .unwrap_or_default()
}
