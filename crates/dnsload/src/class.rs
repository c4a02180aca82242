//! Outcome classes shared by every output, and the `wrong_name` rule.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one lookup of a probe name came to (docs/semantics.md, "Outcome classes"). Every
/// output uses these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// An answer for the name asked (or for a search name, when the name is short).
    Ok,
    /// An answer for a different name: a search-list candidate, for a name with
    /// `dots >= ndots` that was meant to exist as given (glibc after a timeout).
    WrongName,
    /// "No such name" for a probe name, which is expected to exist: a finding.
    Nxdomain,
    /// The name exists but has no records of the type: a finding.
    Nodata,
    /// No reply in time (all attempts spent).
    Timeout,
    /// The server failed (SERVFAIL; for getaddrinfo also REFUSED, which glibc does not tell apart).
    Servfail,
    /// The server refused the query.
    Refused,
    /// The lookup had not returned by the observation deadline (system backend), or no
    /// resolver thread was free to start it in time.
    Hung,
    /// Anything else: malformed replies, network errors, local errors.
    Error,
}

impl Class {
    /// Every class, in the order outputs list them.
    pub const ALL: [Class; 9] = [
        Class::Ok,
        Class::WrongName,
        Class::Nxdomain,
        Class::Nodata,
        Class::Timeout,
        Class::Servfail,
        Class::Refused,
        Class::Hung,
        Class::Error,
    ];

    /// The name used in JSON, metrics and flags (`wrong_name`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::WrongName => "wrong_name",
            Class::Nxdomain => "nxdomain",
            Class::Nodata => "nodata",
            Class::Timeout => "timeout",
            Class::Servfail => "servfail",
            Class::Refused => "refused",
            Class::Hung => "hung",
            Class::Error => "error",
        }
    }

    /// Position in [`Class::ALL`].
    pub fn index(self) -> usize {
        Class::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// Whether this class is a failure (anything but `ok`).
    pub fn is_failure(self) -> bool {
        self != Class::Ok
    }

    /// The classes that mean a wrong result rather than a visible failure: these are what
    /// the human summary calls out with their elapsed times.
    pub fn is_finding(self) -> bool {
        matches!(
            self,
            Class::WrongName | Class::Nxdomain | Class::Nodata | Class::Hung
        )
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a class name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownClass(pub String);

impl fmt::Display for UnknownClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Class::ALL.iter().map(|c| c.as_str()).collect();
        write!(
            f,
            "unknown class `{}` (expected one of {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownClass {}

impl FromStr for Class {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == wanted)
            .ok_or_else(|| UnknownClass(s.to_string()))
    }
}

/// The result of one lookup, as a backend reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The class.
    pub class: Class,
    /// Time the lookup itself took (from the call to its return).
    pub elapsed: Duration,
    /// Addresses returned, if any.
    pub addrs: Vec<IpAddr>,
    /// The name that answered: getaddrinfo's canonical name, the resolver's answering
    /// candidate, or the raw reply's owner name.
    pub answer_name: Option<String>,
    /// A short human detail (error text, EAI code, queue state).
    pub detail: Option<String>,
}

impl Outcome {
    /// An outcome with only a class and an elapsed time.
    pub fn new(class: Class, elapsed: Duration) -> Self {
        Outcome {
            class,
            elapsed,
            addrs: Vec::new(),
            answer_name: None,
            detail: None,
        }
    }

    /// Adds a detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The search-list rule that turns an answer into `wrong_name`.
///
/// A probe name with `dots >= ndots` is tried as given first, so it was meant to exist as
/// given: an answer whose name is `name.<search domain>` means the name itself failed (timed
/// out) and the resolver walked the search list anyway. For a name with `dots < ndots`, answers
/// from search names are the expected result and stay `ok`. Absolute names (ending in `.`)
/// are never searched.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchRule {
    /// The search domains (without trailing dots).
    pub search: Vec<String>,
    /// The ndots threshold.
    pub ndots: u8,
}

