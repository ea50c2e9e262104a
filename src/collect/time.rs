//! The `--created` forms: `auto`, `now`, `commit`, `@EPOCH` or an RFC 3339 date-time, checked
//! by the model's time rules.

use chrono::{DateTime, Utc};

use crate::annotations::time::check_rfc3339;
pub(crate) use crate::annotations::time::{format_rfc3339, parse_epoch};

/// How `created` is chosen (`--created`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CreatedSpec {
    /// `SOURCE_DATE_EPOCH`, else the HEAD commit's committer time, else now.
    Auto,
    Now,
    Commit,
    At(DateTime<Utc>),
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
                    return parse_epoch(epoch).map(CreatedSpec::At);
                }
                check_rfc3339(s).map_err(|p| {
                    format!("`{s}` is not auto, now, commit, @EPOCH or an RFC 3339 date-time ({p})")
                })?;
                let t = DateTime::parse_from_rfc3339(s)
                    .map_err(|e| e.to_string())?
                    .with_timezone(&Utc);
                // An offset can carry 0000-01-01 or 9999-12-31 across a year boundary.
                if format_rfc3339(&t).len() != 20 {
                    return Err(format!(
                        "`{s}` is outside the years 0000-9999 once converted to UTC"
                    ));
                }
                Ok(CreatedSpec::At(t))
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
            CreatedSpec::At(t) => format_rfc3339(&t),
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
