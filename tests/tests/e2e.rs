//! End-to-end tests across the workspace; one module per area.

mod deploy;
mod lab;
