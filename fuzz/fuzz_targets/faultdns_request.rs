//! Fuzz target `faultdns_request`: see [`stubborn_fuzz::faultdns_targets::request`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::faultdns_targets::request(data));
