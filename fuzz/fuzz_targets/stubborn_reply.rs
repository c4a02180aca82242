//! Fuzz target `stubborn_reply`: see [`stubborn_fuzz::stubborn_targets::reply`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| stubborn_fuzz::stubborn_targets::reply(data));
