//! The soak's verdicts, as pure code: how a lookup's result is classified and judged against
//! what the server holds, and the per-interval checks on memory, descriptors and deadlines.
//! Every time is passed in (durations since the soak started, or elapsed times measured by the
//! caller), so the tests below feed made-up samples and see each check fire.

use std::{fmt, time::Duration};

use serde::Serialize;

/// How one lookup ended, in the classes the soak counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// An answer with records.
    Ok,
    /// The name exists but has no records of the type (NODATA).
    NoData,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// SERVFAIL (or FORMERR) from the server.
    ServFail,
    /// REFUSED (or NOTIMP) from the server.
    Refused,
    /// Gave up for lack of replies before the lookup's deadline (its attempts were spent).
    Timeout,
    /// Gave up for lack of replies at the lookup's deadline.
    Deadline,
    /// Dropped by the caller before it ended.
    Cancelled,
    /// Anything else: network errors, malformed replies.
    Other,
}

impl Class {
    /// Every class, in table order.
    pub const ALL: [Class; 9] = [
        Class::Ok,
        Class::NoData,
        Class::NxDomain,
        Class::ServFail,
        Class::Refused,
        Class::Timeout,
        Class::Deadline,
        Class::Cancelled,
        Class::Other,
    ];

    /// Column label.
    pub fn label(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::NoData => "nodata",
            Class::NxDomain => "nxdomain",
            Class::ServFail => "servfail",
            Class::Refused => "refused",
            Class::Timeout => "timeout",
            Class::Deadline => "deadline",
            Class::Cancelled => "cancelled",
            Class::Other => "other",
        }
    }

    fn index(self) -> usize {
        Class::ALL.iter().position(|&c| c == self).unwrap_or(0)
    }
}

/// What a lookup reported, reduced to what the verdicts need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reported {
    /// An answer; `expected_records` tells whether every record in it is one the server holds
    /// for the name (and there is at least one).
    Answer {
        /// Whether the records are the name's own.
        expected_records: bool,
    },
    /// An error of this kind.
    Error(stubborn::ErrorKind),
    /// The caller dropped the lookup first.
    Cancelled,
}

/// Classify a result. A timeout is `Deadline` when it came at the lookup's deadline (its
/// elapsed time, as the caller measured it, reaches the deadline less 1 ms: timers fire on
/// whole milliseconds), else `Timeout`.
pub fn classify(reported: Reported, elapsed: Duration, deadline: Duration) -> Class {
    use stubborn::ErrorKind as K;
    match reported {
        Reported::Answer { .. } => Class::Ok,
        Reported::Cancelled => Class::Cancelled,
        Reported::Error(K::NoData) => Class::NoData,
        Reported::Error(K::NxDomain) => Class::NxDomain,
        Reported::Error(K::ServFail) => Class::ServFail,
        Reported::Error(K::Refused) => Class::Refused,
        Reported::Error(K::Timeout) => {
            if elapsed + Duration::from_millis(1) >= deadline {
                Class::Deadline
            } else {
                Class::Timeout
            }
        }
        Reported::Error(_) => Class::Other,
    }
}

/// What the server holds for a name asked, so what a truthful resolver may say (besides any
/// failure: under faults, every lookup may time out or fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Truth {
    /// The name exists with records of the type asked: only those records may come back.
    Records,
    /// The name exists without records of the type asked: NODATA is the only negative answer.
    NoData,
    /// The name does not exist: NXDOMAIN is the only negative answer, and no records.
    NxDomain,
}

/// A result that contradicts the server's data: a lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lie {
    /// An existing name reported as not existing (NXDOMAIN), or as having no records of a type
    /// it has (NODATA): the iron rule broken.
    NotFound,
    /// Records the server never gave for the name.
    WrongRecords,
    /// An existing name without records of the type reported as not existing.
    NxDomainForNoData,
    /// A name that does not exist reported as existing (records or NODATA).
    ExistsForNxDomain,
}

impl fmt::Display for Lie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lie::NotFound => "an existing name was reported not found",
            Lie::WrongRecords => "an answer held records the server never gave",
            Lie::NxDomainForNoData => {
                "an existing name (without records of the type) was reported as not existing"
            }
            Lie::ExistsForNxDomain => "a name that does not exist was reported as existing",
        })
    }
}

