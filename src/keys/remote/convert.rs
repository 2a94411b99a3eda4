//! rsops's key stanzas and specs ⇄ the protocol's `Key`, as sops's `KeyFromMasterKey` maps its
//! master keys. The wrapped data key travels as the stanza's `enc` text, byte for byte.

use super::proto::{self, KeyType};
use crate::compat::rfc3339::now_rfc3339;
use crate::keys::registry::{KeySpec, KeyStanza};
use crate::keys::KeyError;
use crate::metadata::{
    AgeStanza, AzureKvStanza, GcpKmsStanza, HcVaultStanza, HckmsStanza, KmsStanza, PgpStanza,
};

/// The protocol's key for a stanza already in a file (the decrypt side).
pub fn key_of_stanza(stanza: &KeyStanza) -> proto::Key {
    key_of_spec(&KeySpec::from_stanza(stanza))
}

/// The protocol's key for a key named in flags or rules (the encrypt side).
pub fn key_of_spec(spec: &KeySpec) -> proto::Key {
    let key_type = match spec {
        KeySpec::Age(recipient) => KeyType::AgeKey(proto::AgeKey {
            recipient: recipient.clone(),
        }),
        KeySpec::Pgp(fingerprint) => KeyType::PgpKey(proto::PgpKey {
            fingerprint: fingerprint.clone(),
        }),
        KeySpec::Kms {
            arn,
            role,
            context,
            aws_profile,
        } => KeyType::KmsKey(proto::KmsKey {
            arn: arn.clone(),
            role: role.clone(),
            context: context.clone().into_iter().collect(),
            aws_profile: aws_profile.clone(),
        }),
        KeySpec::GcpKms(resource_id) => KeyType::GcpKmsKey(proto::GcpKmsKey {
            resource_id: resource_id.clone(),
        }),
        KeySpec::AzureKv {
            vault_url,
            key,
            version,
        } => KeyType::AzureKeyvaultKey(proto::AzureKeyVaultKey {
            vault_url: vault_url.clone(),
            name: key.clone(),
            version: version.clone(),
        }),
        KeySpec::HcVault(uri) => match crate::keys::hcvault::parse_uri(uri) {
            Ok((vault_address, engine_path, key_name)) => KeyType::VaultKey(proto::VaultKey {
                vault_address,
                engine_path,
                key_name,
            }),
            // A spec that does not parse never got into a file or past the flags; send it
            // whole so the server's own error names it.
            Err(_) => KeyType::VaultKey(proto::VaultKey {
                vault_address: uri.clone(),
                ..Default::default()
            }),
        },
        KeySpec::Hckms(key_id) => KeyType::HckmsKey(proto::HckmsKey {
            key_id: key_id.clone(),
        }),
    };
    proto::Key {
        key_type: Some(key_type),
    }
}

/// What the server was asked about, or sops's status message when it names no key.
pub fn spec_of_key(key: Option<&proto::Key>) -> Result<KeySpec, &'static str> {
    let key_type = key
        .and_then(|k| k.key_type.as_ref())
        .ok_or("Must provide a key")?;
    Ok(match key_type {
        KeyType::AgeKey(k) => KeySpec::Age(k.recipient.clone()),
        KeyType::PgpKey(k) => KeySpec::Pgp(k.fingerprint.clone()),
        KeyType::KmsKey(k) => KeySpec::Kms {
            arn: k.arn.clone(),
            role: k.role.clone(),
            context: k.context.clone().into_iter().collect(),
            aws_profile: k.aws_profile.clone(),
        },
        KeyType::GcpKmsKey(k) => KeySpec::GcpKms(k.resource_id.clone()),
        KeyType::AzureKeyvaultKey(k) => KeySpec::AzureKv {
            vault_url: k.vault_url.clone(),
            key: k.name.clone(),
            version: k.version.clone(),
        },
        KeyType::VaultKey(k) => KeySpec::HcVault(format!(
            "{}/v1/{}/keys/{}",
            k.vault_address, k.engine_path, k.key_name
        )),
        KeyType::HckmsKey(k) => KeySpec::Hckms(k.key_id.clone()),
    })
}

/// The stanza a wrap for `spec` produces, given the wrapped key's text. `created_at` is now,
/// as every backend stamps it.
pub fn stanza_of(spec: &KeySpec, enc: String) -> Result<KeyStanza, KeyError> {
    let created_at = now_rfc3339();
    Ok(match spec {
        KeySpec::Age(recipient) => KeyStanza::Age(AgeStanza {
            recipient: recipient.clone(),
            enc,
        }),
        KeySpec::Pgp(fp) => KeyStanza::Pgp(PgpStanza {
            fp: fp.clone(),
            created_at,
            enc,
        }),
        KeySpec::Kms {
            arn,
            role,
            context,
            aws_profile,
        } => KeyStanza::Kms(KmsStanza {
            arn: arn.clone(),
            role: role.clone(),
            context: context.clone(),
            created_at,
            enc,
            aws_profile: aws_profile.clone(),
        }),
        KeySpec::GcpKms(resource_id) => KeyStanza::GcpKms(GcpKmsStanza {
            resource_id: resource_id.clone(),
            created_at,
            enc,
        }),
        KeySpec::AzureKv {
            vault_url,
            key,
            version,
        } => KeyStanza::AzureKv(AzureKvStanza {
            vault_url: vault_url.clone(),
            name: key.clone(),
            version: version.clone(),
            created_at,
            enc,
        }),
        KeySpec::HcVault(uri) => {
            let (vault_address, engine_path, key_name) = crate::keys::hcvault::parse_uri(uri)?;
            KeyStanza::HcVault(HcVaultStanza {
                vault_address,
                engine_path,
                key_name,
                created_at,
                enc,
            })
        }
        KeySpec::Hckms(key_id) => KeyStanza::Hckms(HckmsStanza {
            key_id: key_id.clone(),
            created_at,
            enc,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn specs() -> Vec<KeySpec> {
        vec![
            KeySpec::Age("age1abc".into()),
            KeySpec::Pgp("1BA4BB945673E83C054AF26813DC73C8F49DE51A".into()),
            KeySpec::Kms {
                arn: "arn:aws:kms:us-east-1:1:key/x".into(),
                role: "arn:aws:iam::1:role/r".into(),
                context: BTreeMap::from([("a".into(), "b".into())]),
                aws_profile: "p".into(),
            },
            KeySpec::GcpKms("projects/p/locations/l/keyRings/r/cryptoKeys/k".into()),
            KeySpec::AzureKv {
                vault_url: "https://v.vault.azure.net".into(),
                key: "k".into(),
                version: "1".into(),
            },
            KeySpec::HcVault("http://127.0.0.1:8200/v1/transit/keys/k1".into()),
            KeySpec::Hckms("cn-north-4:0a1b".into()),
        ]
    }

    #[test]
    fn every_spec_survives_the_protocol() {
        for spec in specs() {
            let key = key_of_spec(&spec);
            assert_eq!(spec_of_key(Some(&key)).unwrap(), spec);
            let stanza = stanza_of(&spec, "ENC".into()).unwrap();
            assert_eq!(stanza.enc(), "ENC");
            assert_eq!(key_of_stanza(&stanza), key, "{spec:?}");
        }
    }

    #[test]
    fn no_key_is_refused_with_sops_words() {
        assert_eq!(spec_of_key(None), Err("Must provide a key"));
        let empty = proto::Key { key_type: None };
        assert_eq!(spec_of_key(Some(&empty)), Err("Must provide a key"));
    }
}
