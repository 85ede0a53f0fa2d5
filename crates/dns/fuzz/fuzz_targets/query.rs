//! Any packet against the server's fast-path reader and full handler: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    panel1_dns::serve::fuzz_packet(data);
});