/// Judge a result against the truth: `Some` when it is a lie. Failures (timeouts, SERVFAIL,
/// REFUSED, network, malformed) and cancellations are never lies: they claim nothing about
/// the name.
pub fn judge(truth: Truth, reported: Reported) -> Option<Lie> {
    use stubborn::ErrorKind as K;
    match (truth, reported) {
        (_, Reported::Cancelled) => None,
        (Truth::Records, Reported::Answer { expected_records }) => {
            (!expected_records).then_some(Lie::WrongRecords)
        }
        (Truth::Records, Reported::Error(K::NxDomain | K::NoData)) => Some(Lie::NotFound),
        (Truth::NoData, Reported::Answer { .. }) => Some(Lie::WrongRecords),
        (Truth::NoData, Reported::Error(K::NxDomain)) => Some(Lie::NxDomainForNoData),
        (Truth::NxDomain, Reported::Answer { .. } | Reported::Error(K::NoData)) => {
            Some(Lie::ExistsForNxDomain)
        }
        _ => None,
    }
}

/// How far past its deadline a lookup returned (zero when it returned in time).
pub fn overrun(elapsed: Duration, deadline: Duration) -> Duration {
    elapsed.saturating_sub(deadline)
}

/// How late a timer woke: the time it woke less the time it was set for (zero if early).
pub fn lateness(target: Duration, woke: Duration) -> Duration {
    woke.saturating_sub(target)
}

/// Lookups an open loop at `rate` per second should have started `elapsed` after its start:
/// lookup `i` is due at `i / rate` s, so this is `floor(elapsed * rate) + 1` (lookup 0 at once).
pub fn due(elapsed: Duration, rate: u64) -> u64 {
    let n = elapsed.as_nanos().saturating_mul(u128::from(rate)) / 1_000_000_000;
    u64::try_from(n).unwrap_or(u64::MAX).saturating_add(1)
}

/// Counts per class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts([u64; 9]);

impl Counts {
    /// Count one lookup.
    pub fn add(&mut self, class: Class) {
        self.0[class.index()] += 1;
    }

    /// The count of one class.
    pub fn get(&self, class: Class) -> u64 {
        self.0[class.index()]
    }

    /// Lookups counted.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Sum of two counts.
    pub fn plus(&self, other: &Counts) -> Counts {
        let mut sum = *self;
        for (a, b) in sum.0.iter_mut().zip(other.0) {
            *a += b;
        }
        sum
    }
}

impl Serialize for Counts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = s.serialize_map(Some(Class::ALL.len()))?;
        for class in Class::ALL {
            map.serialize_entry(class.label(), &self.get(class))?;
        }
        map.end()
    }
}

/// One lie, with what identifies it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LieSeen {
    /// Which lie.
    pub lie: Lie,
    /// The name asked.
    pub name: String,
    /// What was asked (`A+AAAA` or a record type).
    pub asked: String,
    /// The resolver's own words (its error or answer).
    pub said: String,
    /// Time the lookup took.
    #[serde(serialize_with = "ms")]
    pub elapsed: Duration,
}

/// What one interval measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// When the interval began, since the soak started.
    #[serde(serialize_with = "ms")]
    pub start: Duration,
    /// When it ended.
    #[serde(serialize_with = "ms")]
    pub end: Duration,
    /// Lookups started in it.
    pub started: u64,
    /// Lookups that ended in it, per class.
    pub counts: Counts,
    /// Latency percentiles of the lookups that ended in it (cancelled ones left out), ms.
    pub latency_ms: Percentiles,
    /// Largest resident set size seen in it, KiB (sampled every 100 ms to 1 s).
    pub rss_kib: u64,
    /// Most open descriptors seen in it.
    pub fds: u64,
    /// Queries the server received in it.
    pub server_queries: u64,
    /// Longest overrun of a lookup's deadline among those that ended in it.
    #[serde(serialize_with = "ms")]
    pub overrun_max: Duration,
    /// Latest wake-up of the plain timer probe in it.
    #[serde(serialize_with = "ms")]
    pub lateness_max: Duration,
    /// Lies in it: the first few in full, all counted.
    pub lies: Vec<LieSeen>,
    /// Lies in it, all of them.
    pub lies_total: u64,
    /// The first few `other` results in it, in the resolver's words.
    pub others: Vec<String>,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// What the soak allows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bounds {
    /// The warm-up: samples that end by then set the RSS baseline and are not held to it.
    #[serde(serialize_with = "ms")]
    pub warmup: Duration,
    /// How far RSS may rise above the warm-up's largest, KiB.
    pub rss_margin_kib: u64,
    /// Most open descriptors allowed at any time.
    pub max_fds: u64,
    /// How far a lookup may overrun its deadline beyond the timer probe's lateness.
    #[serde(serialize_with = "ms")]
    pub overrun_slack: Duration,
}

