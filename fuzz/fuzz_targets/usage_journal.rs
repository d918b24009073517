//! The usage journal and batch files a node reads back at start (written by a node, but maybe
//! cut short by a crash or damaged on disk): no panic, and every count read re-encodes to a
//! line that reads back the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    limits::fuzz_journal(text);
});
