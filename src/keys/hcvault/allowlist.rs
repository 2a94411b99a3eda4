//! `SOPS_HC_VAULT_ALLOWLIST` (sops 3.13, `hcvault/keysource.go`): which Vault addresses sops may
//! talk to. `all` (the default, also when unset or empty) allows any, `none` allows none, else a
//! comma-separated list of URL prefixes, each compared with a `/` appended to both sides, so
//! `http://vault:8200` allows `http://vault:8200/…` but not `http://vault:82001`.

use crate::keys::discovery::Env;

pub const ALLOWLIST_ENV: &str = "SOPS_HC_VAULT_ALLOWLIST";

#[derive(Debug, PartialEq, Eq)]
pub enum Allowlist {
    All,
    Prefixes(Vec<String>),
}

impl Allowlist {
    /// The allowlist the environment sets.
    pub fn from_env(env: &Env) -> Result<Allowlist, String> {
        match env.non_empty(ALLOWLIST_ENV) {
            Some(text) => Allowlist::parse(text),
            None => Ok(Allowlist::All),
        }
    }

    pub fn parse(text: &str) -> Result<Allowlist, String> {
        match text {
            "all" => return Ok(Allowlist::All),
            "none" => return Ok(Allowlist::Prefixes(Vec::new())),
            _ => {}
        }
        text.split(',')
            .enumerate()
            .map(|(index, entry)| match entry.trim_matches(' ') {
                "" => Err(format!("{ALLOWLIST_ENV}'s entry {} is empty", index + 1)),
                prefix => Ok(with_slash(prefix)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Allowlist::Prefixes)
    }

    pub fn allows(&self, address: &str) -> bool {
        match self {
            Allowlist::All => true,
            Allowlist::Prefixes(prefixes) => {
                let address = with_slash(address);
                prefixes.iter().any(|p| address.starts_with(p.as_str()))
            }
        }
    }
}

fn with_slash(text: &str) -> String {
    if text.ends_with('/') {
        text.to_string()
    } else {
        format!("{text}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The cases of sops 3.13.2's hcvault/keysource_test.go (TestAllowlist*).
    #[test]
    fn parses_like_sops() {
        assert_eq!(Allowlist::parse("all"), Ok(Allowlist::All));
        assert_eq!(Allowlist::parse("none"), Ok(Allowlist::Prefixes(vec![])));
        assert_eq!(
            Allowlist::parse(" foo/ ,  bar,   baz    "),
            Ok(Allowlist::Prefixes(vec![
                "foo/".into(),
                "bar/".into(),
                "baz/".into()
            ]))
        );
        for (text, entry) in [("", 1), (",", 1), (",a", 1), ("a,", 2)] {
            assert_eq!(
                Allowlist::parse(text),
                Err(format!("SOPS_HC_VAULT_ALLOWLIST's entry {entry} is empty")),
                "{text:?}"
            );
        }
        let unset = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(Allowlist::from_env(&unset), Ok(Allowlist::All));
        let empty = Env::from_pairs([(ALLOWLIST_ENV, "")]);
        assert_eq!(Allowlist::from_env(&empty), Ok(Allowlist::All));
    }

    #[test]
    fn allows_like_sops() {
        let none = Allowlist::parse("none").unwrap();
        assert!(!none.allows("") && !none.allows("http://example.com"));
        let one = Allowlist::parse("http://example.com").unwrap();
        for (address, allowed) in [
            ("http://example.co", false),
            ("http://example.com", true),
            ("http://example.comm", false),
            ("http://example.com:80", false),
            ("http://example.com/", true),
            ("http://example.com/foo", true),
            ("http://fiz@example.com/", false),
            ("https://example.com", false),
            ("", false),
        ] {
            assert_eq!(one.allows(address), allowed, "{address}");
        }
        let many =
            Allowlist::parse("http://example.com, https://example.org/bar/,http://foo:80").unwrap();
        for (address, allowed) in [
            ("http://example.org/foo", false),
            ("https://example.org/bar", true),
            ("https://example.org/barr", false),
            ("https://example.org/bar/baz", true),
            ("http://foo", false),
            ("http://foo:80", true),
        ] {
            assert_eq!(many.allows(address), allowed, "{address}");
        }
    }
}
