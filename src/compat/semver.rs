//! The version check sops applies when it loads an encrypted file: the `sops.version` field must
//! be a semantic version as `github.com/blang/semver` parses it (strictly `MAJOR.MINOR.PATCH`,
//! optional `-prerelease` and `+build`, no leading zeros, a leading `v` trimmed), or start with
//! `1.` (sops 1 files). sops fails such a file with "No Major.Minor.Patch elements found" before
//! decrypting it, so rsops refuses it too.

/// `Ok` when sops would accept `version`; otherwise why not (the text is not secret).
pub fn check(version: &str) -> Result<(), String> {
    if version.starts_with("1.") {
        return Ok(());
    }
    let v = version.strip_prefix('v').unwrap_or(version);
    if v.is_empty() {
        return Err("the metadata has no `version`".into());
    }
    parse(v).ok_or_else(|| {
        format!("the metadata's version `{version}` is not a semantic version (MAJOR.MINOR.PATCH)")
    })
}

fn parse(v: &str) -> Option<()> {
    let mut parts = v.splitn(3, '.');
    let (major, minor, rest) = (parts.next()?, parts.next()?, parts.next()?);
    number(major)?;
    number(minor)?;
    let (rest, build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (rest, None),
    };
    let (patch, pre) = match rest.split_once('-') {
        Some((p, pre)) => (p, Some(pre)),
        None => (rest, None),
    };
    number(patch)?;
    if let Some(pre) = pre {
        for id in pre.split('.') {
            identifier(id)?;
            if id.bytes().all(|b| b.is_ascii_digit()) {
                number(id)?;
            }
        }
    }
    if let Some(build) = build {
        build.split('.').try_for_each(identifier)?;
    }
    Some(())
}

/// Digits only, no leading zero, fits in 64 bits.
fn number(s: &str) -> Option<()> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = s.len() > 1 && s.starts_with('0');
    (digits && !leading_zero && s.parse::<u64>().is_ok()).then_some(())
}

fn identifier(s: &str) -> Option<()> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')).then_some(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_what_blang_semver_accepts() {
        for v in [
            "3.11.0",
            "v3.11.0",
            "0.0.0",
            "3.11.0-rc.1",
            "3.11.0-rc-1.x+build.5",
            "3.11.0+20260101",
            "1.0",
            "1.anything",
        ] {
            assert!(check(v).is_ok(), "{v}");
        }
    }

    /// Regression (bad-input matrix "non-semver version"): rsops decrypted files sops refuses.
    #[test]
    fn refuses_what_sops_refuses() {
        for v in [
            "",
            "banana",
            "3",
            "3.7",
            "03.1.0",
            "3.01.0",
            "3.1.00",
            "3.1.0-",
            "3.1.0-01",
            "3.1.0-a..b",
            "3.1.0+",
            "3.1.0+a_b",
            "3.1.x",
            "99999999999999999999.0.0",
            " 3.1.0",
        ] {
            assert!(check(v).is_err(), "{v:?}");
        }
    }
}
