//! Re-wrapping a data key for a new set of key groups: the one sequence `rotate`, `updatekeys`
//! and `groups add/delete` share.

use super::Error;
use crate::config::KeySpec;
use crate::crypto::DataKey;
use crate::keys::groups::wrap_groups;
use crate::keys::{KeyService, MasterKey};
use crate::metadata::Metadata;

/// Key groups as the specs that name them (what `.sops.yaml` and the key flags produce).
pub type SpecGroups = Vec<Vec<KeySpec>>;

/// The master keys the key service resolves for each group of specs.
pub fn master_keys(
    keys: &dyn KeyService,
    groups: &[Vec<KeySpec>],
) -> Result<Vec<Vec<Box<dyn MasterKey>>>, Error> {
    groups
        .iter()
        .map(|group| {
            let mut out = Vec::new();
            for spec in group {
                out.extend(keys.master_keys(spec)?);
            }
            Ok(out)
        })
        .collect()
}

/// Wraps `data_key` for `groups` (split with `threshold` when there are several) and records
/// the result in `meta`. Values and MAC are untouched: they depend on the data key only.
pub(super) fn rewrap(
    meta: &mut Metadata,
    data_key: &DataKey,
    keys: &dyn KeyService,
    groups: &[Vec<KeySpec>],
    threshold: usize,
) -> Result<(), Error> {
    let master_keys = master_keys(keys, groups)?;
    let (wrapped, threshold) = wrap_groups(data_key, &master_keys, threshold)?;
    meta.key_groups = wrapped;
    meta.shamir_threshold = threshold;
    Ok(())
}

/// The file's current key groups, as specs.
pub fn spec_groups(meta: &Metadata) -> SpecGroups {
    meta.key_groups
        .iter()
        .map(|g| g.keys.iter().map(KeySpec::from_stanza).collect())
        .collect()
}

/// The groups with `group` appended, and the threshold to use (`None` keeps the file's).
pub(super) fn with_added(
    meta: &Metadata,
    group: Vec<KeySpec>,
    threshold: Option<usize>,
) -> (SpecGroups, usize) {
    let mut groups = spec_groups(meta);
    groups.push(group);
    (groups, threshold.unwrap_or(meta.shamir_threshold))
}

/// The groups without group `index`; refused when the threshold could no longer be met.
pub(super) fn with_removed(
    meta: &Metadata,
    index: usize,
    threshold: Option<usize>,
) -> Result<(SpecGroups, usize), Error> {
    let mut groups = spec_groups(meta);
    if index >= groups.len() {
        return Err(Error::NoSuchGroup {
            index,
            count: groups.len(),
        });
    }
    groups.remove(index);
    let threshold = threshold.unwrap_or(meta.shamir_threshold);
    if groups.len() < threshold {
        return Err(Error::ThresholdUnreachable {
            threshold,
            left: groups.len(),
        });
    }
    Ok((groups, threshold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{AgeStanza, KeyGroup, KeyStanza};

    fn meta(groups: usize, threshold: usize) -> Metadata {
        let group = |i: usize| KeyGroup {
            keys: vec![KeyStanza::Age(AgeStanza {
                recipient: format!("age1{i}"),
                enc: String::new(),
            })],
        };
        Metadata {
            key_groups: (0..groups).map(group).collect(),
            shamir_threshold: threshold,
            ..Metadata::default()
        }
    }

    #[test]
    fn removing_a_group_keeps_the_threshold_reachable() {
        let (groups, t) = with_removed(&meta(3, 2), 0, None).unwrap();
        assert_eq!((groups.len(), t), (2, 2));
        assert!(matches!(
            with_removed(&meta(2, 2), 0, None),
            Err(Error::ThresholdUnreachable {
                threshold: 2,
                left: 1
            })
        ));
        assert!(matches!(
            with_removed(&meta(2, 2), 5, None),
            Err(Error::NoSuchGroup { index: 5, count: 2 })
        ));
        assert_eq!(with_removed(&meta(2, 2), 0, Some(1)).unwrap().1, 1);
    }

    #[test]
    fn an_added_group_goes_last() {
        let (groups, t) = with_added(&meta(1, 0), vec![KeySpec::Age("age1new".into())], Some(2));
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1][0].identity(), "age1new");
        assert_eq!(t, 2);
    }
}
