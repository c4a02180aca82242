//! Fuzz target `dnsload_summary`: see [`stubborn_fuzz::dnsload_targets::summary`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::dnsload_targets::summary(data));
