//! Fuzz target `dnsload_hlog`: see [`stubborn_fuzz::dnsload_targets::hlog`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::dnsload_targets::hlog(data));
