//! Integration tests of faultdns against the in-process server, over real loopback sockets.

mod actions;
mod answers;
mod binary;
mod clients;
mod conformance;
mod forward;
mod hickory;
mod lifecycle;
mod resolvers;
mod robustness;
mod rules;
mod upstream;
mod util;