impl SearchRule {
    /// Whether an answer named `answer` for the probe `probe` is a wrong name.
    pub fn is_wrong_name(&self, probe: &str, answer: &str) -> bool {
        if probe.ends_with('.') {
            return false;
        }
        let dots = probe.matches('.').count();
        if dots < usize::from(self.ndots) {
            return false;
        }
        // Compared as bytes: the answer comes from the network (or getaddrinfo) and may hold
        // non-ASCII bytes, so a cut at the probe's length need not fall on a char boundary.
        let answer = answer.trim_end_matches('.').as_bytes();
        let probe = probe.as_bytes();
        self.search.iter().any(|domain| {
            let domain = domain.trim_matches('.').as_bytes();
            answer.len() == probe.len() + 1 + domain.len()
                && answer[..probe.len()].eq_ignore_ascii_case(probe)
                && answer[probe.len()] == b'.'
                && answer[probe.len() + 1..].eq_ignore_ascii_case(domain)
        })
    }

    /// Turns an `ok` outcome into `wrong_name` when [`SearchRule::is_wrong_name`] says so.
    pub fn classify(&self, probe: &str, mut outcome: Outcome) -> Outcome {
        if outcome.class == Class::Ok
            && let Some(answer) = &outcome.answer_name
            && self.is_wrong_name(probe, answer)
        {
            outcome.class = Class::WrongName;
            if outcome.detail.is_none() {
                outcome.detail = Some(format!("answer is for search name {answer}"));
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for class in Class::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            assert_eq!(class.as_str().parse::<Class>().unwrap(), class);
            assert_eq!(Class::ALL[class.index()], class);
        }
        assert_eq!("wrong-name".parse::<Class>().unwrap(), Class::WrongName);
        let err = "lost".parse::<Class>().unwrap_err().to_string();
        assert!(err.contains("unknown class `lost`"), "{err}");
    }

    #[test]
    fn wrong_name_only_for_search_answers_to_names_meant_as_given() {
        let rule = SearchRule {
            search: vec!["corp.test".into()],
            ndots: 1,
        };
        assert!(rule.is_wrong_name("drop.test", "drop.test.corp.test."));
        assert!(rule.is_wrong_name("drop.test", "DROP.test.Corp.Test"));
        assert!(!rule.is_wrong_name("drop.test", "drop.test."));
        assert!(!rule.is_wrong_name("drop.test.", "drop.test.corp.test."));
        // A CNAME target is not a search name.
        assert!(!rule.is_wrong_name("drop.test", "cdn.example.net."));
        // Short names are expected to be answered by search names.
        assert!(!rule.is_wrong_name("myservice", "myservice.corp.test."));
        let k8s = SearchRule {
            search: vec!["corp.test".into()],
            ndots: 5,
        };
        assert!(!k8s.is_wrong_name("drop.test", "drop.test.corp.test."));
    }

    #[test]
    fn wrong_name_survives_non_ascii_answers() {
        let rule = SearchRule {
            search: vec!["c".into()],
            ndots: 0,
        };
        // As long as "ab.c" in bytes, but byte 2 falls inside "é": no panic, no match.
        assert!(!rule.is_wrong_name("ab", "aéc"));
        assert!(!rule.is_wrong_name("é", "é.d"));
        assert!(rule.is_wrong_name("é", "é.C."));
    }

    #[test]
    fn classify_only_changes_ok() {
        let rule = SearchRule {
            search: vec!["corp.test".into()],
            ndots: 1,
        };
        let mut ok = Outcome::new(Class::Ok, Duration::from_secs(2));
        ok.answer_name = Some("drop.test.corp.test.".into());
        assert_eq!(
            rule.classify("drop.test", ok.clone()).class,
            Class::WrongName
        );
        let mut nx = ok;
        nx.class = Class::Nxdomain;
        assert_eq!(rule.classify("drop.test", nx).class, Class::Nxdomain);
    }
}
