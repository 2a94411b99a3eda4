//! An INI reader following gopkg.in/ini.v1 1.67 with the options sops uses: non-unique
//! sections, `=` and `:` as delimiters, inline comments, quote stripping, backslash
//! continuation lines and `"""`/backquote multi-line values.

use crate::stores::StoreError;

pub(super) struct Section {
    pub name: String,
    pub comment: String,
    pub keys: Vec<Key>,
}

pub(super) struct Key {
    pub name: String,
    pub value: String,
    pub comment: String,
}

pub(super) const DEFAULT_SECTION: &str = "DEFAULT";

impl Section {
    pub fn new(name: &str) -> Self {
        Section {
            name: name.to_string(),
            comment: String::new(),
            keys: Vec::new(),
        }
    }

    /// go-ini's `NewKey`: a repeated name replaces the value in place.
    pub fn new_key(&mut self, name: &str, value: String) -> usize {
        if let Some(index) = self.keys.iter().position(|k| k.name == name) {
            self.keys[index].value = value;
            return index;
        }
        self.keys.push(Key {
            name: name.to_string(),
            value,
            comment: String::new(),
        });
        self.keys.len() - 1
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    eof: bool,
    line_no: usize,
    comment: String,
}

fn syntax_error(line: usize, message: &str) -> StoreError {
    StoreError::Syntax {
        format: "ini",
        line: Some(line),
        column: None,
        message: message.to_string(),
    }
}

/// True when `s` is wrapped in `quote` and holds no other `quote` (go-ini `hasSurroundedQuote`).
fn has_surrounded_quote(s: &str, quote: char) -> bool {
    s.len() >= 2
        && s.starts_with(quote)
        && s.ends_with(quote)
        && s[1..].find(quote) == Some(s.len() - 2)
}

fn find_any(s: &str, chars: &[char]) -> Option<usize> {
    s.find(|c| chars.contains(&c))
}

impl<'a> Parser<'a> {
    /// The next line including its `\n` (Go's `ReadBytes('\n')`).
    fn read_line(&mut self) -> &'a str {
        let rest = &self.text[self.pos..];
        self.line_no += 1;
        match rest.find('\n') {
            Some(i) => {
                self.pos += i + 1;
                &rest[..=i]
            }
            None => {
                self.pos = self.text.len();
                self.eof = true;
                rest
            }
        }
    }

    fn key_name(&self, line: &str) -> Result<(String, usize), StoreError> {
        let quote = if line.starts_with('"') {
            if line.len() > 6 && line.starts_with("\"\"\"") {
                "\"\"\""
            } else {
                "\""
            }
        } else if line.starts_with('`') {
            "`"
        } else {
            ""
        };
        if !quote.is_empty() {
            let start = quote.len();
            let Some(pos) = line[start..].find(quote).map(|p| p + start) else {
                return Err(syntax_error(self.line_no, "missing closing key quote"));
            };
            let Some(i) = find_any(&line[pos + start..], &['=', ':']) else {
                return Err(syntax_error(self.line_no, "key-value delimiter not found"));
            };
            return Ok((line[start..pos].trim().to_string(), pos + i + start + 1));
        }
        match find_any(line, &['=', ':']) {
            None => Err(syntax_error(self.line_no, "key-value delimiter not found")),
            Some(0) => Err(syntax_error(self.line_no, "empty key name")),
            Some(end) => Ok((line[..end].trim().to_string(), end + 1)),
        }
    }

    fn value(&mut self, raw: &str) -> Result<String, StoreError> {
        let line = raw.trim_start();
        if line.is_empty() {
            return Ok(String::new());
        }
        let quote = if line.len() > 3 && line.starts_with("\"\"\"") {
            "\"\"\""
        } else if line.starts_with('`') {
            "`"
        } else {
            ""
        };
        if !quote.is_empty() {
            let start = quote.len();
            return match line[start..].rfind(quote) {
                Some(pos) => Ok(line[start..start + pos].to_string()),
                None => self.multiline(line[start..].to_string(), quote),
            };
        }
        let mut line = line.trim();
        if let Some(head) = line.strip_suffix('\\') {
            return Ok(self.continuation(head.to_string()));
        }
        if let Some(i) = find_any(line, &['#', ';']) {
            self.comment.push_str(&line[i..]);
            line = line[..i].trim();
        }
        if has_surrounded_quote(line, '\'') || has_surrounded_quote(line, '"') {
            line = &line[1..line.len() - 1];
        }
        Ok(line.to_string())
    }

    fn multiline(&mut self, mut value: String, quote: &str) -> Result<String, StoreError> {
        let first_line = self.line_no;
        loop {
            let next = self.read_line();
            if let Some(pos) = next.rfind(quote) {
                value.push_str(&next[..pos]);
                if let Some(i) = find_any(&next[pos..], &['#', ';']) {
                    self.comment.push_str(next[pos + i..].trim());
                }
                return Ok(value);
            }
            value.push_str(next);
            if self.eof {
                return Err(syntax_error(first_line, "missing closing value quote"));
            }
        }
    }

