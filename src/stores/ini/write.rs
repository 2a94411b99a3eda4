//! The INI writer of gopkg.in/ini.v1 1.67 (`File.WriteTo` with its default pretty settings):
//! `=` aligned within a section, a blank line between sections, comments above their key, an
//! empty leading DEFAULT section left out.

use super::parse::DEFAULT_SECTION;

pub(super) struct OutSection {
    pub name: String,
    pub comment: String,
    pub keys: Vec<OutKey>,
}

pub(super) struct OutKey {
    pub name: String,
    pub value: Vec<u8>,
    pub comment: String,
}

impl OutSection {
    /// go-ini's `NewKey`: a repeated name replaces the value and keeps its place and comment.
    pub fn new_key(&mut self, name: &str, value: Vec<u8>) -> usize {
        if let Some(index) = self.keys.iter().position(|k| k.name == name) {
            self.keys[index].value = value;
            return index;
        }
        self.keys.push(OutKey {
            name: name.to_string(),
            value,
            comment: String::new(),
        });
        self.keys.len() - 1
    }
}

fn is_marker(line: &str) -> bool {
    line.starts_with('#') || line.starts_with(';')
}

/// Comment lines as go-ini writes them; a section comment line without a marker is not trimmed,
/// a key comment line is.
fn write_comment(out: &mut Vec<u8>, comment: &str, trim_plain: bool) {
    for line in comment.split('\n') {
        if is_marker(line) {
            out.extend_from_slice(&line.as_bytes()[..1]);
            out.push(b' ');
            out.extend_from_slice(line[1..].trim().as_bytes());
        } else {
            out.extend_from_slice(b"; ");
            out.extend_from_slice(if trim_plain { line.trim() } else { line }.as_bytes());
        }
        out.push(b'\n');
    }
}

fn quoted_name(name: &str) -> String {
    if name.contains(['"', '=', ':']) {
        format!("`{name}`")
    } else if name.contains('`') {
        format!("\"\"\"{name}\"\"\"")
    } else {
        name.to_string()
    }
}

fn has_outer_space(value: &[u8]) -> bool {
    let text = crate::stores::json::go_lossy_utf8(value);
    text.trim().len() != text.len()
}

fn write_value(out: &mut Vec<u8>, value: &[u8]) {
    let (open, close): (&[u8], &[u8]) = if value.iter().any(|&b| b == b'\n' || b == b'`') {
        (b"\"\"\"", b"\"\"\"")
    } else if value.iter().any(|&b| b == b'#' || b == b';') {
        (b"`", b"`")
    } else if has_outer_space(value) {
        (b"\"", b"\"")
    } else {
        (b"", b"")
    };
    out.extend_from_slice(open);
    out.extend_from_slice(value);
    out.extend_from_slice(close);
}

pub(super) fn write(sections: &[OutSection]) -> Vec<u8> {
    let mut out = Vec::new();
    let last = sections.len().saturating_sub(1);
    for (i, section) in sections.iter().enumerate() {
        if !section.comment.is_empty() {
            write_comment(&mut out, &section.comment, false);
        }
        if i > 0 || section.name.to_uppercase() != DEFAULT_SECTION {
            out.push(b'[');
            out.extend_from_slice(section.name.as_bytes());
            out.extend_from_slice(b"]\n");
        } else if section.keys.is_empty() {
            continue;
        }
        let names: Vec<String> = section.keys.iter().map(|k| quoted_name(&k.name)).collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        for (key, name) in section.keys.iter().zip(&names) {
            if !key.comment.is_empty() {
                write_comment(&mut out, &key.comment, true);
            }
            out.extend_from_slice(name.as_bytes());
            out.resize(out.len() + (width - name.len()), b' ');
            out.extend_from_slice(b" = ");
            write_value(&mut out, &key.value);
            out.push(b'\n');
        }
        if i != last {
            out.push(b'\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, value: &str, comment: &str) -> OutKey {
        OutKey {
            name: name.into(),
            value: value.as_bytes().to_vec(),
            comment: comment.into(),
        }
    }

    #[test]
    fn writes_like_go_ini() {
        let sections = vec![
            OutSection {
                name: "DEFAULT".into(),
                comment: String::new(),
                keys: vec![],
            },
            OutSection {
                name: "s".into(),
                comment: "about\n# more".into(),
                keys: vec![
                    key("a", "1", ""),
                    key("long_name", " padded ", "note"),
                    key("k=q", "x;y", ""),
                    key("m", "two\nlines", ""),
                ],
            },
            OutSection {
                name: "t".into(),
                comment: String::new(),
                keys: vec![key("e", "", "")],
            },
        ];
        assert_eq!(
            String::from_utf8(write(&sections)).unwrap(),
            "; about\n# more\n[s]\na         = 1\n; note\nlong_name = \" padded \"\n`k=q`     = `x;y`\nm         = \"\"\"two\nlines\"\"\"\n\n[t]\ne = \n"
        );
    }
}
