//! Fuzz target `stubborn_hosts`: see [`stubborn_fuzz::stubborn_targets::hosts`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::stubborn_targets::hosts(data));
