#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(found) = aeo_registry::hostile::pushed_events(data) {
        panic!("{found}");
    }
});
