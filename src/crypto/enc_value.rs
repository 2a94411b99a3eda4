//! Parsing and printing of `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The `type:` tag of an encrypted value: it says how to turn the plaintext bytes back into a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Bytes,
    Time,
    /// rsops only: a TOML local date, time or date-time (no offset, so no RFC 3339 `time`);
    /// the plaintext is its TOML text. sops has no such type and rejects the value.
    LocalTime,
    Comment,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Bytes => "bytes",
            ValueType::Time => "time",
            ValueType::LocalTime => "localtime",
            ValueType::Comment => "comment",
        }
    }

    pub fn parse(tag: &str) -> Option<ValueType> {
        Some(match tag {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "bytes" => ValueType::Bytes,
            "time" => ValueType::Time,
            "localtime" => ValueType::LocalTime,
            "comment" => ValueType::Comment,
            _ => return None,
        })
    }
}

/// One encrypted value as it sits in a file. `data` excludes the GCM tag.
#[derive(Clone, PartialEq, Eq)]
pub struct EncValue {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    /// Kept as text so that an unknown type is reported only after the value authenticates,
    /// which is when sops reports it.
    pub value_type: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncValueError {
    #[error("the value is not in sops's ENC[AES256_GCM,data:…,iv:…,tag:…,type:…] form")]
    NotEncrypted,
    #[error("the {field} field of an encrypted value is not valid base64")]
    BadBase64 { field: &'static str },
}

impl EncValue {
    /// True when `s` has the shape sops recognises as an encrypted value.
    pub fn looks_encrypted(s: &str) -> bool {
        s.starts_with("ENC[AES256_GCM,")
    }

    /// Mirrors sops's regex `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`: greedy
    /// groups, unanchored at the end.
    pub fn parse(s: &str) -> Result<EncValue, EncValueError> {
        let parts = EncParts::split(s)?;
        let decode = |field: &'static str, text: &str| {
            STANDARD
                .decode(text)
                .map_err(|_| EncValueError::BadBase64 { field })
        };
        Ok(EncValue {
            data: decode("data", parts.data)?,
            iv: decode("iv", parts.iv)?,
            tag: decode("tag", parts.tag)?,
            value_type: parts.value_type.to_string(),
        })
    }

    pub fn to_string_form(&self) -> String {
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            STANDARD.encode(&self.data),
            STANDARD.encode(&self.iv),
            STANDARD.encode(&self.tag),
            self.value_type
        )
    }
}

/// The four fields of an `ENC[…]` string, still in base64, borrowed from the text.
pub(crate) struct EncParts<'a> {
    pub data: &'a str,
    pub iv: &'a str,
    pub tag: &'a str,
    pub value_type: &'a str,
}

/// Last occurrence of `needle` in `hay`; the fields sought sit near the end, so scan backwards.
fn rfind(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut end = h.len();
    while let Some(at) = memchr::memrchr(n[0], &h[..end]) {
        if h[at..].starts_with(n) {
            return Some(at);
        }
        end = at;
    }
    None
}

impl<'a> EncParts<'a> {
    pub fn split(s: &'a str) -> Result<EncParts<'a>, EncValueError> {
        let rest = s
            .strip_prefix("ENC[AES256_GCM,data:")
            .ok_or(EncValueError::NotEncrypted)?;
        let close = rfind(rest, "]").ok_or(EncValueError::NotEncrypted)?;
        let body = &rest[..close];
        let type_at = rfind(body, ",type:").ok_or(EncValueError::NotEncrypted)?;
        let (before_type, value_type) = (&body[..type_at], &body[type_at + 6..]);
        let tag_at = rfind(before_type, ",tag:").ok_or(EncValueError::NotEncrypted)?;
        let (before_tag, tag) = (&before_type[..tag_at], &before_type[tag_at + 5..]);
        let iv_at = rfind(before_tag, ",iv:").ok_or(EncValueError::NotEncrypted)?;
        let (data, iv) = (&before_tag[..iv_at], &before_tag[iv_at + 4..]);
        if data.is_empty() || iv.is_empty() || tag.is_empty() || value_type.is_empty() {
            return Err(EncValueError::NotEncrypted);
        }
        Ok(EncParts {
            data,
            iv,
            tag,
            value_type,
        })
    }
}

impl std::fmt::Debug for EncValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_form())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_sops_vector() {
        let s = "ENC[AES256_GCM,data:oYyi,iv:MyIDYbT718JRr11QtBkcj3Dwm4k1aCGZBVeZf0EyV8o=,tag:t5z2Z023Up0kxwCgw1gNxg==,type:str]";
        let v = EncValue::parse(s).unwrap();
        assert_eq!(v.data.len(), 3);
        assert_eq!(v.iv.len(), 32);
        assert_eq!(v.tag.len(), 16);
        assert_eq!(v.value_type, "str");
        assert_eq!(v.to_string_form(), s);
    }

    #[test]
    fn rejects_other_shapes() {
        for bad in [
            "plain",
            "ENC[AES256_GCM,data:,iv:a,tag:b,type:str]",
            "ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YQ==]",
            "ENC[AES256_CBC,data:YQ==,iv:YQ==,tag:YQ==,type:str]",
        ] {
            assert!(EncValue::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            EncValue::parse("ENC[AES256_GCM,data:!!,iv:YQ==,tag:YQ==,type:str]"),
            Err(EncValueError::BadBase64 { field: "data" })
        );
    }
}
