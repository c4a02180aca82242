//! Integration tests of stubborn against in-process faultdns, over real loopback sockets with
//! real time (short per-attempt timeouts where only the shape matters, generous margins).

mod cache;
mod coalescing;
mod deadlines;
mod integrations;
mod iron_rule;
mod lookups;
mod metrics;
mod order;
mod pool;
mod recovery;
mod resolv_conf;
mod spoofing;
mod system;
mod util;
mod war_story;
