//! vals-style references inside a string: `ref+SCHEME://BODY[+]` (and `secretref+…`), found
//! exactly where vals's `DefaultRefRegexp` finds them, so a manifest written for helm-secrets'
//! `--evaluate-templates` resolves the same spans:
//!
//! `((secret)?ref)\+([^+:]*://[^+\n ]+[^+\n ",])\+?`
//!
//! The body runs to the next `+`, newline or space, minus trailing `"` and `,` (so a reference
//! inside JSON text stops before its quote); a `+` right after it ends it explicitly and is
//! consumed (`foo ref+sops://f#/a+ bar`). One left-to-right pass: every byte is looked at a
//! bounded number of times, and a string may hold at most [`MAX_REFERENCES`].

/// More references than this in one string is refused (a manifest value, not a database).
pub const MAX_REFERENCES: usize = 1024;
/// Strings longer than this are refused before scanning (Kubernetes objects are at most ~1.5 MiB).
pub const MAX_TEXT: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The whole match, `ref+` and any closing `+` included.
    pub span: std::ops::Range<usize>,
    pub scheme: &'a str,
    /// What follows `://` up to `?` or `#`.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// What follows `#` (vals's `#/key/in/the/document`).
    pub fragment: Option<&'a str>,
}

impl Reference<'_> {
    /// `ref+SCHEME://PATH`, for messages: never the query, which may carry parameters.
    pub fn label(&self) -> String {
        format!("ref+{}://{}", self.scheme, self.path)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("a value of {0} bytes is too long to scan for references (limit {MAX_TEXT})")]
    TooLong(usize),
    #[error("more than {MAX_REFERENCES} references in one value")]
    TooMany,
}

/// Every reference in `text`, left to right.
pub fn find_references(text: &str) -> Result<Vec<Reference<'_>>, ParseError> {
    if text.len() > MAX_TEXT {
        return Err(ParseError::TooLong(text.len()));
    }
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find("ref+") {
        let ref_at = at + offset;
        let start = if text[..ref_at].ends_with("secret") {
            ref_at - "secret".len()
        } else {
            ref_at
        };
        match reference_at(text, bytes, start, ref_at + "ref+".len()) {
            Some(reference) => {
                at = reference.span.end;
                if found.len() == MAX_REFERENCES {
                    return Err(ParseError::TooMany);
                }
                found.push(reference);
            }
            None => at = ref_at + "ref+".len(),
        }
    }
    Ok(found)
}

/// The reference whose `ref+` prefix ends at `after_prefix`, if the rest matches.
fn reference_at<'a>(
    text: &'a str,
    bytes: &[u8],
    start: usize,
    after_prefix: usize,
) -> Option<Reference<'a>> {
    let scheme_len = bytes[after_prefix..]
        .iter()
        .position(|&b| b == b'+' || b == b':')
        .unwrap_or(bytes.len() - after_prefix);
    let scheme_end = after_prefix + scheme_len;
    let body_start = scheme_end + "://".len();
    if !text[scheme_end..].starts_with("://") {
        return None;
    }
    let run = bytes[body_start..]
        .iter()
        .position(|&b| matches!(b, b'+' | b'\n' | b' '))
        .unwrap_or(bytes.len() - body_start);
    // The last character may not be `"` or `,`; the body needs two characters at least.
    let kept = bytes[body_start..body_start + run]
        .iter()
        .rposition(|&b| b != b'"' && b != b',')
        .map(|i| i + 1)
        .filter(|&n| n >= 2)?;
    let body_end = body_start + kept;
    let end = if kept == run && bytes.get(body_end) == Some(&b'+') {
        body_end + 1
    } else {
        body_end
    };
    let body = &text[body_start..body_end];
    let (before_fragment, fragment) = match body.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (body, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    Some(Reference {
        span: start..end,
        scheme: &text[after_prefix..scheme_end],
        path,
        query,
        fragment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<&str> {
        find_references(text)
            .unwrap()
            .into_iter()
            .map(|r| &text[r.span])
            .collect()
    }

    #[test]
    fn whole_values_and_embedded_ones_as_vals_finds_them() {
        let r = &find_references("ref+sops://secrets.yaml#/db/password").unwrap()[0];
        assert_eq!(
            (r.scheme, r.path, r.query, r.fragment),
            ("sops", "secrets.yaml", None, Some("/db/password"))
        );
        assert_eq!(
            spans("foo ref+sops://a#/x+ ref+file://b+ bar"),
            ["ref+sops://a#/x+", "ref+file://b+"]
        );
        // JSON text: the quote and comma after a reference are not part of it.
        assert_eq!(
            spans(r#"{"a":"ref+file://x.yaml#/k","b":1}"#),
            [r#"ref+file://x.yaml#/k","b":1}"#]
        );
        assert_eq!(
            spans(r#"["ref+file://x.yaml#/k",]"#),
            ["ref+file://x.yaml#/k\",]"]
        );
        assert_eq!(spans("\"ref+file://x.yaml#/k\","), ["ref+file://x.yaml#/k"]);
        let q = &find_references("secretref+vault://kv/app?version=2#/pw").unwrap()[0];
        assert_eq!(
            (q.span.start, q.scheme, q.path, q.query, q.fragment),
            (0, "vault", "kv/app", Some("version=2"), Some("/pw"))
        );
        assert_eq!(q.label(), "ref+vault://kv/app");
    }

    #[test]
    fn near_misses_are_not_references() {
        for text in [
            "ref+",
            "ref+sops",
            "ref+sops:/x",
            "ref+sops://",
            "ref+sops://a",
            "ref+sops://\",",
            "ref+sops:// x",
            "href+x",
            "prefix ref+ sops://a/b",
        ] {
            assert_eq!(spans(text), Vec::<&str>::new(), "{text}");
        }
        // `href+x://ab` does match (vals's regex has no word boundary either).
        assert_eq!(spans("href+x://ab"), ["ref+x://ab"]);
    }

    #[test]
    fn limits() {
        let many = "ref+file://ab+".repeat(MAX_REFERENCES + 1);
        assert_eq!(find_references(&many), Err(ParseError::TooMany));
        assert_eq!(
            find_references(&"x".repeat(MAX_TEXT + 1)),
            Err(ParseError::TooLong(MAX_TEXT + 1))
        );
    }
}
