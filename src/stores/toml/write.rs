//! Tree → TOML text, in the one layout `read` gives back unchanged (see the module docs of
//! `stores::toml`).

use crate::stores::StoreError;
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};
use std::fmt::Write;

const INDENT: &str = "    ";

pub fn error(message: String) -> StoreError {
    StoreError::Emit {
        format: "toml",
        message,
    }
}

/// A whole file: the root table, then `[sops]` when writing an encrypted file.
pub fn document(root: &Map, sops: Option<&Map>) -> Result<Vec<u8>, StoreError> {
    let mut out = String::new();
    // Comments after the root's last value sit at the end of the file, below every section
    // (and above `[sops]`, where they read back as the root's too).
    let (items, trailing) = split_trailing_comments(&root.items);
    table_contents(&mut out, &[], items)?;
    if !trailing.is_empty() && sections_start(items) < items.len() {
        out.push('\n');
    }
    for text in trailing {
        comment_line(&mut out, "", text)?;
    }
    if let Some(sops) = sops {
        section(&mut out, &[super::SOPS_KEY], false, &[], sops)?;
    }
    Ok(out.into_bytes())
}

/// One value for `--extract`: a scalar as TOML writes it, a table as a document.
pub fn value(node: &Node) -> Result<Vec<u8>, StoreError> {
    let mut out = String::new();
    match node {
        Node::Map(map) => return document(map, None),
        _ => inline(&mut out, node, 0)?,
    }
    out.push('\n');
    Ok(out.into_bytes())
}

/// The metadata is read by field name, so its order is free: plain fields first, tables after,
/// which keeps every key list an `[[sops.age]]` section instead of an inline array.
pub fn tables_last(mut map: Map) -> Map {
    let (mut plain, mut tables): (Vec<MapItem>, Vec<MapItem>) = (Vec::new(), Vec::new());
    for item in std::mem::take(&mut map.items) {
        let item = match item {
            MapItem::Entry {
                key,
                value: Node::List(list),
            } => MapItem::Entry {
                key,
                value: Node::List(
                    list.into_iter()
                        .map(|element| match element {
                            ListItem::Value(Node::Map(m)) => {
                                ListItem::Value(Node::Map(tables_last(m)))
                            }
                            other => other,
                        })
                        .collect(),
                ),
            },
            other => other,
        };
        match &item {
            MapItem::Entry { value, .. } if is_section(value) => tables.push(item),
            _ => plain.push(item),
        }
    }
    plain.extend(tables);
    Map { items: plain }
}

fn split_trailing_comments(items: &[MapItem]) -> (&[MapItem], Vec<&str>) {
    let end = items
        .iter()
        .rposition(|item| matches!(item, MapItem::Entry { .. }))
        .map_or(0, |i| i + 1);
    let trailing = items[end..]
        .iter()
        .filter_map(|item| match item {
            MapItem::Comment(text) => Some(text.as_str()),
            MapItem::Entry { .. } => None,
        })
        .collect();
    (&items[..end], trailing)
}

fn ends_with_comment(map: &Map) -> bool {
    matches!(map.items.last(), Some(MapItem::Comment(_)))
}

/// A value that can be written as its own `[header]` section(s): a table, or a list of tables
/// whose comments sit only between elements (above a later `[[header]]`).
fn is_section(node: &Node) -> bool {
    match node {
        Node::Map(map) => !ends_with_comment(map),
        Node::List(items) => {
            let is_table =
                |item: Option<&ListItem>| matches!(item, Some(ListItem::Value(Node::Map(_))));
            is_table(items.first())
                && is_table(items.last())
                && items.iter().all(|item| match item {
                    ListItem::Value(Node::Map(map)) => !ends_with_comment(map),
                    ListItem::Value(_) => false,
                    ListItem::Comment(_) => true,
                })
        }
        Node::Scalar(_) => false,
    }
}

/// Where a table's sections start: after its last item that must stay in the body. Comments
/// just before a section are written above its header.
fn sections_start(items: &[MapItem]) -> usize {
    if matches!(items.last(), Some(MapItem::Comment(_))) {
        return items.len();
    }
    let mut start = items.len();
    while start > 0 {
        match &items[start - 1] {
            MapItem::Comment(_) => start -= 1,
            MapItem::Entry { value, .. } if is_section(value) => start -= 1,
            MapItem::Entry { .. } => break,
        }
    }
    start
}

fn table_contents(out: &mut String, path: &[&str], items: &[MapItem]) -> Result<(), StoreError> {
    let start = sections_start(items);
    for item in &items[..start] {
        match item {
            MapItem::Comment(text) => comment_line(out, "", text)?,
            MapItem::Entry { key, value } => {
                write_key(out, key);
                out.push_str(" = ");
                inline(out, value, 0)?;
                out.push('\n');
            }
        }
    }
    let mut above: Vec<&str> = Vec::new();
    for item in &items[start..] {
        match item {
            MapItem::Comment(text) => above.push(text),
            MapItem::Entry { key, value } => {
                let mut sub_path = path.to_vec();
                sub_path.push(key);
                match value {
                    Node::Map(map) => {
                        section(out, &sub_path, false, &std::mem::take(&mut above), map)?
                    }
                    Node::List(list) => {
                        for element in list {
                            match element {
                                ListItem::Comment(text) => above.push(text),
                                ListItem::Value(Node::Map(map)) => {
                                    section(out, &sub_path, true, &std::mem::take(&mut above), map)?
                                }
                                ListItem::Value(_) => unreachable!("checked by is_section"),
                            }
                        }
                    }
                    Node::Scalar(_) => unreachable!("checked by is_section"),
                }
            }
        }
    }
    Ok(())
}

