#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pipeaudit::fuzzing::rule_file(data);
});
