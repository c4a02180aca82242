//! Fuzz target `dnsload_event`: see [`stubborn_fuzz::dnsload_targets::event`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::dnsload_targets::event(data));