fn section(
    out: &mut String,
    path: &[&str],
    array: bool,
    above: &[&str],
    map: &Map,
) -> Result<(), StoreError> {
    if !out.is_empty() {
        out.push('\n');
    }
    for text in above {
        comment_line(out, "", text)?;
    }
    section_header(out, path, array);
    table_contents(out, path, &map.items)
}

fn section_header(out: &mut String, path: &[&str], array: bool) {
    out.push_str(if array { "[[" } else { "[" });
    for (i, key) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        write_key(out, key);
    }
    out.push_str(if array { "]]\n" } else { "]\n" });
}

fn comment_line(out: &mut String, indent: &str, text: &str) -> Result<(), StoreError> {
    // TOML allows no control character but tab in a comment; a newline would end it early.
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(error(
            "a comment holds a control character, which TOML cannot write".to_string(),
        ));
    }
    out.push_str(indent);
    out.push('#');
    out.push_str(text);
    out.push('\n');
    Ok(())
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn write_key(out: &mut String, key: &str) {
    if is_bare_key(key) {
        out.push_str(key);
    } else {
        basic_string(out, key);
    }
}

fn has_comment(node: &Node) -> bool {
    match node {
        Node::Scalar(_) => false,
        Node::Map(map) => map.items.iter().any(|item| match item {
            MapItem::Comment(_) => true,
            MapItem::Entry { value, .. } => has_comment(value),
        }),
        Node::List(items) => items.iter().any(|item| match item {
            ListItem::Comment(_) => true,
            ListItem::Value(value) => has_comment(value),
        }),
    }
}

/// A value after `key = `: scalars, `[…]` arrays and `{…}` tables, over several lines (TOML
/// 1.1 inline tables) only when comments must go inside.
fn inline(out: &mut String, node: &Node, level: usize) -> Result<(), StoreError> {
    match node {
        Node::Scalar(scalar) => self::scalar(out, scalar),
        Node::List(items) if has_comment(node) => {
            out.push_str("[\n");
            let indent = INDENT.repeat(level + 1);
            for item in items {
                match item {
                    ListItem::Comment(text) => comment_line(out, &indent, text)?,
                    ListItem::Value(value) => {
                        out.push_str(&indent);
                        inline(out, value, level + 1)?;
                        out.push_str(",\n");
                    }
                }
            }
            out.push_str(&INDENT.repeat(level));
            out.push(']');
            Ok(())
        }
        Node::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let ListItem::Value(value) = item {
                    inline(out, value, level)?;
                }
            }
            out.push(']');
            Ok(())
        }
        Node::Map(map) if has_comment(node) => {
            out.push_str("{\n");
            let indent = INDENT.repeat(level + 1);
            for item in &map.items {
                match item {
                    MapItem::Comment(text) => comment_line(out, &indent, text)?,
                    MapItem::Entry { key, value } => {
                        out.push_str(&indent);
                        write_key(out, key);
                        out.push_str(" = ");
                        inline(out, value, level + 1)?;
                        out.push_str(",\n");
                    }
                }
            }
            out.push_str(&INDENT.repeat(level));
            out.push('}');
            Ok(())
        }
        Node::Map(map) if map.items.is_empty() => {
            out.push_str("{}");
            Ok(())
        }
        Node::Map(map) => {
            out.push_str("{ ");
            for (i, (key, value)) in map.entries().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key(out, key);
                out.push_str(" = ");
                inline(out, value, level)?;
            }
            out.push_str(" }");
            Ok(())
        }
    }
}

fn scalar(out: &mut String, scalar: &Scalar) -> Result<(), StoreError> {
    match scalar {
        Scalar::Str(s) if s.contains('\n') => multi_line_string(out, s),
        Scalar::Str(s) => basic_string(out, s),
        Scalar::Int(i) => write!(out, "{i}").expect("writing to a String cannot fail"),
        Scalar::Float(f) => float(out, *f),
        Scalar::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Scalar::Time(text) => {
            // Checked, because the text is written as it is: it must read back as a date-time.
            if text.parse::<toml_edit::Datetime>().is_err() {
                return Err(error("a time value is not a TOML date-time".to_string()));
            }
            out.push_str(text);
        }
        Scalar::Null => return Err(error("TOML has no null value".to_string())),
        Scalar::Bytes(_) => {
            return Err(error(
                "a value is not UTF-8 text, which TOML strings must be".to_string(),
            ))
        }
    }
    Ok(())
}

/// Rust's shortest round-trip spelling, which TOML reads as long as it has a `.` or exponent.
fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        write!(out, "{f:?}").expect("writing to a String cannot fail");
    }
}

fn escape(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if c.is_control() => write!(out, "\\u{:04X}", c as u32).expect("infallible"),
        c => out.push(c),
    }
}

fn basic_string(out: &mut String, s: &str) {
    out.push('"');
    s.chars().for_each(|c| escape(out, c));
    out.push('"');
}

/// `"""` with the newlines as they are: readable armored keys and multi-line secrets. The newline
/// right after the opening quotes is not part of the value.
fn multi_line_string(out: &mut String, s: &str) {
    out.push_str("\"\"\"\n");
    for c in s.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            escape(out, c);
        }
    }
    out.push_str("\"\"\"");
}
