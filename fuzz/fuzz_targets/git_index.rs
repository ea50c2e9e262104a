#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| oci_stamp_fuzz::git_index(data));
