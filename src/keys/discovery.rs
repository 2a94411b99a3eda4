//! Where key material comes from: a snapshot of the environment variables the age and PGP key
//! sources read, and the directories sops derives from them.
//!
//! The key sources take a snapshot instead of reading `std::env` directly so that tests (and a
//! future key service) can give each source its own environment without racing on the process's.

use std::collections::HashMap;
use std::path::PathBuf;

/// The variables the key sources consult, captured once. `SOPS_AGE_KEY` holds private keys, so
/// `Debug` shows only which variables are set.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

/// Every variable a key source reads; only these are captured by [`Env::process`].
const KNOWN: &[&str] = &[
    "HOME",
    "XDG_CONFIG_HOME",
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
    "SOPS_GPG_EXEC",
    "GNUPGHOME",
    "RSOPS_PGP_PUBLIC_KEYS",
    "RSOPS_PGP_SECRET_KEYS",
];

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        write!(f, "Env(set: {names:?}, values redacted)")
    }
}

impl Env {
    /// The current process environment (only the variables key sources use).
    pub fn process() -> Env {
        let vars = KNOWN
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
            .collect();
        Env { vars }
    }

    /// An explicit environment, e.g. for tests: variables not listed are unset.
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Go's `os.LookupEnv`: set (even to the empty string) or not.
    pub fn lookup(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Go's `os.Getenv(..) != ""`: set and non-empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.lookup(name).filter(|v| !v.is_empty())
    }

    /// Go's `os.UserHomeDir` on Unix: `$HOME`, which must be set.
    pub fn home_dir(&self) -> Option<PathBuf> {
        self.non_empty("HOME").map(PathBuf::from)
    }

    /// Go's `os.UserConfigDir` on Linux: `$XDG_CONFIG_HOME` if set (it must be absolute), else
    /// `$HOME/.config`. sops also honours `XDG_CONFIG_HOME` on macOS, so we do everywhere.
    pub fn user_config_dir(&self) -> Result<PathBuf, String> {
        if let Some(dir) = self.non_empty("XDG_CONFIG_HOME") {
            let dir = PathBuf::from(dir);
            if !dir.is_absolute() {
                return Err("path in $XDG_CONFIG_HOME is relative".to_string());
            }
            return Ok(dir);
        }
        match self.home_dir() {
            Some(home) => Ok(home.join(".config")),
            None => Err("neither $XDG_CONFIG_HOME nor $HOME are defined".to_string()),
        }
    }

    /// The GnuPG home sops reads keyrings from: `$GNUPGHOME`, else `~/.gnupg`.
    pub fn gnupg_home(&self) -> Option<PathBuf> {
        match self.non_empty("GNUPGHOME") {
            Some(dir) => Some(PathBuf::from(dir)),
            None => self.home_dir().map(|h| h.join(".gnupg")),
        }
    }

    /// The gpg binary: `$SOPS_GPG_EXEC`, else `gpg` from `PATH`.
    pub fn gpg_binary(&self) -> String {
        self.non_empty("SOPS_GPG_EXEC").unwrap_or("gpg").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_dir_prefers_xdg_and_rejects_relative() {
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(env.user_config_dir().unwrap(), PathBuf::from("/x"));
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "")]);
        assert_eq!(env.user_config_dir().unwrap(), PathBuf::from("/h/.config"));
        let env = Env::from_pairs([("XDG_CONFIG_HOME", "rel")]);
        assert!(env.user_config_dir().is_err());
        assert!(Env::default().user_config_dir().is_err());
    }

    #[test]
    fn gnupg_home_and_binary() {
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(env.gnupg_home().unwrap(), PathBuf::from("/h/.gnupg"));
        assert_eq!(env.gpg_binary(), "gpg");
        let env = Env::from_pairs([("GNUPGHOME", "/g"), ("SOPS_GPG_EXEC", "/bin/gpg2")]);
        assert_eq!(env.gnupg_home().unwrap(), PathBuf::from("/g"));
        assert_eq!(env.gpg_binary(), "/bin/gpg2");
        assert!(env.lookup("SOPS_AGE_KEY").is_none());
    }

    #[test]
    fn debug_shows_names_not_secrets() {
        let env = Env::from_pairs([("SOPS_AGE_KEY", "AGE-SECRET-KEY-1SECRET"), ("HOME", "/h")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("SOPS_AGE_KEY"), "{shown}");
        assert!(!shown.contains("SECRET-KEY"), "{shown}");
        assert!(!shown.contains("/h"), "{shown}");
    }
}
