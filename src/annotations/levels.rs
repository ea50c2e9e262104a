//! Levels: where in an image an annotation goes, in the grammar `docker buildx build
//! --annotation` uses — a comma list of `manifest`, `index`, `manifest-descriptor` and
//! `index-descriptor`, each optionally narrowed to a platform: `manifest[linux/arm64]`.

use std::fmt;
use std::str::FromStr;

/// The four places buildx can put an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum LevelKind {
    Manifest,
    Index,
    ManifestDescriptor,
    IndexDescriptor,
}

impl LevelKind {
    pub(crate) const ALL: [LevelKind; 4] = [
        LevelKind::Manifest,
        LevelKind::Index,
        LevelKind::ManifestDescriptor,
        LevelKind::IndexDescriptor,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LevelKind::Manifest => "manifest",
            LevelKind::Index => "index",
            LevelKind::ManifestDescriptor => "manifest-descriptor",
            LevelKind::IndexDescriptor => "index-descriptor",
        }
    }
}

/// An `os/arch[/variant]` platform narrowing a level.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Platform {
    pub(crate) os: String,
    pub(crate) arch: String,
    pub(crate) variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One level, with its optional platform.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Level {
    pub(crate) kind: LevelKind,
    pub(crate) platform: Option<Platform>,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(p) = &self.platform {
            write!(f, "[{p}]")?;
        }
        Ok(())
    }
}

/// A non-empty, duplicate-free list of levels, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Levels(Vec<Level>);

impl Levels {
    /// The buildx default: the image manifest.
    pub(crate) fn manifest() -> Self {
        Levels(vec![Level {
            kind: LevelKind::Manifest,
            platform: None,
        }])
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Level> {
        self.0.iter()
    }

    /// Whether any level is narrowed to a platform or is not `manifest`; podman and buildah
    /// cannot express either.
    pub(crate) fn is_plain_manifest(&self) -> bool {
        self.0
            .iter()
            .all(|l| l.kind == LevelKind::Manifest && l.platform.is_none())
    }
}

impl Default for Levels {
    fn default() -> Self {
        Levels::manifest()
    }
}

impl fmt::Display for Levels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, level) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{level}")?;
        }
        Ok(())
    }
}

/// Why a levels string was refused; the message names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LevelError {
    #[error(
        "empty level list (expected manifest, index, manifest-descriptor or index-descriptor)"
    )]
    Empty,
    #[error(
        "unknown level `{0}` (expected manifest, index, manifest-descriptor or index-descriptor)"
    )]
    Unknown(String),
    #[error("invalid platform `{0}` in level: {1}")]
    Platform(String, &'static str),
    #[error(
        "level `{0}` names a platform, but an image index has none: buildx drops the platform and puts the annotation on the whole index (use `{1}` without `[…]`, or `manifest[…]`/`manifest-descriptor[…]`)"
    )]
    PlatformOnIndex(String, &'static str),
    #[error("level `{0}` is given twice")]
    Duplicate(String),
    #[error("level `{0}` has no closing `]`")]
    Unclosed(String),
}

/// Why a platform in `[…]` is refused, as `docker buildx build --annotation` parses it: the
/// brackets take only `[A-Za-z0-9_/-]+` (buildx's `util/buildflags`), and containerd's
/// `platforms.Parse` then wants `os/arch` or `os/arch/variant` with no empty part. One part
/// (`[linux]`, `[arm64]`) is refused although buildx takes it: it fills in the other half
/// from the machine buildx runs on, so the same flag would mean different images.
fn platform_problem(s: &str) -> Option<&'static str> {
    let parts: Vec<&str> = s.split('/').collect();
    if s.contains('*') {
        return Some("wildcards are not supported by buildx");
    }
    if let Some(b) = s
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/' | b'.')))
    {
        return Some(if b == b'(' || b == b'+' || b == b'%' {
            "buildx allows only letters, digits, `_`, `-` and `/` in a platform; an OS version or OS features (`windows(10.0)`) cannot be given in a level"
        } else {
            "buildx allows only letters, digits, `_`, `-` and `/` in a platform"
        });
    }
    if s.contains('.') {
        return Some(
            "buildx allows only letters, digits, `_`, `-` and `/` in a platform; a `.` (an OS version such as 10.0.17763, a variant such as v8.0) cannot be given in a level",
        );
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Some("a part is empty (expected os/arch or os/arch/variant)");
    }
    match parts.len() {
        1 => Some(
            "give os/arch (`linux/amd64`): with one part buildx fills in the rest from the machine it runs on",
        ),
        2 | 3 => None,
        _ => Some("too many parts (expected os/arch or os/arch/variant)"),
    }
}

