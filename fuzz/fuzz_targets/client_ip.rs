//! `X-Forwarded-For` parsing through trusted proxies: never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|xff: &[u8]| {
    gateway::fuzzing::client_ip(xff);
});
