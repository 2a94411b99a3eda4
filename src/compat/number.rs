//! Go's number and bool spellings, which sops's plaintexts and outputs are made of.
//!
//! A MAC computed by sops hashes these exact bytes, so rsops must spell numbers as Go does.

/// The shortest round-trip decimal digits of `v` (no sign) and the exponent `e` such that
/// `v = 0.d1d2…dn × 10^e` (Go's `decimal.dp`).
fn shortest_digits(v: f64) -> (String, i32) {
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("Rust {:e} always has an exponent");
    let exp: i32 = exp.parse().expect("Rust {:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exp + 1)
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, never an exponent.
/// This is the plaintext (and MAC input) of every sops `float` value.
pub fn format_float_f(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust's Display is exactly this: shortest round-trip digits without exponent, "-0" for -0.0.
    format!("{v}")
}

fn sign(v: f64) -> &'static str {
    if v.is_sign_negative() {
        "-"
    } else {
        ""
    }
}

/// `%e` with the shortest digits, exponent with at least two digits (`1e+06`, `1.5e-07`).
fn format_e(v: f64) -> String {
    let (digits, dp) = shortest_digits(v);
    let exp = if v == 0.0 { 0 } else { dp - 1 };
    let mut out = String::from(sign(v));
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    let abs = exp.unsigned_abs();
    if abs < 10 {
        out.push('0');
    }
    out.push_str(&abs.to_string());
    out
}

/// `strconv.FormatFloat(v, 'g', -1, 64)`, which is how yaml.v3 writes floats.
pub fn format_float_g(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return format!("{}0", sign(v));
    }
    let (_, dp) = shortest_digits(v);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        format_e(v)
    } else {
        format_float_f(v)
    }
}

/// Go `encoding/json`'s float spelling: `'f'` unless |v| < 1e-6 or ≥ 1e21, then `'e'` with a
/// one-digit negative exponent kept short (`1e-07` → `1e-7`).
pub fn format_float_json(v: f64) -> String {
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = format_e(v);
        let n = s.len();
        if n >= 4 && &s[n - 4..n - 1] == "e-0" {
            s.remove(n - 2);
        }
        s
    } else {
        format_float_f(v)
    }
}

/// `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.ParseFloat(s, 64)` for the spellings sops itself writes and Go accepts.
pub fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" | "+Infinity" | "Infinity" => return Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => return Some(f64::NEG_INFINITY),
        "NaN" | "nan" => return Some(f64::NAN),
        _ => {}
    }
    let cleaned = s.strip_prefix('+').unwrap_or(s);
    if cleaned.starts_with(['+', '-']) && cleaned.len() != s.len() {
        return None;
    }
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f_format_matches_go() {
        assert_eq!(format_float_f(2.75), "2.75");
        assert_eq!(format_float_f(1.0), "1");
        assert_eq!(format_float_f(1e10), "10000000000");
        assert_eq!(format_float_f(6.02e23), "602000000000000000000000");
        assert_eq!(format_float_f(-0.0), "-0");
        assert_eq!(format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(format_float_f(f64::NAN), "NaN");
        assert_eq!(format_float_f(1e-7), "0.0000001");
    }

    #[test]
    fn g_format_matches_go() {
        assert_eq!(format_float_g(1.0), "1");
        assert_eq!(format_float_g(123456.0), "123456");
        assert_eq!(format_float_g(1234567.0), "1.234567e+06");
        assert_eq!(format_float_g(1e6), "1e+06");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(1e21), "1e+21");
        assert_eq!(format_float_g(-2.5e-10), "-2.5e-10");
        assert_eq!(format_float_g(0.0), "0");
    }

    #[test]
    fn json_format_matches_go() {
        assert_eq!(format_float_json(1.0), "1");
        assert_eq!(format_float_json(1e20), "100000000000000000000");
        assert_eq!(format_float_json(1e21), "1e+21");
        assert_eq!(format_float_json(1e-7), "1e-7");
        assert_eq!(format_float_json(0.000001), "0.000001");
        assert_eq!(format_float_json(1.5e-10), "1.5e-10");
    }

    #[test]
    fn bools_and_floats_parse_like_go() {
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("F"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("1e3"), Some(1000.0));
        assert!(parse_go_float("NaN").unwrap().is_nan());
        assert_eq!(parse_go_float("abc"), None);
    }
}
