//! vals-style references (`ref+sops://file#/key`) as helm's post-renderer finds them in
//! manifest values: the scanner and the substitution, with a lookup that resolves some schemes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rsops::k8s::refs::parse::{find_references, ParseError};
use rsops::k8s::refs::substitute;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(found) = find_references(text) else {
        return;
    };
    let mut last_end = 0;
    for r in &found {
        assert!(r.span.start >= last_end && r.span.end <= text.len());
        assert!(text[r.span.clone()].contains("ref+"));
        last_end = r.span.end;
    }
    let out = substitute(text, |r| -> Result<_, ParseError> {
        Ok((r.scheme == "sops").then(|| String::from("v").into()))
    })
    .expect("the scan already succeeded");
    let resolvable = found.iter().filter(|r| r.scheme == "sops").count();
    assert_eq!(out.is_some(), resolvable > 0);
});