/// A check that failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Violation {
    /// Resident memory grew past the warm-up's plus the margin.
    Memory {
        /// End of the interval, since the start.
        #[serde(serialize_with = "ms")]
        at: Duration,
        /// RSS seen, KiB.
        rss_kib: u64,
        /// The limit, KiB.
        limit_kib: u64,
    },
    /// More descriptors open than the bound.
    Descriptors {
        /// End of the interval (or of the run, for the count after the resolver was dropped).
        #[serde(serialize_with = "ms")]
        at: Duration,
        /// Descriptors seen.
        fds: u64,
        /// The bound.
        bound: u64,
        /// Where: `running` or `after-drop`.
        when: &'static str,
    },
    /// A lookup reported something the server's data contradicts.
    Lie {
        /// End of the interval.
        #[serde(serialize_with = "ms")]
        at: Duration,
        /// The first such lookup in the interval.
        first: LieSeen,
        /// How many in the interval.
        count: u64,
    },
    /// A lookup returned later past its deadline than timers are late, plus the slack.
    Overrun {
        /// End of the interval.
        #[serde(serialize_with = "ms")]
        at: Duration,
        /// The longest overrun.
        #[serde(serialize_with = "ms")]
        overrun: Duration,
        /// The probe's largest lateness that counted (this interval's or the previous one's).
        #[serde(serialize_with = "ms")]
        lateness: Duration,
        /// The allowance: the probe's lateness plus the slack.
        #[serde(serialize_with = "ms")]
        allowed: Duration,
    },
    /// Lookups still running well past every deadline when the run ended.
    Hung {
        /// How many.
        count: u64,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |d: &Duration| d.as_secs_f64();
        let mib = |k: &u64| *k as f64 / 1024.0;
        match self {
            Violation::Memory {
                at,
                rss_kib,
                limit_kib,
            } => write!(
                f,
                "memory: RSS {:.1} MiB at {:.0} s is above the warm-up's largest plus the margin \
                 ({:.1} MiB)",
                mib(rss_kib),
                s(at),
                mib(limit_kib)
            ),
            Violation::Descriptors {
                at,
                fds,
                bound,
                when,
            } => write!(
                f,
                "descriptors: {fds} open at {:.0} s ({when}), above the bound of {bound}",
                s(at)
            ),
            Violation::Lie { at, first, count } => write!(
                f,
                "lie: {} ({count} in the interval ending at {:.0} s); first: {} {} said {:?} \
                 after {:.3} s",
                first.lie,
                s(at),
                first.name,
                first.asked,
                first.said,
                s(&first.elapsed)
            ),
            Violation::Overrun {
                at,
                overrun,
                lateness,
                allowed,
            } => write!(
                f,
                "deadline: a lookup returned {:.1} ms past its deadline in the interval ending \
                 at {:.0} s; timers were at most {:.1} ms late, so {:.1} ms was allowed",
                overrun.as_secs_f64() * 1e3,
                s(at),
                lateness.as_secs_f64() * 1e3,
                allowed.as_secs_f64() * 1e3
            ),
            Violation::Hung { count } => write!(
                f,
                "deadline: {count} lookups were still running long after every deadline when \
                 the run ended"
            ),
        }
    }
}

