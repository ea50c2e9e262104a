//! The `--created` forms: `auto`, `now`, `commit`, `@EPOCH` or an RFC 3339 date-time, checked
//! by the model's time rules.

use chrono::{DateTime, Utc};

pub(crate) use crate::annotations::time::{format_rfc3339, parse_created, parse_epoch};

/// How `created` is chosen (`--created`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreatedSpec {
    /// `SOURCE_DATE_EPOCH`, else the HEAD commit's committer time, else now.
    Auto,
    Now,
    Commit,
    /// A time given as `@EPOCH` or as an RFC 3339 date-time; with the text as given when it
    /// is a date-time not already in the written form (an offset, fractions of a second).
    At(DateTime<Utc>, Option<String>),
}

impl std::str::FromStr for CreatedSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" | "" => Ok(CreatedSpec::Auto),
            "now" => Ok(CreatedSpec::Now),
            "commit" => Ok(CreatedSpec::Commit),
            _ => {
                if let Some(epoch) = s.strip_prefix('@') {
                    return parse_epoch(epoch).map(|t| CreatedSpec::At(t, None));
                }
                let t = parse_created(s).map_err(|p| {
                    format!("`{s}` is not auto, now, commit, @EPOCH or an RFC 3339 date-time ({p})")
                })?;
                let given = (format_rfc3339(&t) != s).then(|| s.to_string());
                Ok(CreatedSpec::At(t, given))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_spec_forms() {
        assert_eq!("auto".parse(), Ok(CreatedSpec::Auto));
        assert_eq!("now".parse(), Ok(CreatedSpec::Now));
        assert_eq!("commit".parse(), Ok(CreatedSpec::Commit));
        let at = |s: &str| match s.parse::<CreatedSpec>().unwrap() {
            CreatedSpec::At(t, _) => format_rfc3339(&t),
            other => panic!("{other:?}"),
        };
        assert_eq!(at("@0"), "1970-01-01T00:00:00Z");
        assert_eq!(at("@1704164645"), "2024-01-02T03:04:05Z");
        assert_eq!(at("2024-01-02T05:04:05.9+02:00"), "2024-01-02T03:04:05Z");
        assert!("@-1".parse::<CreatedSpec>().is_err());
        assert!("@1e9".parse::<CreatedSpec>().is_err());
        assert!("@99999999999999999999".parse::<CreatedSpec>().is_err());
        assert!("@253402300800".parse::<CreatedSpec>().is_err());
        assert!("2024-01-02".parse::<CreatedSpec>().is_err());
        // Valid RFC 3339, but a year before 0000 or after 9999 in UTC.
        assert!("0000-01-01T00:30:00+01:00".parse::<CreatedSpec>().is_err());
        assert!("9999-12-31T23:30:00-01:00".parse::<CreatedSpec>().is_err());
        assert_eq!(at("9999-12-31T23:30:00+01:00"), "9999-12-31T22:30:00Z");
    }
}
