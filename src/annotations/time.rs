//! Time rules: the strict RFC 3339 check for `created`, `SOURCE_DATE_EPOCH` and the one form
//! oci-stamp writes, UTC with seconds precision: `2024-01-02T03:04:05Z`.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// Seconds since the epoch, strictly `^[0-9]+$`, within years 1970–9999.
pub(crate) fn parse_epoch(s: &str) -> Result<DateTime<Utc>, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a number of seconds since 1970 (digits only)",
            s.escape_debug()
        ));
    }
    s.parse::<i64>()
        .ok()
        .and_then(|n| Utc.timestamp_opt(n, 0).single())
        .filter(|t| format_rfc3339(t).len() == 20)
        .ok_or_else(|| format!("`{s}` is out of range (after the year 9999)"))
}

/// A `created` value as a time: strict RFC 3339 ([`check_rfc3339`]) whose instant, once in
/// UTC, is within the years 0000–9999 (the form oci-stamp writes has a four-digit year). The
/// one rule for `--created DATE-TIME`, `-a created=…`, annotation files and `validate`.
pub(crate) fn parse_created(s: &str) -> Result<DateTime<Utc>, String> {
    check_rfc3339(s)?;
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| e.to_string())?
        .with_timezone(&Utc);
    // An offset can carry 0000-01-01 or 9999-12-31 across a year boundary.
    if format_rfc3339(&t).len() != 20 {
        return Err("it is outside the years 0000-9999 once converted to UTC".into());
    }
    Ok(t)
}

/// `2024-01-02T03:04:05Z`.
pub(crate) fn format_rfc3339(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// RFC 3339 `date-time`, strictly: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with a real
/// calendar date. A space for `T` and lower-case `t`/`z` (which RFC 3339 tolerates but Go's
/// `time.RFC3339`, what docker and containerd parse with, does not) are refused too.
pub(crate) fn check_rfc3339(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() == 10 && digits(0..4).is_some() {
        return Err("a date without a time; add one, like `T00:00:00Z`".into());
    }
    let year = digits(0..4).ok_or("expected a four-digit year")?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err("expected YYYY-MM-DD".into());
    }
    let month = digits(5..7).ok_or("expected a two-digit month")?;
    let day = digits(8..10).ok_or("expected a two-digit day")?;
    if NaiveDate::from_ymd_opt(year as i32, month, day).is_none() {
        return Err(format!(
            "{year:04}-{month:02}-{day:02} is not a calendar date"
        ));
    }
    match b.get(10) {
        Some(b'T') => {}
        Some(b't' | b' ') => {
            return Err("the date and time must be separated by an upper-case `T`".into())
        }
        _ => return Err("expected `T` and a time after the date".into()),
    }
    let hour = digits(11..13).ok_or("expected a two-digit hour")?;
    let minute = digits(14..16).ok_or("expected a two-digit minute")?;
    let second = digits(17..19).ok_or("expected seconds (HH:MM:SS)")?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err("expected HH:MM:SS".into());
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a time of day"
        ));
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err("expected digits after the decimal point".into());
        }
    }
    match &b[i.min(b.len())..] {
        b"Z" => Ok(()),
        b"z" => Err("the UTC designator must be an upper-case `Z`".into()),
        [] => Err("no time zone; add `Z` for UTC or an offset like `+02:00`".into()),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let _ = sign;
            let oh = (*h1 as char).to_digit(10).zip((*h2 as char).to_digit(10));
            let om = (*m1 as char).to_digit(10).zip((*m2 as char).to_digit(10));
            match (oh, om) {
                (Some((a, b)), Some((c, d))) if a * 10 + b <= 23 && c * 10 + d <= 59 => Ok(()),
                _ => Err("the offset must be ±HH:MM within ±23:59".into()),
            }
        }
        _ => Err("expected `Z` or an offset like `+02:00` after the time".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_accepts_what_it_should() {
        for ok in [
            "2024-01-02T03:04:05Z",
            "2024-02-29T23:59:59.123456789Z",
            "2024-01-02T03:04:05+02:00",
            "2024-01-02T03:04:05-23:59",
            "1990-12-31T23:59:60Z",
            "0001-01-01T00:00:00Z",
        ] {
            assert_eq!(check_rfc3339(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rfc3339_refuses_what_it_should() {
        for bad in [
            "2024-01-02",
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05Z",
            "2024-01-02t03:04:05Z",
            "2024-01-02T03:04:05z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:04Z",
            "10000-01-01T00:00:00Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05+0200",
            "2024-01-02T03:04:05+24:00",
            "2024-1-2T03:04:05Z",
            "",
            "yesterday",
        ] {
            assert!(check_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
