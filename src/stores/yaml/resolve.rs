//! yaml.v3's implicit typing of plain scalars, which decides both how sops reads a value and
//! whether a string must be quoted on output so it reads back as a string.

/// What a plain scalar means to yaml.v3 (YAML 1.2 core schema plus Go's integer syntax).
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer in 2^63..2^64: yaml.v3 gives a `uint64`, which sops cannot walk.
    Uint(u64),
    Float(f64),
    /// Go's RFC 3339 (nano) spelling of the timestamp.
    Time(String),
    /// The merge key `<<`.
    Merge,
    Str,
}

fn lookup(s: &str) -> Option<Resolved> {
    Some(match s {
        "true" | "True" | "TRUE" => Resolved::Bool(true),
        "false" | "False" | "FALSE" => Resolved::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        "<<" => Resolved::Merge,
        _ => return None,
    })
}

/// Resolves an untagged plain scalar.
pub fn resolve_plain(s: &str) -> Resolved {
    let Some(&first) = s.as_bytes().first() else {
        return Resolved::Null;
    };
    let hinted =
        matches!(first, b'+' | b'-' | b'0'..=b'9' | b'.' | b'<') || b"yYnNtTfFoO~".contains(&first);
    if !hinted {
        return Resolved::Str;
    }
    if let Some(r) = lookup(s) {
        return r;
    }
    match first {
        b'.' => s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && is_go_float_syntax(s))
            .map_or(Resolved::Str, Resolved::Float),
        b'+' | b'-' | b'0'..=b'9' => resolve_number(s),
        _ => Resolved::Str,
    }
}

