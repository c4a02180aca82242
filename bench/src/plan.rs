//! What a run measures: the scenarios, their sizes (full or quick), and the fault
//! rules the server applies during each.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

/// The suffix the server synthesises answers under; every name asked ends with it.
pub const SUFFIX: &str = "bench.test.";
/// Names under this label are dropped by the server in the deadline and memory scenarios.
pub const DROP_LABEL: &str = "drop";

/// One scenario run against one peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scenario {
    /// Closed loop: `concurrency` lookups in flight, unique names, for `duration`.
    Throughput {
        /// Lookups in flight at once.
        concurrency: usize,
        /// How long lookups are started for.
        #[serde(with = "millis")]
        duration: Duration,
    },
    /// Open loop at a fixed rate while the server loses queries.
    Tail {
        /// The loss pattern.
        loss: Loss,
        /// Lookups started.
        lookups: u64,
        /// Lookups started per second.
        rate: u64,
    },
    /// `concurrent` lookups at once against a server that drops them all.
    Deadline {
        /// Lookups started together.
        concurrent: usize,
    },
    /// `concurrent` lookups in flight against a dropping server: memory and descriptors.
    Memory {
        /// Lookups started together.
        concurrent: usize,
        /// The worker's open-file limit, when the scenario sets one (services often run with
        /// the default soft limit of 1,024); otherwise raised as far as allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fd_limit: Option<u64>,
    },
    /// A fresh process builds the resolver from a resolv.conf and resolves one name.
    ColdStart,
}

/// A loss (or latency) pattern injected by faultdns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Each query dropped independently with probability 1%.
    OnePercent,
    /// Each query dropped independently with probability 10%.
    TenPercent,
    /// Gilbert-Elliott bursts: 5% of queries dropped, in runs of 20 on average.
    Bursty,
    /// No loss, but a recursive resolver's two modes: 30% of queries answered 20-200 ms late
    /// (cache misses), the rest at once. Every re-send here is needless.
    Bimodal,
}

/// Delays of the bimodal pattern: ten steps of 20 ms from 20 to 200 ms, each for 3% of
/// queries.
const BIMODAL_STEPS: u32 = 10;

impl Loss {
    /// Every pattern, in table order.
    pub const ALL: [Loss; 4] = [
        Loss::OnePercent,
        Loss::TenPercent,
        Loss::Bursty,
        Loss::Bimodal,
    ];

    /// The faultdns rules that produce the pattern.
    pub fn rules(self) -> Vec<String> {
        match self {
            Loss::OnePercent => vec!["drop p=0.01".to_owned()],
            Loss::TenPercent => vec!["drop p=0.1".to_owned()],
            Loss::Bursty => vec!["drop burst=20 loss=0.05".to_owned()],
            // The first rule that fires decides: rule k fires with 3% / (1 - 3% k), so each
            // of the ten delays gets 3% of all queries.
            Loss::Bimodal => (0..BIMODAL_STEPS)
                .map(|k| {
                    let p = 0.03 / (1.0 - 0.03 * f64::from(k));
                    format!("answer p={p:.6} delay={}ms", 20 * (k + 1))
                })
                .collect(),
        }
    }

    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Loss::OnePercent => "1% loss",
            Loss::TenPercent => "10% loss",
            Loss::Bursty => "bursty 5% (runs of 20)",
            Loss::Bimodal => "bimodal (30% 20-200 ms late, no loss)",
        }
    }
}

impl Scenario {
    /// The faultdns rules in force while this scenario runs.
    pub fn rules(&self) -> Vec<String> {
        match self {
            Scenario::Throughput { .. } | Scenario::ColdStart => vec![],
            Scenario::Tail { loss, .. } => loss.rules(),
            Scenario::Deadline { .. } | Scenario::Memory { .. } => {
                vec![format!("drop name=*.{DROP_LABEL}.{SUFFIX}")]
            }
        }
    }

    /// Lookups that will be in flight at once, at most (sizes thread pools).
    pub fn max_in_flight(&self) -> usize {
        match self {
            Scenario::Throughput { concurrency, .. } => *concurrency,
            // Sized for the worst loss: the pool must not be what limits the open loop.
            Scenario::Tail { .. } => 1024,
            Scenario::Deadline { concurrent } | Scenario::Memory { concurrent, .. } => *concurrent,
            Scenario::ColdStart => 1,
        }
    }

    /// Whether `peer` runs this scenario: 100,000 lookups in flight are for the event-driven
    /// libraries that can hold them (stubborn, and c-ares as the reference); hickory would need
    /// some 5 GiB and a socket per query, and glibc has at most 1,024 threads in flight anyway.
    /// stubborn with its cache and coalescing on runs throughput at c=64 and memory, to show
    /// what they cost.
    pub fn for_peer(&self, peer: crate::peer::PeerKind) -> bool {
        use crate::peer::PeerKind;
        match self {
            Scenario::Memory { concurrent, .. } if *concurrent > 10_000 => {
                matches!(peer, PeerKind::Stubborn | PeerKind::CAres)
            }
            _ if peer == PeerKind::StubbornDefaults => matches!(
                self,
                Scenario::Throughput {
                    concurrency: 64,
                    ..
                } | Scenario::Memory { fd_limit: None, .. }
            ),
            _ => true,
        }
    }

