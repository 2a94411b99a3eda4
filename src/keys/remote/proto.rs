//! The messages of sops's `keyservice/keyservice.proto` (package-less, service `KeyService`),
//! written out by hand so the build needs no `protoc`. Field numbers and types are the wire
//! contract: sops 3.11.0 has tags 1–6 in `Key`; 3.13 added `hckms_key = 7`, which a 3.11 peer
//! skips as an unknown field (and then answers "Must provide a key").

use std::collections::HashMap;

/// `/KeyService/Encrypt` and `/KeyService/Decrypt`: the proto file declares no package.
pub const SERVICE: &str = "KeyService";
pub const ENCRYPT_PATH: &str = "/KeyService/Encrypt";
pub const DECRYPT_PATH: &str = "/KeyService/Decrypt";

#[derive(Clone, PartialEq, prost::Message)]
pub struct Key {
    #[prost(oneof = "KeyType", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub key_type: Option<KeyType>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum KeyType {
    #[prost(message, tag = "1")]
    KmsKey(KmsKey),
    #[prost(message, tag = "2")]
    PgpKey(PgpKey),
    #[prost(message, tag = "3")]
    GcpKmsKey(GcpKmsKey),
    #[prost(message, tag = "4")]
    AzureKeyvaultKey(AzureKeyVaultKey),
    #[prost(message, tag = "5")]
    VaultKey(VaultKey),
    #[prost(message, tag = "6")]
    AgeKey(AgeKey),
    #[prost(message, tag = "7")]
    HckmsKey(HckmsKey),
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PgpKey {
    #[prost(string, tag = "1")]
    pub fingerprint: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct KmsKey {
    #[prost(string, tag = "1")]
    pub arn: String,
    #[prost(string, tag = "2")]
    pub role: String,
    #[prost(map = "string, string", tag = "3")]
    pub context: HashMap<String, String>,
    #[prost(string, tag = "4")]
    pub aws_profile: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GcpKmsKey {
    #[prost(string, tag = "1")]
    pub resource_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct VaultKey {
    #[prost(string, tag = "1")]
    pub vault_address: String,
    #[prost(string, tag = "2")]
    pub engine_path: String,
    #[prost(string, tag = "3")]
    pub key_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AzureKeyVaultKey {
    #[prost(string, tag = "1")]
    pub vault_url: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct AgeKey {
    #[prost(string, tag = "1")]
    pub recipient: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct HckmsKey {
    #[prost(string, tag = "1")]
    pub key_id: String,
}

/// `plaintext` is a data key (or a Shamir share): zeroized on drop.
#[derive(Clone, PartialEq, prost::Message, zeroize::ZeroizeOnDrop)]
pub struct EncryptRequest {
    #[prost(message, optional, tag = "1")]
    #[zeroize(skip)]
    pub key: Option<Key>,
    #[prost(bytes = "vec", tag = "2")]
    pub plaintext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub ciphertext: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct DecryptRequest {
    #[prost(message, optional, tag = "1")]
    pub key: Option<Key>,
    #[prost(bytes = "vec", tag = "2")]
    pub ciphertext: Vec<u8>,
}

/// `plaintext` is a data key (or a Shamir share): zeroized on drop.
#[derive(Clone, PartialEq, prost::Message, zeroize::ZeroizeOnDrop)]
pub struct DecryptResponse {
    #[prost(bytes = "vec", tag = "1")]
    pub plaintext: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// Bytes as Go's protobuf marshals `DecryptRequest{Key: AgeKey{"age1x"}, Ciphertext: "ab"}`:
    /// field 1 (key, length 9) holding field 6 (age_key, length 7) holding field 1 ("age1x").
    #[test]
    fn wire_bytes_match_the_proto_tags() {
        let request = DecryptRequest {
            key: Some(Key {
                key_type: Some(KeyType::AgeKey(AgeKey {
                    recipient: "age1x".into(),
                })),
            }),
            ciphertext: b"ab".to_vec(),
        };
        let bytes = request.encode_to_vec();
        assert_eq!(
            bytes,
            [0x0a, 9, 0x32, 7, 0x0a, 5, b'a', b'g', b'e', b'1', b'x', 0x12, 2, b'a', b'b']
        );
        assert_eq!(DecryptRequest::decode(bytes.as_slice()).unwrap(), request);
    }

    #[test]
    fn an_unknown_key_type_decodes_as_no_key() {
        // tag 9 inside Key: a key type neither 3.11 nor 3.13 knows.
        let bytes = [0x0a, 4, 0x4a, 2, 0x0a, 0, 0x12, 0];
        let request = DecryptRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(request.key, Some(Key { key_type: None }));
    }
}
