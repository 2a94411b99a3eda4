//! Go's RFC 3339 spellings of times, which sops uses for `lastmodified`, `created_at`, the MAC's
//! additional data and `time` values.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

fn offset_suffix(offset: UtcOffset) -> String {
    if offset.is_utc() {
        return "Z".to_string();
    }
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

fn date_time(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Go's `time.RFC3339` layout: second precision, `Z` for a zero offset.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    format!("{}{}", date_time(t), offset_suffix(t.offset()))
}

/// Go's `time.RFC3339Nano`: fraction without trailing zeros, omitted when zero.
pub fn format_rfc3339_nano(t: OffsetDateTime) -> String {
    let nanos = t.nanosecond();
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{:09}", nanos).trim_end_matches('0').to_string()
    };
    format!("{}{}{}", date_time(t), fraction, offset_suffix(t.offset()))
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(&s.to_ascii_uppercase(), &Rfc3339).ok())
}

/// `lastmodified` as sops feeds it to the MAC cipher: parsed, then re-formatted as RFC 3339.
pub fn normalize_rfc3339(s: &str) -> Option<String> {
    parse_rfc3339(s).map(format_rfc3339)
}

pub fn normalize_rfc3339_nano(s: &str) -> Option<String> {
    parse_rfc3339(s).map(format_rfc3339_nano)
}

pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// The shape of a TOML local date (`1979-05-27`), local time (`07:32:00.5`, seconds optional
/// as in TOML 1.1) or local date-time (`1979-05-27T07:32:00`): digits where TOML has them, no
/// offset. Only the shape: the TOML store checks the ranges when it writes the value.
pub fn is_local_date_time(s: &str) -> bool {
    match s.split_once(['T', 't', ' ']) {
        Some((date, time)) => is_local_date(date) && is_local_time(time),
        None => is_local_date(s) || is_local_time(s),
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_local_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2))
}

fn is_local_time(s: &str) -> bool {
    let (hms, fraction) = match s.split_once('.') {
        Some((hms, fraction)) => (hms, Some(fraction)),
        None => (s, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let whole = match parts.as_slice() {
        [h, m] => fraction.is_none() && digits(h, 2) && digits(m, 2),
        [h, m, sec] => digits(h, 2) && digits(m, 2) && digits(sec, 2),
        _ => false,
    };
    whole && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_date_time_shapes() {
        for ok in [
            "1979-05-27",
            "07:32:00",
            "07:32",
            "07:32:00.999",
            "1979-05-27T07:32:00",
            "1979-05-27 07:32:00.5",
        ] {
            assert!(super::is_local_date_time(ok), "{ok}");
        }
        for bad in [
            "1979-05-27T07:32:00Z",
            "07:32:00+01:00",
            "1979-5-27",
            "07:32.5",
            "x",
            "",
            "07:32:00.",
        ] {
            assert!(!super::is_local_date_time(bad), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn normalizes_like_go() {
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05+00:00").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05.123Z").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            normalize_rfc3339("2024-01-02T03:04:05-07:30").unwrap(),
            "2024-01-02T03:04:05-07:30"
        );
        assert_eq!(
            normalize_rfc3339_nano("2001-12-14T21:59:43.100-05:00").unwrap(),
            "2001-12-14T21:59:43.1-05:00"
        );
        assert!(normalize_rfc3339("yesterday").is_none());
    }
}
