//! A JSON reader that behaves like sops's use of Go's `json.Decoder.Token`: object keys keep
//! their order and duplicates, and a file cut short after a key or inside an array ends the
//! object quietly, as it does in sops.

use crate::stores::StoreError;
use crate::tree::{ListItem, Map, Node, Scalar};

/// Go's `io.EOF` from `Token` is not an error in some of sops's loops; everything else is.
enum Failure {
    Eof,
    Syntax {
        offset: usize,
        message: &'static str,
    },
}

type Parsed<T> = Result<T, Failure>;

enum Token {
    Open(u8),
    Close,
    Key(String),
    Value(Scalar),
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    TopValue,
    ArrayStart,
    ArrayValue,
    ArrayComma,
    ObjectStart,
    ObjectKey,
    ObjectColon,
    ObjectValue,
    ObjectComma,
}

struct Decoder<'a> {
    src: &'a [u8],
    pos: usize,
    state: State,
    stack: Vec<State>,
}

fn syntax<T>(offset: usize, message: &'static str) -> Parsed<T> {
    Err(Failure::Syntax { offset, message })
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Decoder<'a> {
    fn new(src: &'a [u8]) -> Self {
        Decoder {
            src,
            pos: 0,
            state: State::TopValue,
            stack: Vec::new(),
        }
    }

    fn peek(&mut self) -> Option<u8> {
        while self.pos < self.src.len() && is_space(self.src[self.pos]) {
            self.pos += 1;
        }
        self.src.get(self.pos).copied()
    }

    fn value_allowed(&self) -> bool {
        matches!(
            self.state,
            State::TopValue | State::ArrayStart | State::ArrayValue | State::ObjectValue
        )
    }

    fn value_end(&mut self) {
        self.state = match self.state {
            State::ArrayStart | State::ArrayValue => State::ArrayComma,
            State::ObjectValue => State::ObjectComma,
            other => other,
        };
    }

    fn unexpected<T>(&self) -> Parsed<T> {
        let message = match self.state {
            State::ObjectStart | State::ObjectKey => "expected an object key string",
            State::ObjectColon => "expected a colon after an object key",
            State::ObjectComma => "expected a comma or the end of the object",
            State::ArrayComma => "expected a comma or the end of the array",
            _ => "expected a value",
        };
        syntax(self.pos, message)
    }

    /// One step of Go's `Decoder.Token`.
    fn token(&mut self) -> Parsed<Token> {
        loop {
            let c = self.peek().ok_or(Failure::Eof)?;
            match c {
                b'[' | b'{' => {
                    if !self.value_allowed() {
                        return self.unexpected();
                    }
                    if self.stack.len() >= crate::stores::MAX_NESTING {
                        return syntax(self.pos, "objects and arrays are nested too deeply");
                    }
                    self.pos += 1;
                    self.stack.push(self.state);
                    self.state = if c == b'[' {
                        State::ArrayStart
                    } else {
                        State::ObjectStart
                    };
                    return Ok(Token::Open(c));
                }
                b']' | b'}' => {
                    let allowed = if c == b']' {
                        matches!(self.state, State::ArrayStart | State::ArrayComma)
                    } else {
                        matches!(self.state, State::ObjectStart | State::ObjectComma)
                    };
                    if !allowed {
                        return self.unexpected();
                    }
                    self.pos += 1;
                    self.state = self.stack.pop().unwrap_or(State::TopValue);
                    self.value_end();
                    return Ok(Token::Close);
                }
                b':' => {
                    if self.state != State::ObjectColon {
                        return self.unexpected();
                    }
                    self.pos += 1;
                    self.state = State::ObjectValue;
                }
                b',' => {
                    self.state = match self.state {
                        State::ArrayComma => State::ArrayValue,
                        State::ObjectComma => State::ObjectKey,
                        _ => return self.unexpected(),
                    };
                    self.pos += 1;
                }
                b'"' if matches!(self.state, State::ObjectStart | State::ObjectKey) => {
                    let key = self.string()?;
                    self.state = State::ObjectColon;
                    return Ok(Token::Key(key));
                }
                _ => {
                    if !self.value_allowed() {
                        return self.unexpected();
                    }
                    let value = self.scalar()?;
                    self.value_end();
                    return Ok(Token::Value(value));
                }
            }
        }
    }

    fn scalar(&mut self) -> Parsed<Scalar> {
        match self.src[self.pos] {
            b'"' => Ok(Scalar::Str(self.string()?)),
            b't' => self.literal(b"true", Scalar::Bool(true)),
            b'f' => self.literal(b"false", Scalar::Bool(false)),
            b'n' => self.literal(b"null", Scalar::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => syntax(
                self.pos,
                "invalid character looking for the beginning of a value",
            ),
        }
    }

    fn literal(&mut self, word: &[u8], value: Scalar) -> Parsed<Scalar> {
        for &expected in word {
            match self.src.get(self.pos) {
                None => return syntax(self.pos, "unexpected end of input"),
                Some(&c) if c == expected => self.pos += 1,
                Some(_) => return syntax(self.pos, "invalid character in a literal"),
            }
        }
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn require_digits(&mut self) -> Parsed<()> {
        if self.digits() == 0 {
            return match self.src.get(self.pos) {
                None => syntax(self.pos, "unexpected end of input"),
                Some(_) => syntax(self.pos, "invalid character in a numeric literal"),
            };
        }
        Ok(())
    }

    fn number(&mut self) -> Parsed<Scalar> {
        let start = self.pos;
        if self.src[self.pos] == b'-' {
            self.pos += 1;
        }
        match self.src.get(self.pos) {
            Some(b'0') => self.pos += 1,
            _ => self.require_digits()?,
        }
        if self.src.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            self.require_digits()?;
        }
        if matches!(self.src.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.src.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.require_digits()?;
        }
        let text =
            std::str::from_utf8(&self.src[start..self.pos]).expect("a scanned number is ASCII");
        number_scalar(text).ok_or(Failure::Syntax {
            offset: start,
            message: "a number is out of the float64 range",
        })
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.src.get(at..at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// A string value, decoded as Go's `unquote` does: invalid UTF-8 bytes and unpaired
    /// surrogates become U+FFFD.
    fn string(&mut self) -> Parsed<String> {
        self.pos += 1;
        // Most strings are plain ASCII to the closing quote: take them in one slice.
        let start = self.pos;
        let run = self.src[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
            .map_or(self.src.len(), |p| start + p);
        if self.src.get(run) == Some(&b'"') {
            self.pos = run + 1;
            let text = std::str::from_utf8(&self.src[start..run]).expect("ASCII is UTF-8");
            return Ok(text.to_string());
        }
        let mut raw = self.src[start..run].to_vec();
        self.pos = run;
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return syntax(self.pos, "unexpected end of input in a string");
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(go_lossy_utf8(&raw));
                }
                b'\\' => self.escape(&mut raw)?,
                0..=0x1f => return syntax(self.pos, "invalid control character in a string"),
                _ => {
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        let Some(&c) = self.src.get(self.pos + 1) else {
            return syntax(self.pos, "unexpected end of input in a string");
        };
        let simple = match c {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return syntax(self.pos + 1, "invalid escape in a string"),
        };
        if let Some(byte) = simple {
            out.push(byte);
            self.pos += 2;
            return Ok(());
        }
        let Some(first) = self.hex4(self.pos + 2) else {
            return syntax(self.pos, "invalid \\u escape in a string");
        };
        self.pos += 6;
        let mut ch = char::from_u32(first);
        if (0xD800..0xE000).contains(&first) {
            ch = None;
            if self.src.get(self.pos..self.pos + 2) == Some(b"\\u") {
                if let Some(second) = self.hex4(self.pos + 2) {
                    if (0xD800..0xDC00).contains(&first) && (0xDC00..0xE000).contains(&second) {
                        ch = char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
                        self.pos += 6;
                    }
                }
            }
        }
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes());
        Ok(())
    }
}

/// Go decodes invalid UTF-8 one byte at a time, each bad byte becoming one U+FFFD.
pub(crate) fn go_lossy_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).expect("checked prefix"));
                out.push('\u{FFFD}');
                rest = &after[1..];
            }
        }
    }
}

