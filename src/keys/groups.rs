//! Key groups: wrapping the data key (or its Shamir shares) for every master key, and getting it
//! back from whichever keys the user holds, with a per-key report when that fails.

use super::shamir::{self, ShamirError};
use super::{KeyError, KeyService, MasterKey};
use crate::crypto::DataKey;
use crate::metadata::{KeyGroup, KeyStanza, Metadata};
use zeroize::Zeroizing;

/// sops's default `--decryption-order`: offline keys before network ones.
pub const DEFAULT_DECRYPTION_ORDER: [&str; 2] = [super::age::TYPE_ID, super::pgp::TYPE_ID];

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("there are no keys to encrypt with: pass --age/--pgp (or another key flag), set SOPS_AGE_RECIPIENTS/SOPS_PGP_FP, or add a creation rule to .sops.yaml")]
    NoKeys,
    #[error("key group {0} has no keys; every group needs at least one")]
    EmptyGroup(usize),
    #[error("could not encrypt the data key: {0}")]
    Wrap(KeyError),
    #[error(transparent)]
    Shamir(#[from] ShamirError),
}

/// Wraps the data key for every key of every group. With two or more groups the key is split
/// and group *i* wraps share *i*; a threshold of 0 means "all groups". Returns the groups and the
/// threshold to record.
pub fn wrap_groups(
    data_key: &DataKey,
    groups: &[Vec<Box<dyn MasterKey>>],
    threshold: usize,
) -> Result<(Vec<KeyGroup>, usize), GroupError> {
    if groups.is_empty() {
        return Err(GroupError::NoKeys);
    }
    if let Some(i) = groups.iter().position(|g| g.is_empty()) {
        return Err(GroupError::EmptyGroup(i));
    }
    // One group needs no split; a valid threshold given for it (a rule's) is still recorded, as
    // sops does, so that adding groups later splits the key as the rule intended.
    let (secrets, threshold) = if groups.len() == 1 {
        let recorded = if threshold >= 2 { threshold } else { 0 };
        (vec![Zeroizing::new(data_key.as_bytes().to_vec())], recorded)
    } else {
        let threshold = if threshold == 0 {
            groups.len()
        } else {
            threshold
        };
        (
            shamir::split(data_key.as_bytes(), groups.len(), threshold)?,
            threshold,
        )
    };
    let wrapped = std::thread::scope(|scope| {
        let handles: Vec<Vec<_>> = groups
            .iter()
            .zip(&secrets)
            .map(|(group, secret)| {
                group
                    .iter()
                    .map(|key| scope.spawn(move || key.wrap(secret)))
                    .collect()
            })
            .collect();
        handles
            .into_iter()
            .map(|group| {
                let keys = group
                    .into_iter()
                    .map(|h| h.join().expect("a key-wrapping thread panicked"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(KeyGroup { keys })
            })
            .collect::<Result<Vec<_>, KeyError>>()
    })
    .map_err(GroupError::Wrap)?;
    Ok((wrapped, threshold))
}

/// What happened with one key while recovering the data key.
#[derive(Debug)]
pub enum Attempt {
    Success,
    /// No configured source knows this key type (e.g. a KMS key without that backend).
    Unsupported,
    /// The key was not tried because its group had already succeeded.
    Skipped,
    Failed(String),
}

#[derive(Debug)]
pub struct KeyReport {
    pub identity: String,
    pub type_id: &'static str,
    pub attempt: Attempt,
}

/// Why the data key could not be recovered, per group and per key, as sops reports it.
#[derive(Debug)]
pub struct RecoverError {
    pub groups: Vec<(bool, Vec<KeyReport>)>,
    pub threshold: usize,
    pub problem: Option<String>,
}

impl std::fmt::Display for RecoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Failed to get the data key required to decrypt the SOPS file."
        )?;
        for (i, (ok, keys)) in self.groups.iter().enumerate() {
            writeln!(f, "\nGroup {i}: {}", if *ok { "SUCCESS" } else { "FAILED" })?;
            for key in keys {
                match &key.attempt {
                    Attempt::Success => writeln!(f, "  {}: SUCCESS", key.identity)?,
                    Attempt::Skipped => {}
                    Attempt::Unsupported => writeln!(
                        f,
                        "  {}: FAILED\n    - | rsops cannot use {} keys in this build",
                        key.identity, key.type_id
                    )?,
                    Attempt::Failed(reason) => {
                        writeln!(f, "  {}: FAILED", key.identity)?;
                        for line in reason.lines() {
                            writeln!(f, "    - | {line}")?;
                        }
                    }
                }
            }
        }
        if let Some(problem) = &self.problem {
            writeln!(f, "\n{problem}")?;
        }
        if self.groups.len() <= 1 {
            write!(
                f,
                "\nRecovery failed because no master key was able to decrypt the file. At least one key has to be available: set SOPS_AGE_KEY_FILE (or SOPS_AGE_KEY), import the PGP secret key into gpg (GNUPGHOME), or make the KMS/Vault key usable (credentials, endpoint, permissions; see the reasons above)."
            )
        } else {
            write!(
                f,
                "\nRecovery failed because keys from fewer than {} of {} groups were available.",
                self.threshold,
                self.groups.len()
            )
        }
    }
}

