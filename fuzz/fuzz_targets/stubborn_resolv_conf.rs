//! Fuzz target `stubborn_resolv_conf`: see [`stubborn_fuzz::stubborn_targets::resolv_conf`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::stubborn_targets::resolv_conf(data));
