//! A fast reader for the plain block YAML that sops and rsops write (and most values files are):
//! one document, block mappings and sequences, single-line plain or simply quoted scalars, no
//! comments, anchors, tags, flow collections or multi-line scalars.
//!
//! It is an optimisation only: whenever the input leaves that subset, or anything looks wrong,
//! it answers `None` and the full parser (which has yaml.v3's comment placement and error
//! messages) reads the file instead. Typing of scalars is shared with the full parser, so both
//! give the same tree for every input this one accepts.

use super::parse::{key_string, resolved_scalar};
use crate::tree::{ListItem, Map, MapItem, Node, Scalar};
use std::collections::HashSet;

/// Maps with more keys than this check duplicates through a hash set instead of a scan.
const SCAN_LIMIT: usize = 16;

/// Deeper than any real file; the full parser, not this one, enforces the real limit.
const MAX_DEPTH: usize = 64;

/// YAML limits implicit (`key: value`) keys to 1024 characters; longer ones are an error.
const MAX_IMPLICIT_KEY: usize = 1024;

/// The tree of `bytes`, or `None` when the input needs the full parser.
pub fn parse(bytes: &[u8]) -> Option<Map> {
    if !plain_subset_bytes(bytes) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let mut r = Reader {
        src: text,
        next: 0,
        line: None,
        depth: 0,
    };
    r.advance();
    if let Some(l) = r.line {
        if l.indent == 0 && l.content == "---" {
            r.advance();
        }
    }
    let first = r.line?;
    if first.indent != 0 || is_seq_entry(first.content) {
        return None;
    }
    let map = r.map(0)?;
    // Anything left (a less indented or stray line) is outside the subset.
    if r.line.is_some() {
        return None;
    }
    Some(map)
}

/// Rejects, by a byte scan, everything the line reader does not handle: comments, tabs,
/// carriage returns, control and non-printable characters, YAML's Unicode line breaks and BOMs,
/// and escapes in double-quoted strings.
fn plain_subset_bytes(bytes: &[u8]) -> bool {
    // Most chunks are plain printable ASCII: test them branch-free, look closer only at others.
    const CHUNK: usize = 64;
    bytes.chunks(CHUNK).enumerate().all(|(k, chunk)| {
        let unusual = chunk.iter().fold(false, |acc, &b| {
            acc | ((b < 0x20) & (b != b'\n')) | (b >= 0x7f) | (b == b'#') | (b == b'\\')
        });
        !unusual || plain_subset_slow(chunk.len(), bytes, k * CHUNK)
    })
}

/// The byte-by-byte check of one chunk starting at `offset` (sequences may cross its end).
fn plain_subset_slow(len: usize, bytes: &[u8], offset: usize) -> bool {
    let mut i = offset;
    let end = offset + len;
    while i < end {
        let b = bytes[i];
        match BYTE_CLASS[b as usize] {
            ORDINARY => {}
            REJECT => return false,
            _ => {
                let next = bytes.get(i + 1).copied();
                let after = bytes.get(i + 2).copied();
                let bad = match b {
                    // C1 controls, including NEL (U+0085), a line break to YAML.
                    0xc2 => next.is_some_and(|n| (0x80..=0x9f).contains(&n)),
                    // U+2028 / U+2029 line and paragraph separators.
                    0xe2 => next == Some(0x80) && matches!(after, Some(0xa8 | 0xa9)),
                    // U+FEFF (BOM) and the non-characters U+FFFE / U+FFFF.
                    _ => matches!(
                        (next, after),
                        (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
                    ),
                };
                if bad {
                    return false;
                }
            }
        }
        i += 1;
    }
    true
}

const ORDINARY: u8 = 0;
const REJECT: u8 = 1;
const LEAD: u8 = 2;

/// Per byte: fine, outside the subset, or the lead byte of a sequence to look at.
static BYTE_CLASS: [u8; 256] = {
    let mut t = [ORDINARY; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = REJECT;
        b += 1;
    }
    t[b'\n' as usize] = ORDINARY;
    t[b'#' as usize] = REJECT;
    t[b'\\' as usize] = REJECT;
    t[0x7f] = REJECT;
    t[0xc2] = LEAD;
    t[0xe2] = LEAD;
    t[0xef] = LEAD;
    t
};

/// One logical line: its content starts at column `indent` and has no trailing spaces. After a
/// `- `, the rest of the line becomes a logical line of its own at the column it starts on.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    content: &'a str,
}