/// Applies the bounds to samples as they come, remembering what the checks need.
#[derive(Clone, Debug)]
pub struct Checker {
    bounds: Bounds,
    warm_rss_kib: u64,
    prev_lateness: Duration,
}

impl Checker {
    /// A checker for these bounds.
    pub fn new(bounds: Bounds) -> Checker {
        Checker {
            bounds,
            warm_rss_kib: 0,
            prev_lateness: Duration::ZERO,
        }
    }

    /// The RSS limit after the warm-up (KiB), once the warm-up has been seen.
    pub fn rss_limit_kib(&self) -> Option<u64> {
        (self.warm_rss_kib > 0).then(|| self.warm_rss_kib + self.bounds.rss_margin_kib)
    }

    /// Check one interval's sample (samples in time order); returns what failed.
    ///
    /// - Memory: samples ending by the end of the warm-up set the baseline (their largest
    ///   RSS); later ones may not exceed it by more than the margin.
    /// - Descriptors: never above the bound.
    /// - Lies: none.
    /// - Deadlines: the longest overrun in the interval may not exceed the probe's largest
    ///   lateness in this interval or the one before (a stall that straddles the boundary is
    ///   seen by the probe in one and by lookups in the other), plus the slack.
    pub fn observe(&mut self, s: &Sample) -> Vec<Violation> {
        let mut out = Vec::new();
        if s.end <= self.bounds.warmup || self.warm_rss_kib == 0 {
            self.warm_rss_kib = self.warm_rss_kib.max(s.rss_kib);
        } else if let Some(limit) = self.rss_limit_kib()
            && s.rss_kib > limit
        {
            out.push(Violation::Memory {
                at: s.end,
                rss_kib: s.rss_kib,
                limit_kib: limit,
            });
        }
        if s.fds > self.bounds.max_fds {
            out.push(Violation::Descriptors {
                at: s.end,
                fds: s.fds,
                bound: self.bounds.max_fds,
                when: "running",
            });
        }
        if let Some(first) = s.lies.first() {
            out.push(Violation::Lie {
                at: s.end,
                first: first.clone(),
                count: s.lies_total.max(s.lies.len() as u64),
            });
        }
        let lateness = s.lateness_max.max(self.prev_lateness);
        let allowed = lateness + self.bounds.overrun_slack;
        if s.overrun_max > allowed {
            out.push(Violation::Overrun {
                at: s.end,
                overrun: s.overrun_max,
                lateness,
                allowed,
            });
        }
        self.prev_lateness = s.lateness_max;
        out
    }
}