fn parse_platform(s: &str) -> Result<Platform, LevelError> {
    if let Some(why) = platform_problem(s) {
        return Err(LevelError::Platform(s.to_string(), why));
    }
    let parts: Vec<&str> = s.split('/').collect();
    Ok(Platform {
        os: parts[0].to_ascii_lowercase(),
        arch: parts[1].to_ascii_lowercase(),
        variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
    })
}

impl FromStr for Level {
    type Err = LevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (name, platform) = match s.split_once('[') {
            Some((name, rest)) => {
                let inner = match rest.strip_suffix(']') {
                    Some(inner) => inner,
                    None if !rest.contains(']') => return Err(LevelError::Unclosed(s.to_string())),
                    None => {
                        return Err(LevelError::Platform(
                            rest.to_string(),
                            "text after the closing `]`",
                        ))
                    }
                };
                (name, Some(parse_platform(inner)?))
            }
            None => (s, None),
        };
        let kind = LevelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| LevelError::Unknown(name.to_string()))?;
        if platform.is_some() && matches!(kind, LevelKind::Index | LevelKind::IndexDescriptor) {
            return Err(LevelError::PlatformOnIndex(s.to_string(), kind.as_str()));
        }
        Ok(Level { kind, platform })
    }
}

impl FromStr for Levels {
    type Err = LevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(LevelError::Empty);
        }
        let mut levels: Vec<Level> = Vec::new();
        for part in split_levels(s) {
            let level: Level = part.parse()?;
            if levels.contains(&level) {
                return Err(LevelError::Duplicate(level.to_string()));
            }
            levels.push(level);
        }
        Ok(Levels(levels))
    }
}

/// Splits on commas outside `[…]` (a platform never holds a comma, but a stray one inside
/// brackets should be reported as a bad platform, not as an unknown level).
fn split_levels(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_levels_round_trip() {
        for s in [
            "manifest",
            "index",
            "manifest-descriptor",
            "index-descriptor",
            "index,manifest",
            "manifest[linux/amd64]",
            "manifest[linux/arm64/v8],index",
            "manifest-descriptor[linux/arm/v7]",
        ] {
            let levels: Levels = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(levels.to_string(), s);
        }
    }

    #[test]
    fn invalid_levels_are_refused_with_the_reason() {
        let cases = [
            ("", LevelError::Empty),
            ("manifests", LevelError::Unknown("manifests".into())),
            ("Manifest", LevelError::Unknown("Manifest".into())),
            (
                "manifest[linux/amd64",
                LevelError::Unclosed("manifest[linux/amd64".into()),
            ),
            ("index,index", LevelError::Duplicate("index".into())),
            ("index,", LevelError::Unknown(String::new())),
            (
                "index[linux/amd64]",
                LevelError::PlatformOnIndex("index[linux/amd64]".into(), "index"),
            ),
            (
                "manifest,index-descriptor[linux/arm64]",
                LevelError::PlatformOnIndex(
                    "index-descriptor[linux/arm64]".into(),
                    "index-descriptor",
                ),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Levels>(), Err(want), "{input}");
        }
    }

    /// Platforms buildx's `--annotation` grammar or containerd's parser refuses, or that mean
    /// different images on different machines.
    #[test]
    fn platforms_are_checked_as_buildx_parses_them() {
        for (platform, reason_has) in [
            ("linux/amd64.1", "`.`"),
            ("windows/amd64/10.0.17763", "OS version"),
            ("linux/arm64/v8.0", "`.`"),
            ("windows(10.0.17763)/amd64", "OS version"),
            ("linux/*", "wildcards"),
            ("linux", "one part"),
            ("arm64", "one part"),
            ("a/b/c/d", "too many"),
            ("linux//amd64", "empty"),
            ("linux/amd64/", "empty"),
            ("linux/amd64,x", "only letters"),
            ("linux/amd 64", "only letters"),
            ("linux/amd64]x", "only letters"),
        ] {
            let input = format!("manifest[{platform}]");
            match input.parse::<Levels>() {
                Err(LevelError::Platform(p, why)) => {
                    assert_eq!(p, platform, "{input}");
                    assert!(why.contains(reason_has), "{input}: {why}");
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        assert_eq!(
            "manifest[linux/amd64]x".parse::<Levels>(),
            Err(LevelError::Platform(
                "linux/amd64]x".into(),
                "text after the closing `]`"
            ))
        );
        for ok in [
            "linux/amd64",
            "linux/arm/v7",
            "Linux/ARM64/v8",
            "windows/amd64",
            "linux/x86_64",
        ] {
            let input = format!("manifest-descriptor[{ok}]");
            assert!(input.parse::<Levels>().is_ok(), "{input}");
        }
    }

    #[test]
    fn plain_manifest_detection() {
        assert!(Levels::manifest().is_plain_manifest());
        assert!(!"index".parse::<Levels>().unwrap().is_plain_manifest());
        assert!(!"manifest[linux/amd64]"
            .parse::<Levels>()
            .unwrap()
            .is_plain_manifest());
    }
}