struct Reader<'a> {
    src: &'a str,
    /// Byte offset of the next physical line.
    next: usize,
    /// The current line, `None` at the end of input.
    line: Option<Line<'a>>,
    /// Block collections open around the current line.
    depth: usize,
}

fn is_seq_entry(content: &str) -> bool {
    content == "-" || content.starts_with("- ")
}

/// Where the `:` of a `key: value` or `key:` line is, if the line is one.
fn key_colon(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    let mut from = 0;
    while let Some(at) = memchr(b':', &bytes[from..]) {
        let at = from + at;
        if at + 1 == bytes.len() || bytes[at + 1] == b' ' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

use memchr::memchr;

impl<'a> Reader<'a> {
    /// Moves to the next non-blank physical line.
    fn advance(&mut self) {
        let src = self.src;
        while self.next < src.len() {
            let start = self.next;
            let end = memchr(b'\n', &src.as_bytes()[start..]).map_or(src.len(), |e| start + e);
            self.next = (end + 1).min(src.len());
            let raw = &src[start..end];
            let content = raw.trim_start_matches(' ');
            let content = content.trim_end_matches(' ');
            if content.is_empty() {
                continue;
            }
            self.line = Some(Line {
                indent: raw.len() - raw.trim_start_matches(' ').len(),
                content,
            });
            return;
        }
        self.line = None;
    }

    /// A block mapping whose keys sit at column `indent`; the current line is its first key.
    fn map(&mut self, indent: usize) -> Option<Map> {
        let mut map = Map::new();
        let mut seen: Option<HashSet<&'a str>> = None;
        let mut raw_keys: Vec<&'a str> = Vec::new();
        while let Some(line) = self.line {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_seq_entry(line.content) {
                return None;
            }
            if line.indent == 0
                && (line.content.starts_with("---") || line.content.starts_with("..."))
            {
                return None;
            }
            let colon = key_colon(line.content)?;
            let raw_key = line.content[..colon].trim_end_matches(' ');
            let rest = line.content[colon + 1..].trim_start_matches(' ');
            // Duplicate keys are an error whose message the full parser words.
            if !note_key(&mut seen, &mut raw_keys, raw_key) {
                return None;
            }
            // Quoted keys go to the full parser: duplicates are judged on values, not spellings.
            let key = match scalar_text(raw_key)? {
                Text::Plain(t) if t.len() <= MAX_IMPLICIT_KEY => key_string_plain(t)?,
                _ => return None,
            };
            let value = if rest.is_empty() {
                self.advance();
                self.nested_value(indent, true)?
            } else if let Some(chomping) = literal_header(rest) {
                self.literal(indent, chomping)?
            } else {
                let value = self.inline_value(rest)?;
                self.advance();
                value
            };
            map.items.push(MapItem::Entry { key, value });
        }
        Some(map)
    }

    /// The value of a `key:` or `-` whose content starts on the next line: a more indented
    /// block, a sequence at the key's own column (mapping values only), or null.
    fn nested_value(&mut self, indent: usize, of_key: bool) -> Option<Node> {
        match self.line {
            Some(l) if l.indent > indent => self.block(l),
            Some(l) if of_key && l.indent == indent && is_seq_entry(l.content) => {
                Some(Node::List(self.list(indent)?))
            }
            _ => Some(Node::Scalar(Scalar::Null)),
        }
    }

    /// A block collection starting at the current line. Nesting past `MAX_DEPTH` goes to the
    /// full parser, which words the error; recursing on would overflow the stack.
    fn block(&mut self, l: Line<'a>) -> Option<Node> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let node = if is_seq_entry(l.content) {
            self.list(l.indent).map(Node::List)
        } else {
            key_colon(l.content).and_then(|_| self.map(l.indent).map(Node::Map))
        };
        self.depth -= 1;
        node
    }

    /// A block sequence whose `-` sit at column `indent`.
    fn list(&mut self, indent: usize) -> Option<Vec<ListItem>> {
        let mut items = Vec::new();
        while let Some(line) = self.line {
            if line.indent < indent || (line.indent == indent && !is_seq_entry(line.content)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after = &line.content[1..];
            let rest = after.trim_start_matches(' ');
            let value = if rest.is_empty() {
                self.advance();
                self.nested_value(indent, false)?
            } else {
                let col = indent + 1 + (after.len() - rest.len());
                if is_seq_entry(rest) || key_colon(rest).is_some() && !starts_quoted(rest) {
                    // The item is a collection that starts on this line.
                    let inner = Line {
                        indent: col,
                        content: rest,
                    };
                    self.line = Some(inner);
                    self.block(inner)?
                } else if let Some(chomping) = literal_header(rest) {
                    self.literal(indent, chomping)?
                } else {
                    let value = self.inline_value(rest)?;
                    self.advance();
                    value
                }
            };
            items.push(ListItem::Value(value));
        }
        Some(items)
    }

    /// A literal block scalar whose header (`|`, `|-`, `|+`) ends the current line; `parent` is
    /// the column of its key or `-`, which its content must be indented beyond. Reads the raw
    /// lines after the header (blank lines count here), then moves to the first line after it.
    /// Declines what the subset leaves to the full parser: an empty scalar, lines of spaces
    /// longer than the indentation, content that runs into the end of input without a newline.
    fn literal(&mut self, parent: usize, chomping: Chomping) -> Option<Node> {
        let src = self.src;
        let mut text = String::new();
        let mut indent = None;
        // Line breaks seen since the last content line (the one ending it included).
        let mut breaks = 0usize;
        let mut longest_leading_blank = 0;
        let mut at = self.next;
        while at < src.len() {
            let newline = memchr(b'\n', &src.as_bytes()[at..]);
            let end = newline.map_or(src.len(), |e| at + e);
            let raw = &src[at..end];
            let spaces = raw.len() - raw.trim_start_matches(' ').len();
            let blank = spaces == raw.len();
            match indent {
                None if blank => longest_leading_blank = longest_leading_blank.max(spaces),
                None if spaces <= parent || longest_leading_blank > spaces => return None,
                None => indent = Some(spaces),
                Some(n) if blank && spaces > n => return None,
                Some(_) if blank => {}
                Some(n) if spaces < n => break,
                Some(_) => {}
            }
            // A last line without a line break chomps differently: the full parser's job.
            newline?;
            if blank {
                breaks += 1;
            } else {
                let n = indent.unwrap_or(spaces);
                text.extend(std::iter::repeat_n('\n', breaks));
                text.push_str(&raw[n..]);
                breaks = 1;
            }
            at = end + 1;
        }
        indent?;
        match chomping {
            Chomping::Clip => text.push('\n'),
            Chomping::Strip => {}
            Chomping::Keep => text.extend(std::iter::repeat_n('\n', breaks)),
        }
        self.next = at;
        self.advance();
        Some(Node::Scalar(Scalar::Str(text)))
    }

    /// A value that sits on the line of its key: a scalar or an empty flow collection.
    fn inline_value(&self, rest: &'a str) -> Option<Node> {
        Some(match scalar_text(rest)? {
            Text::Plain(t) => {
                // `key: a: b` is an error, and `key: a:` nests; both are for the full parser.
                if key_colon(t).is_some() {
                    return None;
                }
                Node::Scalar(resolved_scalar(t).ok()?)
            }
            Text::Quoted(s) => Node::Scalar(Scalar::Str(s)),
            Text::EmptyMap => Node::Map(Map::new()),
            Text::EmptyList => Node::List(Vec::new()),
        })
    }
}

/// What happens to a literal block scalar's final line breaks.
#[derive(Clone, Copy)]
enum Chomping {
    /// `|`: exactly one.
    Clip,
    /// `|-`: none.
    Strip,
    /// `|+`: all of them, trailing blank lines included.
    Keep,
}

/// The header of a literal block scalar with automatic indentation; other headers (folded,
/// explicit indentation) are for the full parser.
fn literal_header(rest: &str) -> Option<Chomping> {
    match rest {
        "|" => Some(Chomping::Clip),
        "|-" => Some(Chomping::Strip),
        "|+" => Some(Chomping::Keep),
        _ => None,
    }
}

fn starts_quoted(s: &str) -> bool {
    s.starts_with(['\'', '"'])
}

fn key_string_plain(t: &str) -> Option<String> {
    key_string(t, granit_parser::ScalarStyle::Plain, None).ok()
}

/// Records a key's source text; false when it was seen before in this mapping.
fn note_key<'a>(
    seen: &mut Option<HashSet<&'a str>>,
    raw_keys: &mut Vec<&'a str>,
    key: &'a str,
) -> bool {
    if let Some(set) = seen {
        return set.insert(key);
    }
    if raw_keys.contains(&key) {
        return false;
    }
    raw_keys.push(key);
    if raw_keys.len() > SCAN_LIMIT {
        *seen = Some(raw_keys.drain(..).collect());
    }
    true
}

enum Text<'a> {
    Plain(&'a str),
    Quoted(String),
    EmptyMap,
    EmptyList,
}

/// The scalar written as `s` (one line, already trimmed), if it is in the subset.
fn scalar_text(s: &str) -> Option<Text<'_>> {
    let first = *s.as_bytes().first()?;
    match first {
        b'\'' => {
            let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
            // Every quote inside must be a doubled one.
            let unquoted = inner.replace("''", "\u{0}");
            if unquoted.contains('\'') || s.len() < 2 {
                return None;
            }
            Some(Text::Quoted(unquoted.replace('\u{0}', "'")))
        }
        b'"' => {
            let inner = s.strip_prefix('"')?.strip_suffix('"')?;
            if inner.contains('"') || s.len() < 2 {
                return None;
            }
            Some(Text::Quoted(inner.to_string()))
        }
        b'{' if s == "{}" => Some(Text::EmptyMap),
        b'[' if s == "[]" => Some(Text::EmptyList),
        b'[' | b']' | b'{' | b'}' | b',' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'%'
        | b'@' | b'`' => None,
        b'-' | b'?' | b':' => {
            // An indicator unless a non-space follows.
            match s.as_bytes().get(1) {
                Some(b' ') | None => None,
                Some(_) => Some(Text::Plain(s)),
            }
        }
        _ => Some(Text::Plain(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse_full;
    use super::*;
    use proptest::prelude::*;

    /// 20,000 block sequences under a key overflowed the stack, one frame pair per level.
    #[test]
    fn deep_block_nesting_is_declined_not_recursed() {
        let deep = format!("a:\n  {}v\n", "- ".repeat(20_000));
        assert!(parse(deep.as_bytes()).is_none());
        let shallow = format!("a:\n  {}v\n", "- ".repeat(MAX_DEPTH - 1));
        assert!(parse(shallow.as_bytes()).is_some());
    }

    /// The fast reader either declines or agrees with the full parser.
    fn agrees(input: &str) -> bool {
        let Some(fast) = parse(input.as_bytes()) else {
            return false;
        };
        let full = parse_full(input.as_bytes()).expect("the full parser accepts it too");
        assert_eq!(full.len(), 1, "{input:?}");
        assert!(full[0] == fast, "trees differ for {input:?}");
        true
    }

    #[test]
    fn splits_off_the_metadata_block_like_the_full_parser() {
        let stanza = "sops:\n    age:\n        - recipient: age1x\n          enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YQ==\n            -----END AGE ENCRYPTED FILE-----\n    version: 3.11.0\n";
        let data = "a: ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YQ==,type:str]\nb:\n    - 1\n";
        let input = format!("{data}{stanza}");
        let split = super::super::parse::parse(input.as_bytes()).unwrap();
        assert!(split == parse_full(input.as_bytes()).unwrap());
        // The stanza's literal blocks are in the subset too: reading it whole agrees.
        assert!(agrees(&input));
        // Keys after the metadata, or comments in it, leave the whole file to the full parser.
        for tail in [
            "sops: 1\nsops: 2\n",
            "sops: 1\nc: 2\n",
            "sops: 1 # c\n",
            "sops: 1\n---\nc: 1\n",
        ] {
            let input = format!("{data}{tail}");
            let both = super::super::parse::parse(input.as_bytes());
            let full = parse_full(input.as_bytes());
            assert_eq!(both.is_ok(), full.is_ok(), "{input:?}");
            if let (Ok(a), Ok(b)) = (both, full) {
                assert!(a == b, "{input:?}");
            }
        }
    }

    #[test]
    fn reads_the_subset_like_the_full_parser() {
        let accepted = [
            "a: 1\nb: x\n",
            "a: 1\nb: x",
            "---\na: 1\n",
            "a:\n  b: 1\n  c:\n    - 1\n    - x: 2\n      y: 3\n    -\n      z: 4\n    - - 5\n      - 6\n",
            "a:\n- 1\n- 2\nb: 3\n",
            "a:\nb:\n",
            "a: {}\nb: []\nc: ''\nd: \"\"\n",
            "a: 'it''s'\nb: \"q: x\"\nc: a:b\nd: -5\ne: -x\nf: ?x\n",
            "a: true\nb: 1.5\nc: 0x1F\nd: 2001-12-14\ne: null\nf: ~\ng: .inf\nh: 1_000\n",
            "a: b c  d   \n\n   \nb: ENC[AES256_GCM,data:YQ==,iv:YQ==,tag:YQ==,type:str]\n",
            "<<: x\nk y: z\näö: ü\n",
            "a:\n    -   x\n    -   y: 1\n        z: 2\n",
            "a: |\n  x\n",
            "a: |\n  x\n  y\nb: 1\n",
            "a: |-\n  x\n\n  y\n\nb: 1\n",
            "a: |+\n  x\n\n\nb: 1\n",
            "a: |+\n  x\n",
            "a:\n  - |\n    l1\n     l2 \n  - x\n",
            "a: |\n\n  x\n",
            "a: |\n    x\n   \n    y\nb:\n  - |-\n   z\n",
            "k:\n  c: |\n    -----BEGIN CERTIFICATE-----\n    MIIB: x - 'q' \"r\" {}\n    -----END CERTIFICATE-----\n  d: 2\n",
            "a:\n- |\n x\n- - |-\n    y\n  - k: |\n      z\n",
        ];
        let declined = [
            "- a\n",
            "a: 1 # c\n",
            "# c\na: 1\n",
            "a: &x 1\nb: *x\n",
            "a: |\n",
            "a: |\nb: 1\n",
            "a: |2\n  x\n",
            "a: >\n  x\n",
            "a: |\n  x",
            "a: |\n  x\n      \n",
            "a: |\n   \n  x\n",
            "a: b\n  c\n",
            "a: {b: 1}\n",
            "a: 1\na: 2\n",
            "'a': 1\n",
            "a: \"x\\ty\"\n",
            "a: 'x\n  y'\n",
            "a: b: c\n",
            "a:\tb\n",
            "a: 1\r\n",
            "a: 1\n---\nb: 2\n",
            "a:\n  x\n",
            "1: a\n",
            "a: 18446744073709551615\n",
            "  a: 1\n",
            "",
            "\u{feff}a: 1\n",
            "a: !!str 1\n",
        ];
        for input in accepted {
            assert!(agrees(input), "declined {input:?}");
        }
        for input in declined {
            assert!(parse(input.as_bytes()).is_none(), "accepted {input:?}");
        }
    }

    fn scalar_text_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._:/+-]{0,12}",
            "'[a-z :']{0,6}'",
            "\"[a-z :]{0,6}\"",
            Just("{}".to_string()),
            Just("[]".to_string()),
            "-?[0-9]{1,20}(\\.[0-9]{0,3})?",
            Just("true".to_string()),
            Just("null".to_string()),
        ]
    }

    /// Random block documents: lines of keys, items and scalars at random indentation.
    fn document_strategy() -> impl Strategy<Value = String> {
        let line = (
            0usize..4,
            prop_oneof![Just("k"), Just("- "), Just("- k"), Just("")],
            "[a-c]{1,2}",
            scalar_text_strategy(),
        )
            .prop_map(|(depth, shape, key, value)| {
                let pad = " ".repeat(depth * 2);
                match shape {
                    "k" => format!("{pad}{key}: {value}\n"),
                    "- " => format!("{pad}- {value}\n"),
                    "- k" => format!("{pad}- {key}: {value}\n"),
                    _ => format!("{pad}{key}:\n"),
                }
            });
        proptest::collection::vec(line, 1..12).prop_map(|lines| lines.concat())
    }

    /// A block document as a tree, rendered below with a chosen indentation.
    #[derive(Clone, Debug)]
    enum Gen {
        Scalar(String),
        /// A literal block scalar: its header and its lines (relative indentation included).
        Literal(&'static str, Vec<String>),
        Map(Vec<(String, Gen)>),
        List(Vec<Gen>),
    }

    fn literal_strategy() -> impl Strategy<Value = Gen> {
        (
            prop_oneof![Just("|"), Just("|-"), Just("|+")],
            proptest::collection::vec("( {0,2}[a-z:'\"{}-]{1,6}( [a-z]{0,3})? ?)?", 1..5),
        )
            .prop_map(|(header, lines)| Gen::Literal(header, lines))
    }

    fn tree_strategy() -> impl Strategy<Value = Gen> {
        let leaf = prop_oneof![
            4 => scalar_text_strategy().prop_map(Gen::Scalar),
            1 => literal_strategy(),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(("[a-z][a-z0-9_]{0,5}", inner.clone()), 1..5)
                    .prop_map(Gen::Map),
                proptest::collection::vec(inner, 1..4).prop_map(Gen::List),
            ]
        })
    }

    fn render(g: &Gen, indent: usize, step: usize, out: &mut String, inline: bool) {
        let pad = |out: &mut String, n: usize| out.push_str(&" ".repeat(n));
        match g {
            Gen::Scalar(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Gen::Literal(header, lines) => {
                out.push_str(header);
                out.push('\n');
                for line in lines {
                    if !line.is_empty() {
                        pad(out, indent + step);
                    }
                    out.push_str(line);
                    out.push('\n');
                }
            }
            Gen::Map(entries) => {
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 || !inline {
                        pad(out, indent);
                    }
                    out.push_str(k);
                    out.push(':');
                    match v {
                        Gen::Scalar(s) if !s.is_empty() => {
                            out.push(' ');
                            render(v, indent, step, out, true);
                        }
                        Gen::Scalar(_) => out.push('\n'),
                        Gen::Literal(..) => {
                            out.push(' ');
                            render(v, indent, step, out, true);
                        }
                        Gen::Map(_) | Gen::List(_) => {
                            out.push('\n');
                            render(v, indent + step, step, out, false);
                        }
                    }
                }
            }
            Gen::List(items) => {
                for item in items {
                    pad(out, indent);
                    out.push_str("- ");
                    render(item, indent + 2, step, out, true);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn agrees_on_well_formed_trees(
            entries in proptest::collection::vec(("[a-z][a-z0-9_]{0,5}", tree_strategy()), 1..6),
            step in 1usize..5,
        ) {
            let mut input = String::new();
            render(&Gen::Map(entries), 0, step, &mut input, false);
            let full = parse_full(input.as_bytes());
            match parse(input.as_bytes()) {
                Some(fast) => {
                    prop_assert!(full.is_ok(), "full parser rejects {:?}", input);
                    let full = full.unwrap();
                    prop_assert!(full.len() == 1 && full[0] == fast, "trees differ for {:?}", input);
                }
                // Declining is always allowed, but not for what the full parser reads without
                // duplicates, quotes, collection-typed scalars or literal blocks (whose odd
                // shapes, such as more indented first lines or no content, are declined).
                None => prop_assert!(
                    full.is_err() || input.contains(['\'', '"', '{', '[', '|']) || input.contains(": -"),
                    "declined {:?}", input
                ),
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_disagrees_with_the_full_parser(input in document_strategy()) {
            if let Some(fast) = parse(input.as_bytes()) {
                let full = parse_full(input.as_bytes());
                prop_assert!(full.is_ok(), "full parser rejects {:?}", input);
                let full = full.unwrap();
                prop_assert_eq!(full.len(), 1);
                prop_assert!(full[0] == fast, "trees differ for {:?}", input);
            }
        }
    }
}