/// Serialise a duration as (fractional) milliseconds.
fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stubborn::ErrorKind as K;

    const S: Duration = Duration::from_secs(1);
    const MS: Duration = Duration::from_millis(1);

    fn bounds() -> Bounds {
        Bounds {
            warmup: S * 60,
            rss_margin_kib: 32 * 1024,
            max_fds: 300,
            overrun_slack: MS * 10,
        }
    }

    /// A quiet interval ending at `end_s`.
    fn sample(end_s: u32) -> Sample {
        Sample {
            start: S * (end_s - 60),
            end: S * end_s,
            rss_kib: 50_000,
            fds: 100,
            lateness_max: MS * 2,
            overrun_max: MS * 3,
            ..Sample::default()
        }
    }

    #[test]
    fn a_quiet_run_passes() {
        let mut c = Checker::new(bounds());
        for end in [60, 120, 180, 240] {
            assert_eq!(c.observe(&sample(end)), vec![], "at {end} s");
        }
        assert_eq!(c.rss_limit_kib(), Some(50_000 + 32 * 1024));
    }

    #[test]
    fn memory_may_grow_during_the_warmup_but_not_after() {
        let mut c = Checker::new(bounds());
        // The warm-up may grow as it likes: the cache fills, pools open.
        assert!(c.observe(&sample(60)).is_empty());
        let warm = Sample {
            rss_kib: 80_000,
            ..sample(60)
        };
        assert!(c.observe(&warm).is_empty());
        let within = Sample {
            rss_kib: 80_000 + 32 * 1024,
            ..sample(120)
        };
        assert!(c.observe(&within).is_empty());
        let grown = Sample {
            rss_kib: 80_000 + 32 * 1024 + 1,
            ..sample(180)
        };
        let v = c.observe(&grown);
        assert_eq!(
            v,
            vec![Violation::Memory {
                at: S * 180,
                rss_kib: 80_000 + 32 * 1024 + 1,
                limit_kib: 80_000 + 32 * 1024
            }]
        );
        assert!(v[0].to_string().starts_with("memory: RSS"), "{}", v[0]);
    }

    #[test]
    fn a_run_shorter_than_the_warmup_takes_its_first_sample_as_baseline() {
        // With intervals longer than the warm-up the first sample is the baseline all the same.
        let mut c = Checker::new(Bounds {
            warmup: S * 10,
            ..bounds()
        });
        assert!(c.observe(&sample(60)).is_empty());
        let grown = Sample {
            rss_kib: 50_000 + 40 * 1024,
            ..sample(120)
        };
        assert_eq!(c.observe(&grown).len(), 1);
    }

    #[test]
    fn descriptors_above_the_bound_fail_even_in_the_warmup() {
        let mut c = Checker::new(bounds());
        let at_bound = Sample {
            fds: 300,
            ..sample(60)
        };
        assert!(c.observe(&at_bound).is_empty());
        let over = Sample {
            fds: 301,
            ..sample(120)
        };
        let v = c.observe(&over);
        assert!(
            matches!(
                v.as_slice(),
                [Violation::Descriptors {
                    fds: 301,
                    bound: 300,
                    ..
                }]
            ),
            "{v:?}"
        );
        assert!(v[0].to_string().contains("301 open"), "{}", v[0]);
    }

    #[test]
    fn a_not_found_for_an_existing_name_fails() {
        let mut c = Checker::new(bounds());
        let lie = LieSeen {
            lie: Lie::NotFound,
            name: "n7.g3.soak.test.".into(),
            asked: "A+AAAA".into(),
            said: "n7.g3.soak.test. does not exist".into(),
            elapsed: S * 2,
        };
        let s = Sample {
            lies: vec![lie.clone()],
            lies_total: 4,
            ..sample(60)
        };
        let v = c.observe(&s);
        assert_eq!(
            v,
            vec![Violation::Lie {
                at: S * 60,
                first: lie,
                count: 4
            }]
        );
        let text = v[0].to_string();
        assert!(
            text.contains("existing name was reported not found") && text.contains("n7.g3"),
            "{text}"
        );
    }

    #[test]
    fn an_overrun_beyond_the_timer_lateness_plus_slack_fails() {
        let mut c = Checker::new(bounds());
        // Timers 2 ms late: 12 ms allowed.
        let ok = Sample {
            overrun_max: MS * 12,
            ..sample(60)
        };
        assert!(c.observe(&ok).is_empty());
        let late = Sample {
            overrun_max: MS * 13,
            ..sample(120)
        };
        let v = c.observe(&late);
        assert_eq!(
            v,
            vec![Violation::Overrun {
                at: S * 120,
                overrun: MS * 13,
                lateness: MS * 2,
                allowed: MS * 12
            }]
        );
        assert!(v[0].to_string().contains("13.0 ms past"), "{}", v[0]);
    }

    #[test]
    fn a_stall_seen_by_the_probe_allows_as_much_overrun_in_the_next_interval() {
        let mut c = Checker::new(bounds());
        // The runtime stalled 200 ms near the end of an interval: the probe saw it there ...
        let stall = Sample {
            lateness_max: MS * 200,
            ..sample(60)
        };
        assert!(c.observe(&stall).is_empty());
        // ... and the lookups it held up ended in the next one.
        let after = Sample {
            overrun_max: MS * 205,
            ..sample(120)
        };
        assert!(c.observe(&after).is_empty());
        // Two intervals later the stall no longer excuses anything.
        let later = Sample {
            overrun_max: MS * 205,
            ..sample(180)
        };
        assert_eq!(c.observe(&later).len(), 1);
    }

    #[test]
    fn classes() {
        let d = S * 5;
        let answer = Reported::Answer {
            expected_records: true,
        };
        assert_eq!(classify(answer, MS, d), Class::Ok);
        assert_eq!(classify(Reported::Cancelled, MS, d), Class::Cancelled);
        assert_eq!(classify(Reported::Error(K::NoData), MS, d), Class::NoData);
        assert_eq!(
            classify(Reported::Error(K::NxDomain), MS, d),
            Class::NxDomain
        );
        assert_eq!(
            classify(Reported::Error(K::ServFail), MS, d),
            Class::ServFail
        );
        assert_eq!(classify(Reported::Error(K::Refused), MS, d), Class::Refused);
        assert_eq!(classify(Reported::Error(K::Network), MS, d), Class::Other);
        assert_eq!(classify(Reported::Error(K::Malformed), MS, d), Class::Other);
        // A timeout before the deadline is the attempts spent; at it, the deadline.
        let t = Reported::Error(K::Timeout);
        assert_eq!(classify(t, S * 3, d), Class::Timeout);
        assert_eq!(classify(t, d - MS * 2, d), Class::Timeout);
        assert_eq!(classify(t, d - MS, d), Class::Deadline);
        assert_eq!(classify(t, d + MS * 40, d), Class::Deadline);
    }

    #[test]
    fn judging_results_against_the_data() {
        let good = Reported::Answer {
            expected_records: true,
        };
        let bad = Reported::Answer {
            expected_records: false,
        };
        let e = Reported::Error;
        // Failures never lie, whatever the truth.
        for truth in [Truth::Records, Truth::NoData, Truth::NxDomain] {
            for kind in [
                K::Timeout,
                K::ServFail,
                K::Refused,
                K::Network,
                K::Malformed,
            ] {
                assert_eq!(judge(truth, e(kind)), None, "{truth:?} {kind:?}");
            }
            assert_eq!(judge(truth, Reported::Cancelled), None);
        }
        assert_eq!(judge(Truth::Records, good), None);
        assert_eq!(judge(Truth::Records, bad), Some(Lie::WrongRecords));
        assert_eq!(judge(Truth::Records, e(K::NxDomain)), Some(Lie::NotFound));
        assert_eq!(judge(Truth::Records, e(K::NoData)), Some(Lie::NotFound));
        assert_eq!(judge(Truth::NoData, e(K::NoData)), None);
        assert_eq!(judge(Truth::NoData, good), Some(Lie::WrongRecords));
        assert_eq!(
            judge(Truth::NoData, e(K::NxDomain)),
            Some(Lie::NxDomainForNoData)
        );
        assert_eq!(judge(Truth::NxDomain, e(K::NxDomain)), None);
        assert_eq!(judge(Truth::NxDomain, good), Some(Lie::ExistsForNxDomain));
        assert_eq!(
            judge(Truth::NxDomain, e(K::NoData)),
            Some(Lie::ExistsForNxDomain)
        );
    }

    #[test]
    fn overrun_lateness_and_the_open_loop_schedule() {
        assert_eq!(overrun(S * 5 + MS * 7, S * 5), MS * 7);
        assert_eq!(overrun(S * 4, S * 5), Duration::ZERO);
        assert_eq!(lateness(MS * 10, MS * 13), MS * 3);
        assert_eq!(lateness(MS * 10, MS * 9), Duration::ZERO);
        // 2,000 per second: one at once, then one every 500 µs.
        assert_eq!(due(Duration::ZERO, 2000), 1);
        assert_eq!(due(Duration::from_micros(499), 2000), 1);
        assert_eq!(due(Duration::from_micros(500), 2000), 2);
        assert_eq!(due(S, 2000), 2001);
        assert_eq!(due(S * 600, 2000), 1_200_001);
        assert_eq!(due(Duration::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn counts_add_up_and_serialise_by_label() {
        let mut c = Counts::default();
        c.add(Class::Ok);
        c.add(Class::Ok);
        c.add(Class::Deadline);
        let sum = c.plus(&c);
        assert_eq!((sum.get(Class::Ok), sum.total()), (4, 6));
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["ok"], 2);
        assert_eq!(json["deadline"], 1);
        assert_eq!(json["cancelled"], 0);
    }
}
