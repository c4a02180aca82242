//! dnsload's integration tests: one binary, a module per area, faultdns in-process.

mod classify;
mod cli;
mod demo;
mod memory;
mod open_loop;
mod outputs;
mod report;
mod util;
mod war_story;
