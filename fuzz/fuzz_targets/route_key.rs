//! Route keys and the route table: parsing never panics, and a table built from parsed keys
//! matches without panicking.
#![no_main]

libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str)| {
    let (a, b, path) = input;
    let keys: Vec<_> = [a, b].iter().filter_map(|k| model::RouteKey::parse(k).ok()).map(|k| (k, ())).collect();
    if let Ok(table) = model::RouteTable::build(keys) {
        if let Ok(path) = model::canonicalize(path) {
            let _ = table.find(&http::Method::GET, &path);
        }
    }
});