/// Integers up to this magnitude are exact in a float64.
const FLOAT64_EXACT_INTEGERS: u64 = 1 << 53;

fn number_scalar(text: &str) -> Option<Scalar> {
    // sops 3.11 decodes every JSON number as a float64 (`type:float`), integers included; doing
    // the same keeps re-encryption of sops-made files from changing every number's ciphertext.
    // sops 3.13.2 keeps integers that fit in int64 exact; where a float64 would round one
    // (beyond 2^53), rsops does too, so such a number survives a round trip unchanged.
    if let Ok(int) = text.parse::<i64>() {
        if int.unsigned_abs() > FLOAT64_EXACT_INTEGERS {
            return Some(Scalar::Int(int));
        }
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(Scalar::Float(value))
}

/// sops's `treeBranchFromJSONDecoder`: `io.EOF` ends the object without an error.
fn branch(dec: &mut Decoder) -> Parsed<Map> {
    let mut map = Map::new();
    loop {
        match item(dec) {
            Ok(Some((key, value))) => map.push(key, value),
            Ok(None) | Err(Failure::Eof) => return Ok(map),
            Err(e) => return Err(e),
        }
    }
}

/// sops's `treeItemFromJSONDecoder`; `None` is the end of the object.
fn item(dec: &mut Decoder) -> Parsed<Option<(String, Node)>> {
    let key_offset = dec.pos;
    let key = match dec.token() {
        Ok(Token::Key(key)) => key,
        Ok(Token::Close) => return Ok(None),
        Ok(_) | Err(Failure::Eof) => return syntax(key_offset, "expected an object key"),
        Err(e) => return Err(e),
    };
    let value = match dec.token()? {
        Token::Open(b'[') => Node::List(slice(dec)?),
        Token::Open(_) => Node::Map(branch(dec)?),
        Token::Value(v) => Node::Scalar(v),
        Token::Key(_) | Token::Close => return syntax(dec.pos, "expected a value"),
    };
    Ok(Some((key, value)))
}

/// sops's `sliceFromJSONDecoder`: here `io.EOF` is passed up.
fn slice(dec: &mut Decoder) -> Parsed<Vec<ListItem>> {
    let mut items = Vec::new();
    loop {
        let node = match dec.token()? {
            Token::Close => return Ok(items),
            Token::Open(b'{') => Node::Map(branch(dec)?),
            Token::Open(_) => Node::List(slice(dec)?),
            Token::Value(v) => Node::Scalar(v),
            Token::Key(_) => return syntax(dec.pos, "expected a value"),
        };
        items.push(ListItem::Value(node));
    }
}

fn line_column(src: &[u8], offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, column)
}

