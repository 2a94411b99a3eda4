//! Writes the document tree the way sops 3.11 does through the yaml.v3 encoder: block style,
//! yaml.v3's indentation and quoting rules, comments as `#` lines before the item they precede.

use super::resolve::string_can_be_plain;
use crate::compat::number::format_float_g;
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};
use base64::Engine;

pub struct Emitter {
    pub out: String,
    /// The configured indentation step (yaml.v3 `SetIndent`).
    step: usize,
    /// Set while a scalar sequence item is written: yaml.v3 puts a literal block's lines two
    /// columns right of the `- `, not at the next indentation step as for mapping values.
    in_list_item: bool,
}

impl Emitter {
    /// yaml.v3's emitter replaces an indentation outside 2..=9 by 2, so `stores.yaml.indent: 1`
    /// or `12` (or an absurd `10000000000`) gives the same output as in sops.
    pub fn new(step: usize) -> Self {
        Emitter {
            out: String::new(),
            step: if (2..=9).contains(&step) { step } else { 2 },
            in_list_item: false,
        }
    }

    /// yaml.v3 aligns every nested block to the next multiple of the indentation step.
    fn nested(&self, indent: usize) -> usize {
        self.step * ((indent + self.step) / self.step)
    }

    fn pad(&mut self, mut n: usize) {
        const SPACES: &str = "                                ";
        while n > 0 {
            let k = n.min(SPACES.len());
            self.out.push_str(&SPACES[..k]);
            n -= k;
        }
    }

