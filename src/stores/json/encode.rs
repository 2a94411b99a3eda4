//! Go's JSON spellings: `json.Marshal` for strings and numbers, and the layout sops gets by
//! running its hand-built object through `json.Indent`.

use crate::compat::number::format_float_json;
use crate::stores::StoreError;
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn emit_error(message: &str) -> StoreError {
    StoreError::Emit {
        format: "json",
        message: message.to_string(),
    }
}

/// `json.Marshal` of a Go string holding `bytes`: HTML characters, controls, U+2028/2029 are
/// escaped and every invalid UTF-8 byte becomes `\ufffd`.
pub(crate) fn write_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut rest = bytes;
    loop {
        // Copy the run that needs no escaping in one go.
        let plain = rest
            .iter()
            .position(|&b| {
                !(0x20..0x80).contains(&b) || matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&')
            })
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..plain]);
        rest = &rest[plain..];
        let Some(&b) = rest.first() else { break };
        if b < 0x80 {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0c => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                0..=0x1f | b'<' | b'>' | b'&' => {
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 0xf)]);
                }
                _ => out.push(b),
            }
            rest = &rest[1..];
            continue;
        }
        match decode_char(rest) {
            Some((c, len)) => {
                match c {
                    '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                    '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                    _ => out.extend_from_slice(&rest[..len]),
                }
                rest = &rest[len..];
            }
            None => {
                out.extend_from_slice(b"\\ufffd");
                rest = &rest[1..];
            }
        }
    }
    out.push(b'"');
}

/// The UTF-8 character at the start of `bytes`, if it is valid.
fn decode_char(bytes: &[u8]) -> Option<(char, usize)> {
    let len = match bytes[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(bytes.get(..len)?).ok()?;
    text.chars().next().map(|c| (c, len))
}

/// `json.Marshal` of a scalar as sops holds it.
pub(crate) fn write_scalar(out: &mut Vec<u8>, scalar: &Scalar) -> Result<(), StoreError> {
    match scalar {
        Scalar::Null => out.extend_from_slice(b"null"),
        Scalar::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Scalar::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Scalar::Float(f) => {
            if !f.is_finite() {
                return Err(emit_error("JSON cannot represent Inf or NaN"));
            }
            out.extend_from_slice(format_float_json(*f).as_bytes());
        }
        Scalar::Str(s) | Scalar::Time(s) => write_string(out, s.as_bytes()),
        Scalar::Bytes(b) => write_string(out, b),
    }
    Ok(())
}

/// Writes nodes as sops's `encodeTree`/`encodeArray` followed by `json.Indent`: one element per
/// line, `": "` after keys, empty containers kept as `{}`/`[]`, comments left out.
pub(crate) struct Indenter<'u> {
    pub unit: &'u str,
}

impl Indenter<'_> {
    fn newline(&self, out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(self.unit.as_bytes());
        }
    }

    pub fn node(&self, out: &mut Vec<u8>, node: &Node, depth: usize) -> Result<(), StoreError> {
        match node {
            Node::Map(map) => self.map(out, map, depth),
            Node::List(items) => self.list(out, items, depth),
            Node::Scalar(scalar) => write_scalar(out, scalar),
        }
    }

    pub fn map(&self, out: &mut Vec<u8>, map: &Map, depth: usize) -> Result<(), StoreError> {
        out.push(b'{');
        let mut empty = true;
        for item in &map.items {
            let MapItem::Entry { key, value } = item else {
                continue;
            };
            if !empty {
                out.push(b',');
            }
            self.newline(out, depth + 1);
            write_string(out, key.as_bytes());
            out.extend_from_slice(b": ");
            self.node(out, value, depth + 1)?;
            empty = false;
        }
        if !empty {
            self.newline(out, depth);
        }
        out.push(b'}');
        Ok(())
    }

    fn list(&self, out: &mut Vec<u8>, items: &[ListItem], depth: usize) -> Result<(), StoreError> {
        out.push(b'[');
        let mut empty = true;
        for item in items {
            let ListItem::Value(value) = item else {
                continue;
            };
            if !empty {
                out.push(b',');
            }
            self.newline(out, depth + 1);
            self.node(out, value, depth + 1)?;
            empty = false;
        }
        if !empty {
            self.newline(out, depth);
        }
        out.push(b']');
        Ok(())
    }
}

/// Compact `json.Marshal` of the Go value sops holds for a node, which is what its INI store
/// prints for `--extract`: a mapping is a list of `{"Key":…,"Value":…}` items, a comment
/// `{"Value":…}`.
pub(crate) fn write_go_marshal(out: &mut Vec<u8>, node: &Node) -> Result<(), StoreError> {
    match node {
        Node::Scalar(scalar) => write_scalar(out, scalar),
        Node::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match item {
                    ListItem::Value(value) => write_go_marshal(out, value)?,
                    ListItem::Comment(text) => write_comment(out, text),
                }
            }
            out.push(b']');
            Ok(())
        }
        Node::Map(map) => {
            out.push(b'[');
            for (i, item) in map.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"Key\":");
                match item {
                    MapItem::Entry { key, value } => {
                        write_string(out, key.as_bytes());
                        out.extend_from_slice(b",\"Value\":");
                        write_go_marshal(out, value)?;
                    }
                    MapItem::Comment(text) => {
                        write_comment(out, text);
                        out.extend_from_slice(b",\"Value\":null");
                    }
                }
                out.push(b'}');
            }
            out.push(b']');
            Ok(())
        }
    }
}

fn write_comment(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"{\"Value\":");
    write_string(out, text.as_bytes());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        write_string(&mut out, bytes);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_go_marshal() {
        assert_eq!(esc(b"<a&b>"), r#""\u003ca\u0026b\u003e""#);
        assert_eq!(
            esc(b"\x08\x0c\n\r\t\x01\x7f"),
            "\"\\b\\f\\n\\r\\t\\u0001\x7f\""
        );
        assert_eq!(
            esc("\u{2028}\u{2029}é😀".as_bytes()),
            "\"\\u2028\\u2029é😀\""
        );
        assert_eq!(esc(b"a\xffb\xe2\x82"), r#""a\ufffdb\ufffd\ufffd""#);
        assert_eq!(esc(b"\"\\/"), r#""\"\\/""#);
    }

    #[test]
    fn marshals_go_values() {
        let mut map = Map::new();
        map.push(
            "k",
            Node::List(vec![ListItem::Value(Node::Scalar(Scalar::Int(1)))]),
        );
        map.items.push(MapItem::Comment("c".into()));
        let mut out = Vec::new();
        write_go_marshal(&mut out, &Node::Map(map)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"Key":"k","Value":[1]},{"Key":{"Value":"c"},"Value":null}]"#
        );
    }
}
