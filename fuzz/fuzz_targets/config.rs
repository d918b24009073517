//! The whole config loader: interpolation, YAML, serde, compilation. Must never panic, and
//! every error must name a place.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Err(errors) = model::load_str("f.yaml", text, |k| (k == "SET").then(|| "v".to_owned())) {
        assert!(!errors.0.is_empty());
    }
});
