//! The HTTP/1.1 framing watcher, on raw client bytes: never panics, and its verdict does not
//! depend on how the bytes were split across reads.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (u16, &[u8])| {
    gateway::fuzzing::framing(input.1, usize::from(input.0));
});