    fn comment(&mut self, indent: usize, text: &str) {
        self.pad(indent);
        self.out.push('#');
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn end_line(&mut self) {
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// One YAML document whose root is `map`; `extra` is appended as a last entry (metadata).
    pub fn document(&mut self, map: &Map, extra: Option<(&str, &Node)>, first: bool) {
        if !first {
            self.out.push_str("---\n");
        }
        let has_entries = map.entries().next().is_some() || extra.is_some();
        if !has_entries {
            for item in &map.items {
                if let MapItem::Comment(text) = item {
                    self.comment(0, text);
                }
            }
            self.out.push_str("{}\n");
            return;
        }
        self.block_map(map, extra, 0, false);
    }

    /// A non-empty block mapping whose keys sit at `indent`. With `inline_first`, the cursor is
    /// already placed (after `- `) for the first key.
    fn block_map(
        &mut self,
        map: &Map,
        extra: Option<(&str, &Node)>,
        indent: usize,
        inline_first: bool,
    ) {
        let mut pending: Vec<&str> = Vec::new();
        let mut first = true;
        let entries = map
            .items
            .iter()
            .map(|item| match item {
                MapItem::Entry { key, value } => (Some((key.as_str(), value)), None),
                MapItem::Comment(text) => (None, Some(text.as_str())),
            })
            .chain(extra.map(|e| (Some(e), None)));
        for (entry, comment) in entries {
            if let Some(text) = comment {
                pending.push(text);
                continue;
            }
            let Some((key, value)) = entry else { continue };
            let inline = first && inline_first;
            if inline && !pending.is_empty() {
                // The item's head comments were printed before its `- ` by the caller.
                pending.clear();
            }
            for text in pending.drain(..) {
                self.comment(indent, text);
            }
            if !inline {
                self.pad(indent);
            }
            first = false;
            if needs_complex_key(key) {
                self.complex_entry(key, value, indent);
            } else {
                self.key(key);
                self.map_value(value, indent);
            }
        }
        for text in pending {
            self.comment(indent, text);
        }
    }

    /// yaml.v3's form for a key that cannot be a simple key: `? key` on its own line(s), then
    /// `: value`, where a nested collection starts on the `:` line at the nested indentation.
    fn complex_entry(&mut self, key: &str, value: &Node, indent: usize) {
        self.out.push_str("? ");
        self.string(key, false, indent);
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.pad(indent);
        self.out.push(':');
        let inner = self.nested(indent);
        match value {
            Node::Map(map) if map.entries().next().is_some() => {
                self.pad(inner - indent - 1);
                self.block_map(map, None, inner, true);
            }
            Node::List(items) if has_values(items) => {
                self.pad(inner - indent - 1);
                self.block_list(items, inner, true);
            }
            _ => {
                self.out.push(' ');
                self.inline_value(value, indent);
            }
        }
    }

    fn key(&mut self, key: &str) {
        self.string(key, true, 0);
        self.out.push(':');
    }

    fn map_value(&mut self, value: &Node, indent: usize) {
        match value {
            Node::Map(map) if map.entries().next().is_some() => {
                self.out.push('\n');
                let inner = self.nested(indent);
                self.block_map(map, None, inner, false);
            }
            Node::List(items) if has_values(items) => {
                self.out.push('\n');
                let inner = self.nested(indent);
                self.block_list(items, inner, false);
            }
            _ => {
                self.out.push(' ');
                self.inline_value(value, indent);
            }
        }
    }

    /// A value that fits after `key: ` or `- `: scalars and empty collections.
    fn inline_value(&mut self, value: &Node, indent: usize) {
        match value {
            Node::Scalar(s) => self.scalar(s, indent),
            Node::Map(_) => self.out.push_str("{}"),
            Node::List(_) => self.out.push_str("[]"),
        }
        self.end_line();
    }

    fn block_list(&mut self, items: &[ListItem], indent: usize, inline_first: bool) {
        let mut pending: Vec<&str> = Vec::new();
        let mut first = true;
        for item in items {
            let value = match item {
                ListItem::Comment(text) => {
                    pending.push(text);
                    continue;
                }
                ListItem::Value(value) => value,
            };
            let inline = first && inline_first;
            if inline {
                pending.clear();
            }
            for text in pending.drain(..) {
                self.comment(indent, text);
            }
            if !inline {
                // A mapping item's own head comments (an alias of an anchored mapping has
                // them) go before its `- `, as yaml.v3 writes them.
                match value {
                    Node::Map(map) => {
                        for item in map.items.iter() {
                            match item {
                                MapItem::Comment(text) => self.comment(indent, text),
                                MapItem::Entry { .. } => break,
                            }
                        }
                    }
                    // A nested sequence's head comments too (`- # c` then `- x` below it).
                    Node::List(items) if has_values(items) => {
                        for item in items {
                            match item {
                                ListItem::Comment(text) => self.comment(indent, text),
                                ListItem::Value(_) => break,
                            }
                        }
                    }
                    _ => {}
                }
                self.pad(indent);
            }
            first = false;
            self.out.push_str("- ");
            let inner = indent + 2;
            match value {
                Node::Map(map) if map.entries().next().is_some() => {
                    self.block_map(map, None, inner, true);
                }
                Node::List(items) if has_values(items) => self.block_list(items, inner, true),
                _ => {
                    self.in_list_item = true;
                    self.inline_value(value, inner);
                    self.in_list_item = false;
                }
            }
        }
        let foot_indent = match items.iter().rev().find_map(|i| match i {
            ListItem::Value(v) => Some(v),
            ListItem::Comment(_) => None,
        }) {
            Some(Node::Map(m)) if m.entries().next().is_some() => indent + 2,
            _ => indent,
        };
        for text in pending {
            self.comment(foot_indent, text);
        }
    }

    pub fn scalar(&mut self, scalar: &Scalar, indent: usize) {
        match scalar {
            Scalar::Null => self.out.push_str("null"),
            Scalar::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Scalar::Int(i) => self.out.push_str(&i.to_string()),
            Scalar::Float(f) => self.out.push_str(&yaml_float(*f)),
            Scalar::Time(t) => self.out.push_str(t),
            Scalar::Str(s) => self.string(s, false, indent),
            Scalar::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => self.string(s, false, indent),
                Err(_) => {
                    self.out.push_str("!!binary ");
                    let encoded = base64::engine::general_purpose::STANDARD.encode(b);
                    self.out.push_str(&encoded);
                }
            },
        }
    }

    /// A string value (or key, `simple_key`), in the style yaml.v3 would pick.
    fn string(&mut self, s: &str, simple_key: bool, indent: usize) {
        if s == "<<" {
            self.out.push_str("!!merge <<");
            return;
        }
        let a = analyze(s);
        let requested = if s.contains('\n') {
            Style::Literal
        } else if string_can_be_plain(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let mut style = requested;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        match style {
            Style::Plain => self.out.push_str(s),
            Style::Single => {
                let block_indent = if self.in_list_item {
                    indent
                } else {
                    self.nested(indent)
                };
                write_single(&mut self.out, s, block_indent);
            }
            Style::Double => write_double(&mut self.out, s),
            Style::Literal if self.in_list_item => self.literal(s, indent),
            Style::Literal => self.literal(s, self.nested(indent)),
        }
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.out.push('|');
        if s.starts_with([' ', '\n', '\r']) || starts_with_break(s) {
            self.out.push_str(&self.step.to_string());
        }
        let mut rev = s.chars().rev();
        match (rev.next(), rev.next()) {
            (Some(last), _) if !is_break(last) => self.out.push('-'),
            (Some(_), None) => self.out.push('+'),
            (Some(_), Some(prev)) if is_break(prev) => self.out.push('+'),
            _ => {}
        }
        self.out.push('\n');
        let mut at_line_start = true;
        for c in s.chars() {
            if is_break(c) {
                self.out.push('\n');
                at_line_start = true;
            } else {
                if at_line_start {
                    self.pad(indent);
                    at_line_start = false;
                }
                self.out.push(c);
            }
        }
    }
}

fn starts_with_break(s: &str) -> bool {
    s.chars().next().is_some_and(is_break)
}

/// yaml.v3 writes a key as a simple key only up to 128 bytes and on one line.
fn needs_complex_key(key: &str) -> bool {
    key.len() > 128 || key.chars().any(is_break)
}

fn has_values(items: &[ListItem]) -> bool {
    items.iter().any(|i| matches!(i, ListItem::Value(_)))
}

pub fn yaml_float(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_string()
    } else if f == f64::INFINITY {
        ".inf".to_string()
    } else if f == f64::NEG_INFINITY {
        "-.inf".to_string()
    } else {
        format_float_g(f)
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

#[derive(Debug)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// yaml.v3's notion of a printable character (non-BMP characters are not).
fn is_printable(c: char) -> bool {
    matches!(c as u32, 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD) && c != '\u{FEFF}'
}

/// The scalar analysis of libyaml/yaml.v3, reduced to what block context needs.
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    if let Some(a) = analyze_simple(s.as_bytes()) {
        return a;
    }
    // Strings are nearly always ASCII: scan their bytes in place rather than collect chars.
    if s.is_ascii() {
        scan(s, s.as_bytes(), |b| b as char)
    } else {
        let chars: Vec<char> = s.chars().collect();
        scan(s, &chars, |c| c)
    }
}

/// The analysis of a string of visible ASCII only (no spaces, breaks or controls), which is
/// what encrypted values and most keys are; the general scan gives the same answer for them.
fn analyze_simple(b: &[u8]) -> Option<Analysis> {
    let (&first, &last) = (b.first()?, b.last()?);
    if !b
        .iter()
        .fold(true, |ok, &c| ok & (c.wrapping_sub(0x21) < 0x5e))
    {
        return None;
    }
    let block_indicators = b.starts_with(b"---")
        || b.starts_with(b"...")
        || b"#,[]{}&*!|>'\"%@`".contains(&first)
        || (b.len() == 1 && b"?:-".contains(&first))
        || last == b':';
    Some(Analysis {
        multiline: false,
        block_plain_allowed: !block_indicators,
        single_quoted_allowed: true,
        block_allowed: true,
    })
}

fn scan<T: Copy>(s: &str, chars: &[T], to_char: impl Fn(T) -> char) -> Analysis {
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut tabs, mut special, mut line_breaks) =
        (false, false, false, false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let n = chars.len();
    for (i, &unit) in chars.iter().enumerate() {
        let c = to_char(unit);
        let followed_by_whitespace = i + 1 >= n || matches!(to_char(chars[i + 1]), ' ' | '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if c == '\t' {
            tabs = true;
        } else if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i + 1 == n {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if i + 1 == n {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let mut block_plain_allowed = true;
    let mut single_quoted_allowed = true;
    let mut block_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain_allowed = false;
    }
    if trailing_space {
        block_allowed = false;
    }
    if break_space {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if space_break || tabs || special {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if space_break || special {
        block_allowed = false;
    }
    if line_breaks || block_indicators {
        block_plain_allowed = false;
    }
    Analysis {
        multiline: line_breaks,
        block_plain_allowed,
        single_quoted_allowed,
        block_allowed,
    }
}

/// A single-quoted scalar. Line breaks other than `\n` (U+2028, U+2029, U+0085, `\r`) can end
/// up here; yaml.v3 writes them raw and indents what follows them to the block indentation.
fn write_single(out: &mut String, s: &str, block_indent: usize) {
    out.push('\'');
    let mut after_break = false;
    for c in s.chars() {
        if is_break(c) {
            if c == '\n' && !after_break {
                out.push('\n');
            }
            out.push(c);
            after_break = true;
            continue;
        }
        if after_break {
            out.extend(std::iter::repeat_n(' ', block_indent));
            after_break = false;
        }
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
}

fn write_double(out: &mut String, s: &str) {
    // yaml.v3 tests for a byte order mark at the start of the string instead of at each
    // character, so after a leading BOM it escapes every character.
    let escape_all = s.starts_with('\u{FEFF}');
    out.push('"');
    for c in s.chars() {
        if escape_all || !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\'
        {
            match c {
                '\0' => out.push_str("\\0"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{B}' => out.push_str("\\v"),
                '\u{C}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                '\u{1B}' => out.push_str("\\e"),
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{85}' => out.push_str("\\N"),
                '\u{A0}' => out.push_str("\\_"),
                '\u{2028}' => out.push_str("\\L"),
                '\u{2029}' => out.push_str("\\P"),
                c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
                c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push_str(&format!("\\U{:08X}", c as u32)),
            }
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// A value on its own (`decrypt --extract`), as yaml.v3's `Marshal` writes it (indent 4).
pub fn emit_value(value: &Node) -> String {
    let mut e = Emitter::new(4);
    match value {
        Node::Map(map) if map.entries().next().is_some() => e.block_map(map, None, 0, false),
        Node::List(items) if has_values(items) => e.block_list(items, 0, false),
        other => e.inline_value(other, 0),
    }
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> String {
        let mut e = Emitter::new(4);
        e.string(s, false, 0);
        e.out
    }

    #[test]
    fn quoting_matches_yaml_v3() {
        let cases = [
            ("hello", "hello"),
            ("yes", "\"yes\""),
            ("123", "\"123\""),
            ("2024-01-01", "\"2024-01-01\""),
            (" lead", "' lead'"),
            ("a: b", "'a: b'"),
            ("#x", "'#x'"),
            ("x #y", "'x #y'"),
            ("-", "'-'"),
            ("- a", "'- a'"),
            ("a,b", "a,b"),
            ("x:", "'x:'"),
            ("it's", "it's"),
            ("tab\there", "\"tab\\there\""),
            ("\u{1F600} ok", "\"\\U0001F600 ok\""),
            ("x\u{85}y", "\"x\\Ny\""),
            ("", "\"\""),
            ("---", "'---'"),
            ("<<", "!!merge <<"),
            ("line1 \nline2", "\"line1 \\nline2\""),
            ("a\r\nb", "\"a\\r\\nb\""),
            ("é\u{a0}x", "é\u{a0}x"),
        ];
        for (input, want) in cases {
            assert_eq!(one(input), want, "{input:?}");
        }
    }

    /// As sops 3.11.0 decrypts `a: "\u2028x"`, `n: {m: {k: "\u2028y"}}`, `l: ["\u2028z",
    /// {k: "\u2029w\u2029\u2029v"}]` and a string starting with a BOM.
    #[test]
    fn unicode_breaks_and_bom_as_sops_writes_them() {
        let mut map = Map::new();
        map.push("a", Node::str("\u{2028}x"));
        let mut m = Map::new();
        m.push("k", Node::str("\u{2028}y"));
        let mut n = Map::new();
        n.push("m", Node::Map(m));
        map.push("n", Node::Map(n));
        let mut item = Map::new();
        item.push("k", Node::str("\u{2029}w\u{2029}\u{2029}v"));
        map.push(
            "l",
            Node::List(vec![
                ListItem::Value(Node::str("\u{2028}z")),
                ListItem::Value(Node::Map(item)),
            ]),
        );
        map.push("s1", Node::str("\u{feff}bom \u{e9} \"q\" \\ x\ty"));
        let mut e = Emitter::new(4);
        e.document(&map, None, true);
        let want = "a: '\u{2028}    x'\n\"n\":\n    m:\n        k: '\u{2028}            y'\nl:\n    - '\u{2028}      z'\n    - k: '\u{2029}        w\u{2029}\u{2029}        v'\ns1: \"\\uFEFF\\x62\\x6F\\x6D\\x20\\xE9\\x20\\\"\\x71\\\"\\x20\\\\\\x20\\x78\\t\\x79\"\n";
        assert_eq!(e.out, want);
    }

    #[test]
    fn literal_blocks() {
        assert_eq!(one("line1\nline2\n"), "|\n    line1\n    line2\n");
        assert_eq!(one("line1\nline2"), "|-\n    line1\n    line2");
        assert_eq!(one("trail\n\n"), "|+\n    trail\n\n");
        assert_eq!(one("\n"), "|4+\n\n");
    }

    /// Found while triaging a `store_yaml` fuzz finding: a multi-line string that is itself a
    /// list item (a list of PEM certificates, say) was indented one step deeper than sops does.
    #[test]
    fn literal_list_items_sit_two_columns_right_of_the_dash() {
        let items = vec![
            ListItem::Value(Node::str("a\nb\n")),
            ListItem::Value(Node::List(vec![ListItem::Value(Node::str("\nc\n"))])),
        ];
        let mut root = Map::new();
        root.push("l", Node::List(items));
        let mut e = Emitter::new(4);
        e.block_map(&root, None, 0, false);
        assert_eq!(
            e.out,
            "l:\n    - |\n      a\n      b\n    - - |4\n\n        c\n"
        );
    }

    /// Regression (found while fuzzing `.sops.yaml`): an indent of 1 or 10 differed from sops,
    /// and 100000000000 aborted on allocation.
    #[test]
    fn indentation_outside_2_to_9_is_2_like_yaml_v3() {
        let mut map = Map::new();
        map.push("b", Node::Scalar(Scalar::Int(1)));
        let mut root = Map::new();
        root.push("a", Node::Map(map));
        for (step, want) in [
            (0, 2),
            (1, 2),
            (2, 2),
            (9, 9),
            (10, 2),
            (100_000_000_000, 2),
        ] {
            let mut e = Emitter::new(step);
            e.block_map(&root, None, 0, false);
            assert_eq!(
                e.out,
                format!("a:\n{}b: 1\n", " ".repeat(want)),
                "indent {step}"
            );
        }
    }

    #[test]
    fn floats() {
        assert_eq!(yaml_float(1.0), "1");
        assert_eq!(yaml_float(1e6), "1e+06");
        assert_eq!(yaml_float(1234567.0), "1.234567e+06");
        assert_eq!(yaml_float(0.00001), "1e-05");
        assert_eq!(yaml_float(f64::NEG_INFINITY), "-.inf");
    }
}
