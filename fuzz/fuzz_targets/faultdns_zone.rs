//! Fuzz target `faultdns_zone`: see [`stubborn_fuzz::faultdns_targets::zone`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::faultdns_targets::zone(data));
