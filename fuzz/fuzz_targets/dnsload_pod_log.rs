//! Fuzz target `dnsload_pod_log`: see [`stubborn_fuzz::dnsload_targets::pod_log`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::dnsload_targets::pod_log(data));
