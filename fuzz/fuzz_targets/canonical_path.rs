//! The canonical path: never panics, is a fixed point, never climbs above the root, and
//! never decodes a slash.
#![no_main]

libfuzzer_sys::fuzz_target!(|raw: &str| {
    if let Ok(once) = model::canonicalize(raw) {
        assert!(once.starts_with('/'));
        assert!(!once.split('/').any(|s| s == ".." || s == "."), "{once}");
        assert_eq!(model::canonicalize(&once).as_deref(), Ok(&*once), "not a fixed point");
        assert!(once.matches("%2F").count() <= raw.matches("%2F").count() + raw.matches("%2f").count());
    }
});
