//! Fuzz target `faultdns_rule`: see [`stubborn_fuzz::faultdns_targets::rule`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::faultdns_targets::rule(data));