    fn continuation(&mut self, mut value: String) -> String {
        loop {
            let next = self.read_line().trim();
            if next.is_empty() {
                return value;
            }
            value.push_str(next);
            if !value.ends_with('\\') {
                return value;
            }
            value.pop();
        }
    }

    fn take_comment(&mut self) -> String {
        let comment = self.comment.trim().to_string();
        self.comment.clear();
        comment
    }
}

/// Go's `unicode.IsSpace` is the same White_Space set as Rust's `char::is_whitespace`.
pub(super) fn parse(bytes: &[u8]) -> Result<Vec<Section>, StoreError> {
    let bytes = if bytes.starts_with(&[0xef, 0xbb, 0xbf]) {
        &bytes[3..]
    } else if bytes.starts_with(&[0xfe, 0xff]) || bytes.starts_with(&[0xff, 0xfe]) {
        &bytes[2..]
    } else {
        bytes
    };
    let text = crate::stores::json::go_lossy_utf8(bytes);
    let mut p = Parser {
        text: &text,
        pos: 0,
        eof: false,
        line_no: 0,
        comment: String::new(),
    };
    let mut sections = vec![Section::new(DEFAULT_SECTION)];
    let mut auto_index = 1;
    while !p.eof {
        let line = p.read_line().trim_start();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') || line.starts_with(';') {
            p.comment.push_str(line);
            continue;
        }
        if line.starts_with('[') {
            let Some(close) = line.rfind(']') else {
                return Err(syntax_error(p.line_no, "unclosed section"));
            };
            let name = &line[1..close];
            if name.is_empty() {
                return Err(syntax_error(p.line_no, "empty section name"));
            }
            if let Some(i) = find_any(&line[close + 1..], &['#', ';']) {
                p.comment.push_str(&line[close + 1 + i..]);
            }
            let mut section = Section::new(name);
            section.comment = p.take_comment();
            sections.push(section);
            auto_index = 1;
            continue;
        }
        let (mut name, offset) = p.key_name(line)?;
        if name == "-" {
            name = format!("#{auto_index}");
            auto_index += 1;
        }
        let value = p.value(&line[offset..])?;
        if name.is_empty() {
            return Err(syntax_error(p.line_no, "empty key name"));
        }
        let section = sections.last_mut().expect("DEFAULT is always there");
        let index = section.new_key(&name, value);
        section.keys[index].comment = p.take_comment();
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(sections: &[Section]) -> Vec<(String, String, String, String)> {
        sections
            .iter()
            .flat_map(|s| {
                s.keys.iter().map(move |k| {
                    (
                        s.name.clone(),
                        k.name.clone(),
                        k.value.clone(),
                        k.comment.clone(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn reads_keys_values_and_comments() {
        let input = "top = 1\n; about s\n[s] # tail\na = \"quoted\"\nb: 'single' ; inline\n  c = x # y\n\"k=q\" = v\nd = `back;tick`\ne = \"\"\"multi\nline\"\"\"\nf = one \\\n  two\n";
        let sections = parse(input.as_bytes()).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[1].comment, "; about s\n# tail");
        let v = values(&sections);
        let row = |s: &str, k: &str, val: &str, c: &str| {
            (s.to_string(), k.to_string(), val.to_string(), c.to_string())
        };
        assert_eq!(
            v,
            vec![
                row("DEFAULT", "top", "1", ""),
                row("s", "a", "quoted", ""),
                row("s", "b", "single", "; inline"),
                row("s", "c", "x", "# y"),
                row("s", "k=q", "v", ""),
                row("s", "d", "back;tick", ""),
                row("s", "e", "multi\nline", ""),
                row("s", "f", "one two", ""),
            ]
        );
    }

    #[test]
    fn repeated_keys_replace_in_place() {
        let sections = parse(b"a = 1\nb = 2\na = 3 ; c\n").unwrap();
        let v = values(&sections);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].2, "3");
        assert_eq!(v[0].3, "; c");
    }

    #[test]
    fn errors_carry_line_numbers_only() {
        for (input, line) in [
            (&b"a = 1\nSECRET\n"[..], 2),
            (b"[unclosed\n", 1),
            (b"[]\n", 1),
            (b"=v\n", 1),
            (b"a = \"\"\"never closed\nSECRET\n", 1),
        ] {
            let err = parse(input).err().unwrap();
            let text = err.to_string();
            assert!(text.contains(&format!("line {line}")), "{text}");
            assert!(!text.contains("SECRET"), "{text}");
        }
    }
}