fn to_store_error(src: &[u8], failure: Failure) -> StoreError {
    let (offset, message) = match failure {
        Failure::Eof => (src.len(), "unexpected end of input"),
        Failure::Syntax { offset, message } => (offset, message),
    };
    let (line, column) = line_column(src, offset);
    StoreError::Syntax {
        format: "json",
        line: Some(line),
        column: Some(column),
        message: message.to_string(),
    }
}

/// Reads a plaintext JSON document the way sops 3.11 does: the first value must be an object
/// and whatever follows it is not looked at.
pub fn parse_object_lenient(src: &[u8]) -> Result<Map, StoreError> {
    let mut dec = Decoder::new(src);
    let run = |dec: &mut Decoder| -> Parsed<Map> {
        match dec.token()? {
            Token::Open(b'{') => branch(dec),
            _ => syntax(0, "the top level must be an object"),
        }
    };
    run(&mut dec).map_err(|f| to_store_error(src, f))
}

/// Reads an encrypted JSON document: sops unmarshals the whole file first, so it must be one
/// complete, valid object with nothing but whitespace after it.
pub fn parse_object_strict(src: &[u8]) -> Result<Map, StoreError> {
    let mut dec = Decoder::new(src);
    let run = |dec: &mut Decoder| -> Parsed<Map> {
        match dec.token()? {
            Token::Open(b'{') => {}
            _ => return syntax(0, "the top level must be an object"),
        }
        let map = strict_branch(dec)?;
        match dec.peek() {
            None => Ok(map),
            Some(_) => syntax(dec.pos, "invalid character after the top-level value"),
        }
    };
    run(&mut dec).map_err(|f| {
        let f = match f {
            Failure::Eof => Failure::Syntax {
                offset: src.len(),
                message: "unexpected end of input",
            },
            other => other,
        };
        to_store_error(src, f)
    })
}

fn strict_branch(dec: &mut Decoder) -> Parsed<Map> {
    let mut map = Map::new();
    loop {
        let key = match dec.token()? {
            Token::Key(key) => key,
            Token::Close => return Ok(map),
            _ => return syntax(dec.pos, "expected an object key"),
        };
        map.push(key, strict_value(dec)?);
    }
}

