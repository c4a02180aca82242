//! End-to-end tests across the workspace; one module per area.
//!
//! The namespace tests (`lab`, `war_story`, `cluster`, `attribution`) need root, iproute2, nftables (and
//! Unbound for the cluster); without them they skip with a one-line reason, and under
//! `STUBBORN_REQUIRE_ALL=1` (CI) they fail. They run one at a time and each ends by checking
//! that no namespace, veth, nftables table or process of this test process is left.

mod attribution;
mod cluster;
mod deploy;
mod lab;
mod war_story;
