//! dnsload: reproduce DNS failures under packet loss, and hunt the loss across a cluster.
//!
//! Three backends look names up — `stub` (stubborn), `system` (getaddrinfo, with glibc's
//! resolver state redirected per thread) and `raw` (one query, one attempt) — on a closed or
//! open loop; every outcome gets one of the classes of [`Class`], failures and slow answers
//! are streamed as JSON events, and latencies go to bounded HdrHistograms. `dnsload report`
//! merges the outputs of many hosts; `dnsload demo` shows the war story side by side.
//!
//! The binary is a thin shell over [`main_with_args`]; the record formats are documented in
//! `docs/dnsload-schema.md` and versioned by [`SCHEMA`].
#![warn(missing_docs)]

mod backend;
mod class;
mod cli;
mod counters;
mod demo;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hlog;
mod human;
mod main_entry;
mod metrics;
mod netstat;
mod plan;
mod recorder;
mod records;
mod report;
mod run;
mod schedule;

pub use backend::glibc::{Override, ResolverState, supported as glibc_override_supported};
pub use backend::raw::RawBackend;
pub use backend::stub::StubBackend;
pub use backend::system::{SystemBackend, SystemConfig};
pub use backend::{Backend, LookupFuture};
pub use class::{Class, Outcome, QueryCount, SearchRule};
pub use cli::{BackendKind, Cli, Command, DemoArgs, ReportArgs, RunArgs};
pub use counters::parse::{
    ConntrackStat, FormatError, SoftnetCpu, conntrack_stat, snmp_udp, softnet_stat,
};
pub use counters::{
    Anomaly, CounterDelta, CounterTotals, Reading, Sampler, SoftnetDelta, Source, Sources,
};
pub use demo::{DemoReport, DemoRow, demo};
pub use error::{Error, Result};
pub use hlog::{Interval, read as read_hlog};
pub use main_entry::main_with_args;
pub use netstat::UdpCounters;
pub use plan::{Bounds, Outputs, Plan, ResolverPlan, Schedule, parse_server};
pub use records::{
    Amplification, ClassCounts, CountersRecord, Event, FailOn, Latency, NOTABLE_KEPT, Notable,
    ResolverInfo, SCHEMA, ScheduleInfo, Summary, UdpInfo,
};
pub use report::{
    Bucket, HostRow, HostTime, HostTimeRow, MAX_CANDIDATES, MergedReport, Signature, report,
};
pub use run::{EXIT_FAIL_ON, RunReport, build_backend, run, run_with};
pub use schedule::{Sample, Stop, StopReason};