    /// A short label for tables and progress lines.
    pub fn label(&self) -> String {
        match self {
            Scenario::Throughput { concurrency, .. } => format!("throughput c={concurrency}"),
            Scenario::Tail { loss, .. } => format!("tail {}", loss.label()),
            Scenario::Deadline { concurrent } => format!("deadline x{concurrent}"),
            Scenario::Memory {
                concurrent,
                fd_limit: None,
            } => format!("memory x{concurrent}"),
            Scenario::Memory {
                concurrent,
                fd_limit: Some(limit),
            } => format!("memory x{concurrent} (fd limit {limit})"),
            Scenario::ColdStart => "cold start".to_owned(),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// Sizes of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Sizes {
    /// Concurrency levels of the throughput scenario.
    pub concurrency: Vec<usize>,
    /// How long each throughput level runs, per round.
    pub throughput_for: Duration,
    /// Rounds of each throughput level and loss pattern (peers interleaved); tables show the
    /// median round, ratios their median and spread.
    pub rounds: usize,
    /// Lookups per loss pattern, per round.
    pub tail_lookups: u64,
    /// Rate of the loss scenario.
    pub tail_rate: u64,
    /// Lookups started together in the deadline scenario.
    pub deadline_concurrent: usize,
    /// Lookups in flight in the memory scenarios (with the open-file limit raised).
    pub memory_concurrent: Vec<usize>,
    /// Lookups in flight in the memory scenario run at a 1,024-descriptor limit.
    pub memory_at_1024: usize,
    /// Fresh processes per peer for cold start.
    pub cold_runs: usize,
    /// How long dnsperf runs.
    pub dnsperf_for: Duration,
}

impl Sizes {
    /// The sizes of a real measurement.
    pub fn full() -> Sizes {
        Sizes {
            concurrency: vec![1, 64, 1024],
            throughput_for: Duration::from_secs(3),
            rounds: 3,
            tail_lookups: 10_000,
            tail_rate: 1_000,
            deadline_concurrent: 1_000,
            memory_concurrent: vec![10_000, 100_000],
            memory_at_1024: 10_000,
            cold_runs: 20,
            dnsperf_for: Duration::from_secs(10),
        }
    }

    /// Small sizes for checking that everything runs (minutes, not a measurement).
    pub fn quick() -> Sizes {
        Sizes {
            concurrency: vec![1, 64, 1024],
            throughput_for: Duration::from_millis(1_000),
            rounds: 1,
            tail_lookups: 2_000,
            tail_rate: 1_000,
            deadline_concurrent: 200,
            memory_concurrent: vec![2_000],
            memory_at_1024: 2_000,
            cold_runs: 3,
            dnsperf_for: Duration::from_secs(2),
        }
    }

    /// Every scenario at these sizes, in report order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        let mut all: Vec<Scenario> = self
            .concurrency
            .iter()
            .map(|&concurrency| Scenario::Throughput {
                concurrency,
                duration: self.throughput_for,
            })
            .collect();
        all.extend(Loss::ALL.iter().map(|&loss| Scenario::Tail {
            loss,
            lookups: self.tail_lookups,
            rate: self.tail_rate,
        }));
        all.push(Scenario::Deadline {
            concurrent: self.deadline_concurrent,
        });
        all.extend(
            self.memory_concurrent
                .iter()
                .map(|&concurrent| Scenario::Memory {
                    concurrent,
                    fd_limit: None,
                }),
        );
        all.push(Scenario::Memory {
            concurrent: self.memory_at_1024,
            fd_limit: Some(1024),
        });
        all.push(Scenario::ColdStart);
        all
    }
}

/// Serialise a `Duration` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_planned() {
        let all = Sizes::full().scenarios();
        assert_eq!(all.len(), 3 + 4 + 1 + 3 + 1);
        assert!(all.contains(&Scenario::Memory {
            concurrent: 100_000,
            fd_limit: None
        }));
        assert!(all.contains(&Scenario::Memory {
            concurrent: 10_000,
            fd_limit: Some(1024)
        }));
        assert!(all.contains(&Scenario::Deadline { concurrent: 1_000 }));
        for s in &all {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(&serde_json::from_str::<Scenario>(&json).unwrap(), s);
        }
    }

    #[test]
    fn bimodal_rules_delay_30_percent_in_ten_steps() {
        let rules = Loss::Bimodal.rules();
        assert_eq!(rules.len(), 10);
        assert_eq!(rules[0], "answer p=0.030000 delay=20ms");
        assert!(rules[9].ends_with("delay=200ms"), "{}", rules[9]);
        // The chance that none of the ten fires is 70%.
        let none: f64 = (0..10)
            .map(|k| 1.0 - 0.03 / (1.0 - 0.03 * f64::from(k)))
            .product();
        assert!((none - 0.7).abs() < 1e-9, "{none}");
    }

    #[test]
    fn rules_parse_in_faultdns() {
        for s in Sizes::quick().scenarios() {
            for rule in s.rules() {
                rule.parse::<faultdns::Rule>()
                    .unwrap_or_else(|e| panic!("{rule}: {e}"));
            }
        }
    }
}