impl std::error::Error for RecoverError {}

/// The order in which a group's keys are tried: the listed types first, in list order, then the
/// rest in file order.
fn ordered<'a>(keys: &'a [KeyStanza], order: &[String]) -> Vec<&'a KeyStanza> {
    let rank = |k: &KeyStanza| {
        order
            .iter()
            .position(|t| t == k.type_id())
            .unwrap_or(order.len())
    };
    let mut sorted: Vec<&KeyStanza> = keys.iter().collect();
    sorted.sort_by_key(|k| rank(k));
    sorted
}

fn try_key(stanza: &KeyStanza, keys: &dyn KeyService) -> Result<Zeroizing<Vec<u8>>, Attempt> {
    match keys.unwrap(stanza) {
        None => Err(Attempt::Unsupported),
        Some(Ok(secret)) => Ok(secret),
        Some(Err(e)) => Err(Attempt::Failed(e.to_string())),
    }
}

fn recover_group(
    group: &KeyGroup,
    keys: &dyn KeyService,
    order: &[String],
) -> (Option<Zeroizing<Vec<u8>>>, Vec<KeyReport>) {
    let mut reports = Vec::new();
    let mut found = None;
    for stanza in ordered(&group.keys, order) {
        let attempt = if found.is_some() {
            Attempt::Skipped
        } else {
            match try_key(stanza, keys) {
                Ok(secret) => {
                    found = Some(secret);
                    Attempt::Success
                }
                Err(attempt) => attempt,
            }
        };
        reports.push(KeyReport {
            identity: stanza.identity(),
            type_id: stanza.type_id(),
            attempt,
        });
    }
    (found, reports)
}

/// Gets the data key back: one group → its key's secret; several → `threshold` shares combined.
pub fn recover(
    meta: &Metadata,
    keys: &dyn KeyService,
    order: &[String],
) -> Result<DataKey, RecoverError> {
    let multi = meta.key_groups.len() > 1;
    let threshold = if multi {
        match meta.shamir_threshold {
            0 => meta.key_groups.len(),
            t => t,
        }
    } else {
        1
    };
    let mut shares = Vec::new();
    let mut reports = Vec::new();
    for group in &meta.key_groups {
        if shares.len() >= threshold {
            reports.push((false, skipped(group)));
            continue;
        }
        let (secret, group_reports) = recover_group(group, keys, order);
        reports.push((secret.is_some(), group_reports));
        shares.extend(secret);
    }
    let fail = |problem: Option<String>, reports| RecoverError {
        groups: reports,
        threshold,
        problem,
    };
    if shares.len() < threshold || shares.is_empty() {
        return Err(fail(None, reports));
    }
    let key = if multi {
        shamir::combine(&shares)
            .map_err(|e| fail(Some(e.to_string()), std::mem::take(&mut reports)))?
    } else {
        shares.swap_remove(0)
    };
    DataKey::from_slice(&key).ok_or_else(|| {
        fail(
            Some(format!(
                "The recovered data key has {} bytes instead of 32: the key stanzas do not belong together.",
                key.len()
            )),
            std::mem::take(&mut reports),
        )
    })
}

