//! TOML text → tree, through toml_edit (which keeps comments in the whitespace around keys,
//! values and headers: its "decor").

use super::MAX_TOML_BYTES;
use crate::stores::{StoreError, MAX_NESTING};
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, RawString, Table, Value};

fn syntax(message: String, line: Option<usize>, column: Option<usize>) -> StoreError {
    StoreError::Syntax {
        format: "toml",
        line,
        column,
        message,
    }
}

fn unsupported(message: String) -> StoreError {
    StoreError::Unsupported {
        format: "toml",
        message,
    }
}

/// Parses a whole file into its root table.
pub fn parse(bytes: &[u8]) -> Result<Map, StoreError> {
    if bytes.len() > MAX_TOML_BYTES {
        return Err(unsupported(format!(
            "the file is larger than {} MiB",
            MAX_TOML_BYTES >> 20
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        syntax("the file is not UTF-8".to_string(), line, column)
    })?;
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        let (line, column) = e
            .span()
            .map_or((None, None), |span| line_column(bytes, span.start));
        // Only the parser's own words: its Display quotes the offending line, which may hold a
        // secret.
        syntax(e.message().trim_end().to_string(), line, column)
    })?;
    let mut root = table(doc.as_table(), 0)?;
    for comment in comments(Some(doc.trailing())) {
        root.items.push(MapItem::Comment(comment));
    }
    Ok(root)
}

fn line_column(bytes: &[u8], offset: usize) -> (Option<usize>, Option<usize>) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (Some(line), Some(column))
}

/// The comments in a stretch of whitespace, each as the text after its `#`.
fn comments(raw: Option<&RawString>) -> Vec<String> {
    let Some(text) = raw.and_then(RawString::as_str) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.trim_start().strip_prefix('#'))
        .map(|comment| comment.strip_suffix('\r').unwrap_or(comment).to_string())
        .collect()
}

fn nest(depth: usize) -> Result<usize, StoreError> {
    if depth >= MAX_NESTING {
        return Err(unsupported(format!(
            "tables and arrays nest deeper than {MAX_NESTING} levels"
        )));
    }
    Ok(depth + 1)
}

fn push_comments(map: &mut Map, found: Vec<String>) {
    map.items.extend(found.into_iter().map(MapItem::Comment));
}

fn table(source: &Table, depth: usize) -> Result<Map, StoreError> {
    let depth = nest(depth)?;
    let mut map = Map::new();
    for (name, item) in source.iter() {
        let key = source.key(name);
        match item {
            Item::None => continue,
            Item::Value(value) => {
                push_comments(
                    &mut map,
                    comments(key.and_then(|k| k.leaf_decor().prefix())),
                );
                push_comments(&mut map, comments(value.decor().suffix()));
                map.push(name, self::value(value, depth)?);
            }
            Item::Table(sub) => {
                // Comments above `[a.b]` are the table holding `b`'s, just above `b`.
                push_comments(&mut map, comments(sub.decor().prefix()));
                let mut inner = Map::new();
                push_comments(&mut inner, comments(sub.decor().suffix()));
                inner.items.extend(table(sub, depth)?.items);
                map.push(name, Node::Map(inner));
            }
            Item::ArrayOfTables(array) => {
                let (first_comments, list) = array_of_tables(array, depth)?;
                push_comments(&mut map, first_comments);
                map.push(name, Node::List(list));
            }
        }
    }
    Ok(map)
}

/// The elements of `[[name]]` sections; comments above the first header belong to the parent,
/// those above a later one to the list.
fn array_of_tables(
    array: &ArrayOfTables,
    depth: usize,
) -> Result<(Vec<String>, Vec<ListItem>), StoreError> {
    let depth = nest(depth)?;
    let mut first_comments = Vec::new();
    let mut list = Vec::new();
    for (index, element) in array.iter().enumerate() {
        let above = comments(element.decor().prefix());
        if index == 0 {
            first_comments = above;
        } else {
            list.extend(above.into_iter().map(ListItem::Comment));
        }
        let mut inner = Map::new();
        push_comments(&mut inner, comments(element.decor().suffix()));
        inner.items.extend(table(element, depth)?.items);
        list.push(ListItem::Value(Node::Map(inner)));
    }
    Ok((first_comments, list))
}

fn inline_table(source: &InlineTable, depth: usize) -> Result<Map, StoreError> {
    let depth = nest(depth)?;
    let mut map = Map::new();
    for (name, value) in source.iter() {
        let key = source.key(name);
        push_comments(
            &mut map,
            comments(key.and_then(|k| k.leaf_decor().prefix())),
        );
        push_comments(&mut map, comments(value.decor().suffix()));
        map.push(name, self::value(value, depth)?);
    }
    push_comments(&mut map, comments(Some(source.trailing())));
    Ok(map)
}

fn value(source: &Value, depth: usize) -> Result<Node, StoreError> {
    Ok(match source {
        Value::String(s) => Node::Scalar(Scalar::Str(s.value().clone())),
        Value::Integer(i) => Node::Scalar(Scalar::Int(*i.value())),
        Value::Float(f) => Node::Scalar(Scalar::Float(*f.value())),
        Value::Boolean(b) => Node::Scalar(Scalar::Bool(*b.value())),
        Value::Datetime(d) => Node::Scalar(Scalar::Time(date_time(d.value())?)),
        Value::Array(array) => {
            let depth = nest(depth)?;
            let mut list = Vec::new();
            for element in array.iter() {
                let above = comments(element.decor().prefix())
                    .into_iter()
                    .chain(comments(element.decor().suffix()));
                list.extend(above.filter_map(list_comment));
                list.push(ListItem::Value(self::value(element, depth)?));
            }
            let trailing = comments(Some(array.trailing()));
            list.extend(trailing.into_iter().filter_map(list_comment));
            Node::List(list)
        }
        Value::InlineTable(inline) => Node::Map(inline_table(inline, depth)?),
    })
}

/// An empty comment in an array is dropped: encryption turns a list's comment into a string
/// (sops's rule), and an empty one is not encrypted, so it would come back as `""`.
fn list_comment(text: String) -> Option<ListItem> {
    (!text.is_empty()).then_some(ListItem::Comment(text))
}

/// A date-time with an offset is held as Go's RFC 3339 text (as the YAML store holds
/// timestamps, and as sops's `time` type needs); local dates and times as TOML writes them.
fn date_time(value: &toml_edit::Datetime) -> Result<String, StoreError> {
    let text = value.to_string();
    if value.offset.is_none() {
        return Ok(text);
    }
    crate::compat::rfc3339::normalize_rfc3339_nano(&text)
        .ok_or_else(|| unsupported("a date-time is outside what RFC 3339 can hold".to_string()))
}