fn resolve_number(s: &str) -> Resolved {
    if let Some(t) = parse_timestamp(s) {
        return Resolved::Time(t);
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if let Some(v) = parse_go_int(&plain) {
        return match i64::try_from(v) {
            Ok(i) => Resolved::Int(i),
            Err(_) => match u64::try_from(v) {
                Ok(u) if !plain.starts_with(['+', '-']) => Resolved::Uint(u),
                _ => float_or_str(&plain),
            },
        };
    }
    float_or_str(&plain)
}

/// Go's ParseFloat fails with ErrRange where Rust rounds to infinity (`1e400`); yaml.v3 then
/// keeps the scalar a string.
fn float_or_str(plain: &str) -> Resolved {
    if is_yaml_float(plain) {
        if let Ok(f) = plain.parse::<f64>() {
            if f.is_finite() {
                return Resolved::Float(f);
            }
        }
    }
    Resolved::Str
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first().is_some_and(|c| *c == b'+' || *c == b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// What Go's `strconv.ParseFloat` accepts for a string starting with `.` (decimal only).
fn is_go_float_syntax(s: &str) -> bool {
    is_yaml_float(s)
}

/// Go `strconv.ParseInt(s, 0, 64)` widened: returns the value if the syntax is valid and it
/// fits in i128 (callers check the int64/uint64 ranges). Underscores are already removed.
fn parse_go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Anything longer than 64 binary digits is out of every range we care about.
    let v = u128::from_str_radix(digits, radix).ok()?;
    if v > u128::from(u64::MAX) + 1 {
        return Some(if neg { -(1i128 << 100) } else { 1i128 << 100 });
    }
    let v = i128::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

/// yaml.v3's timestamp forms, parsed with Go `time.Parse` rules, formatted as RFC3339Nano.
pub fn parse_timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let mut p = Cursor { b, i: 5 };
    let year: i32 = s[..4].parse().ok()?;
    let month = p.num(1, 2)?;
    p.expect(b'-')?;
    let day = p.num(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if p.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let sep = p.next()?;
    if !matches!(sep, b'T' | b't' | b' ') {
        return None;
    }
    let hour = p.num(1, 2)?;
    p.expect(b':')?;
    let min = p.num(1, 2)?;
    p.expect(b':')?;
    let sec = p.num(1, 2)?;
    if hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let mut nanos = 0u32;
    if p.peek() == Some(b'.') && p.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        let frac = &s[start..p.i];
        let frac9: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = frac9.parse().ok()?;
    }
    let offset = if sep == b' ' {
        0
    } else {
        match p.next()? {
            b'Z' => 0,
            sign @ (b'+' | b'-') => {
                let h = p.fixed2()?;
                p.expect(b':')?;
                let m = p.fixed2()?;
                if h > 24 || m > 59 {
                    return None;
                }
                let off = (h * 60 + m) as i32;
                if sign == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return None,
        }
    };
    if !p.done() {
        return None;
    }
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    let zone = if offset == 0 {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let a = offset.unsigned_abs();
        format!("{sign}{:02}:{:02}", a / 60, a % 60)
    };
    Some(format!(
        "{date}T{hour:02}:{min:02}:{sec:02}{fraction}{zone}"
    ))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i - start < min {
            return None;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
    fn fixed2(&mut self) -> Option<u32> {
        self.num(2, 2)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// YAML 1.1 booleans, which yaml.v3 reads as strings but still quotes on output.
fn is_old_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    )
}

/// YAML 1.1 sexagesimal floats (`1:30`), likewise quoted on output.
/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first().is_some_and(|c| *c == b'+' || *c == b'-'));
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    i += 1;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i - start < 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Whether yaml.v3 would write this string plain rather than forcing double quotes.
pub fn string_can_be_plain(s: &str) -> bool {
    resolve_plain(s) == Resolved::Str && !is_base60_float(s) && !is_old_bool(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_go_base_zero() {
        assert_eq!(resolve_plain("0755"), Resolved::Int(493));
        assert_eq!(resolve_plain("0x1F"), Resolved::Int(31));
        assert_eq!(resolve_plain("-0x1F"), Resolved::Int(-31));
        assert_eq!(resolve_plain("0b101"), Resolved::Int(5));
        assert_eq!(resolve_plain("0o17"), Resolved::Int(15));
        assert_eq!(resolve_plain("1_000"), Resolved::Int(1000));
        assert_eq!(resolve_plain("+12"), Resolved::Int(12));
        assert_eq!(resolve_plain("09"), Resolved::Float(9.0));
        assert_eq!(
            resolve_plain("-9223372036854775808"),
            Resolved::Int(i64::MIN)
        );
        assert_eq!(
            resolve_plain("9223372036854775808"),
            Resolved::Uint(1 << 63)
        );
        assert_eq!(
            resolve_plain("18446744073709551615"),
            Resolved::Uint(u64::MAX)
        );
        assert_eq!(
            resolve_plain("18446744073709551616"),
            Resolved::Float(18446744073709551616.0)
        );
        assert_eq!(
            resolve_plain("+9223372036854775808"),
            Resolved::Float(9223372036854775808.0)
        );
    }

    #[test]
    fn floats_specials_and_strings() {
        assert_eq!(resolve_plain("1.0"), Resolved::Float(1.0));
        assert_eq!(resolve_plain("1e6"), Resolved::Float(1e6));
        assert_eq!(resolve_plain(".5"), Resolved::Float(0.5));
        assert_eq!(resolve_plain("-.Inf"), Resolved::Float(f64::NEG_INFINITY));
        assert!(matches!(resolve_plain(".nan"), Resolved::Float(f) if f.is_nan()));
        assert_eq!(resolve_plain("yes"), Resolved::Str);
        assert_eq!(resolve_plain("on"), Resolved::Str);
        assert_eq!(resolve_plain("True"), Resolved::Bool(true));
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain(""), Resolved::Null);
        assert_eq!(resolve_plain("<<"), Resolved::Merge);
        assert_eq!(resolve_plain("1.2.3"), Resolved::Str);
        assert_eq!(resolve_plain("-"), Resolved::Str);
        assert_eq!(resolve_plain("0x"), Resolved::Str);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("2024-01-01").unwrap(),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            parse_timestamp("2024-1-2 3:4:5").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05.120Z").unwrap(),
            "2024-01-02T03:04:05.12Z"
        );
        assert_eq!(
            parse_timestamp("2024-01-02t03:04:05+02:00").unwrap(),
            "2024-01-02T03:04:05+02:00"
        );
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05+00:00").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert!(parse_timestamp("2024-02-30").is_none());
        assert!(parse_timestamp("2024-01-02T03:04:05").is_none());
        assert!(parse_timestamp("2024-01-02 03:04:05Z").is_none());
    }

    #[test]
    fn quoting_decisions() {
        for s in [
            "yes", "No", "on", "OFF", "y", "123", "1.5", "null", "", "~", "1:30", "true",
        ] {
            assert!(!string_can_be_plain(s), "{s}");
        }
        for s in ["hello", "a,b", "it's", "1.2.3", "yess", "1:60"] {
            assert!(string_can_be_plain(s), "{s}");
        }
    }
}