fn skipped(group: &KeyGroup) -> Vec<KeyReport> {
    group
        .keys
        .iter()
        .map(|k| KeyReport {
            identity: k.identity(),
            type_id: k.type_id(),
            attempt: Attempt::Skipped,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyUnwrapper, Unwrappers};
    use crate::metadata::AgeStanza;

    /// A stand-in backend that "wraps" by storing the secret in hex and unwraps only the
    /// recipients it was told it holds; it tests the group logic, not a real key type.
    struct FakeKey(String);
    struct FakeHolder(Vec<String>);

    impl MasterKey for FakeKey {
        fn type_id(&self) -> &'static str {
            "age"
        }
        fn identity(&self) -> String {
            self.0.clone()
        }
        fn wrap(&self, secret: &[u8]) -> Result<KeyStanza, KeyError> {
            Ok(KeyStanza::Age(AgeStanza {
                recipient: self.0.clone(),
                enc: hex::encode(secret),
            }))
        }
    }

    impl KeyUnwrapper for FakeHolder {
        fn unwrap(&self, stanza: &KeyStanza) -> Option<Result<Zeroizing<Vec<u8>>, KeyError>> {
            let KeyStanza::Age(a) = stanza else {
                return None;
            };
            if !self.0.contains(&a.recipient) {
                return Some(Err(KeyError::Failed {
                    backend: "age",
                    key: a.recipient.clone(),
                    message: "no identity".into(),
                }));
            }
            Some(Ok(Zeroizing::new(hex::decode(&a.enc).unwrap())))
        }
    }

    fn groups(names: &[&[&str]]) -> Vec<Vec<Box<dyn MasterKey>>> {
        names
            .iter()
            .map(|g| {
                g.iter()
                    .map(|n| Box::new(FakeKey(n.to_string())) as Box<dyn MasterKey>)
                    .collect()
            })
            .collect()
    }

    fn meta(key_groups: Vec<KeyGroup>, shamir_threshold: usize) -> Metadata {
        Metadata {
            key_groups,
            shamir_threshold,
            ..Metadata::default()
        }
    }

    #[test]
    fn threshold_of_three_groups() {
        let key = DataKey::generate();
        let (wrapped, t) = wrap_groups(&key, &groups(&[&["a"], &["b"], &["c"]]), 2).unwrap();
        assert_eq!(t, 2);
        let m = meta(wrapped, t);
        let order: Vec<String> = vec!["age".into()];
        let holder = FakeHolder(vec!["a".into(), "c".into()]);
        let got = recover(&m, &Unwrappers(&[&holder]), &order).unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
        let only_one = FakeHolder(vec!["b".into()]);
        let err = recover(&m, &Unwrappers(&[&only_one]), &order).unwrap_err();
        assert!(err.to_string().contains("Group 0: FAILED"), "{err}");
    }

    #[test]
    fn single_group_any_key() {
        let key = DataKey::generate();
        let (wrapped, t) = wrap_groups(&key, &groups(&[&["a", "b"]]), 0).unwrap();
        assert_eq!(t, 0);
        let (_, t) = wrap_groups(&key, &groups(&[&["a"]]), 2).unwrap();
        assert_eq!(
            t, 2,
            "a threshold given for one group is kept, as sops records it"
        );
        let holder = FakeHolder(vec!["b".into()]);
        let got = recover(&meta(wrapped, 0), &Unwrappers(&[&holder]), &[]).unwrap();
        assert_eq!(got.as_bytes(), key.as_bytes());
    }
}
