//! Access-log and gateway-response templates, and upstream URL templates: parsing never
//! panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = model::Template::parse(text);
    if let Ok(url) = model::UpstreamUrl::parse(text) {
        let _ = url.parts();
    }
});