fn strict_value(dec: &mut Decoder) -> Parsed<Node> {
    Ok(match dec.token()? {
        Token::Open(b'[') => {
            let mut items = Vec::new();
            loop {
                if dec.peek() == Some(b']') {
                    dec.token()?;
                    break;
                }
                items.push(ListItem::Value(strict_value(dec)?));
            }
            Node::List(items)
        }
        Token::Open(_) => Node::Map(strict_branch(dec)?),
        Token::Value(v) => Node::Scalar(v),
        Token::Key(_) | Token::Close => return syntax(dec.pos, "expected a value"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(map: &Map) -> Vec<&str> {
        map.entries().map(|(k, _)| k).collect()
    }

    #[test]
    fn keeps_order_and_duplicates() {
        let m = parse_object_lenient(br#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        assert_eq!(keys(&m), vec!["b", "a", "b"]);
    }

    #[test]
    fn numbers_follow_float64_unless_an_int64_would_round() {
        let m =
            parse_object_strict(br#"{"a": 1, "b": -0, "c": 9007199254740993, "d": 1.0, "e": 1e2}"#)
                .unwrap();
        assert!(matches!(m.get("a"), Some(Node::Scalar(Scalar::Float(f))) if *f == 1.0));
        assert!(matches!(m.get("b"), Some(Node::Scalar(Scalar::Float(f))) if f.is_sign_negative()));
        assert!(matches!(
            m.get("c"),
            Some(Node::Scalar(Scalar::Int(9007199254740993)))
        ));
        assert!(matches!(m.get("d"), Some(Node::Scalar(Scalar::Float(_)))));
        assert!(parse_object_strict(br#"{"a": 1e400}"#).is_err());
        let m = parse_object_strict(
            br#"{"max": 9223372036854775807, "min": -9223372036854775808, "edge": 9007199254740992, "over": 9223372036854775808}"#,
        )
        .unwrap();
        assert!(matches!(
            m.get("max"),
            Some(Node::Scalar(Scalar::Int(i64::MAX)))
        ));
        assert!(matches!(
            m.get("min"),
            Some(Node::Scalar(Scalar::Int(i64::MIN)))
        ));
        assert!(matches!(
            m.get("edge"),
            Some(Node::Scalar(Scalar::Float(_)))
        ));
        assert!(matches!(
            m.get("over"),
            Some(Node::Scalar(Scalar::Float(_)))
        ));
    }

    #[test]
    fn strings_decode_like_go() {
        let m = parse_object_strict(b"{\"a\": \"\\ud83d\\ude00 \\ud800x \xff\"}").unwrap();
        assert_eq!(
            m.get("a").unwrap().as_str(),
            Some("\u{1F600} \u{FFFD}x \u{FFFD}")
        );
        assert!(parse_object_strict(b"{\"a\": \"\x01\"}").is_err());
        assert!(parse_object_strict(br#"{"a": "\x"}"#).is_err());
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            &br#"[1]"#[..],
            br#"{"a" 1}"#,
            br#"{"a": 1,}"#,
            br#"{"a": [1,]}"#,
            br#"{"a": 01}"#,
            br#"{1: 2}"#,
            br#""#,
            br#"{"a": tru}"#,
        ] {
            assert!(parse_object_lenient(bad).is_err(), "{:?}", bad);
            assert!(parse_object_strict(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn lenient_mode_follows_sops_eof_rules() {
        assert_eq!(
            keys(&parse_object_lenient(br#"{"a": 1} trailing"#).unwrap()),
            vec!["a"]
        );
        assert!(parse_object_strict(br#"{"a": 1} trailing"#).is_err());
        assert_eq!(
            keys(&parse_object_lenient(br#"{"x": 1, "a": [1"#).unwrap()),
            vec!["x"]
        );
        assert!(parse_object_lenient(br#"{"a": 1"#).is_err());
        assert!(parse_object_strict(br#"{"x": 1, "a": [1"#).is_err());
    }

    #[test]
    fn error_location_has_no_text() {
        let err = parse_object_strict(b"{\n  \"secret\": nope}").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("nope"));
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |depth: usize| {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth)).into_bytes()
        };
        let max = crate::stores::MAX_NESTING;
        assert!(parse_object_strict(&nested(max)).is_ok());
        assert!(parse_object_lenient(&nested(max)).is_ok());
        // Regression (fuzz/bad-input matrix): 100 000 levels overflowed the stack.
        for deep in [nested(max + 1), nested(100_000)] {
            let err = parse_object_strict(&deep).unwrap_err().to_string();
            assert!(err.contains("nested too deeply"), "{err}");
            let err = parse_object_lenient(&deep).unwrap_err().to_string();
            assert!(err.contains("nested too deeply"), "{err}");
        }
    }
}
