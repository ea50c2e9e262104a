//! Build-tool arguments: `--annotation [LEVELS:]KEY=VALUE` and `--label KEY=VALUE` for
//! `docker buildx build`, and the level-less `--annotation KEY=VALUE` of podman and buildah.
//!
//! The argument list is built once here and rendered by `flags` (shell words, NUL-separated,
//! JSON), handed to a child process by `exec`, and embedded in the GitHub outputs.

use crate::annotations::{Diagnostic, Levels, Valid};

/// Which build tool the arguments are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Tool {
    /// `docker buildx build` (and `docker build`): annotations with levels.
    Buildx,
    /// `podman build`: `--annotation KEY=VALUE`, manifest only.
    Podman,
    /// `buildah build`: `--annotation KEY=VALUE`, manifest only.
    Buildah,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Buildx => "buildx",
            Tool::Podman => "podman",
            Tool::Buildah => "buildah",
        }
    }
}

/// `LEVELS:KEY=VALUE` as buildx parses it, for one entry.
pub(crate) fn annotation_item(key: &str, value: &str, levels: &Levels) -> String {
    format!("{levels}:{key}={value}")
}

/// Refusals: keys buildx would misread. (`=` in a key is refused by validation already.)
fn check_key_for_buildx(key: &str) -> Option<Diagnostic> {
    key.contains(':').then(|| {
        Diagnostic::error(
            "key-colon",
            key,
            format!("key `{key}` contains `:`, which buildx reads as the end of the level prefix"),
        )
        .hint("rename the key; buildx cannot pass it")
    })
}

/// The argument list for `tool`. Warnings (levels podman cannot express) are returned beside it;
/// an `Err` holds the refusals.
pub(crate) fn arguments(
    annotations: &Valid,
    tool: Tool,
    labels: bool,
) -> Result<(Vec<String>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut args = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let mut narrowed: Vec<&str> = Vec::new();
    for (key, entry) in annotations.iter() {
        if entry.value.is_empty() {
            continue; // a blank annotation would override the Dockerfile's own LABEL
        }
        let levels = &entry.levels;
        match tool {
            Tool::Buildx => {
                if let Some(d) = check_key_for_buildx(key) {
                    errors.push(d);
                    continue;
                }
                args.push("--annotation".to_string());
                args.push(annotation_item(key, &entry.value, levels));
            }
            Tool::Podman | Tool::Buildah => {
                if !levels.is_plain_manifest() {
                    narrowed.push(key);
                }
                args.push("--annotation".to_string());
                args.push(format!("{key}={}", entry.value));
            }
        }
    }
    if let Some(first) = narrowed.first() {
        warnings.push(
            Diagnostic::warning(
                "levels-unsupported",
                first,
                format!(
                    "{} annotations have no levels; {} annotation{} (`{first}`{}) {} to the image manifest only",
                    tool.name(),
                    narrowed.len(),
                    if narrowed.len() == 1 { "" } else { "s" },
                    if narrowed.len() > 1 { ", …" } else { "" },
                    if narrowed.len() == 1 { "goes" } else { "go" },
                ),
            )
            .hint("use --tool buildx for index, descriptor and per-platform annotations"),
        );
    }
    if labels {
        for (key, entry) in annotations.iter().filter(|(_, e)| !e.value.is_empty()) {
            args.push("--label".to_string());
            args.push(format!("{key}={}", entry.value));
        }
    }
    if errors.is_empty() {
        Ok((args, warnings))
    } else {
        Err(errors)
    }
}

/// One argument per NUL-terminated item, for `xargs -0`.
pub(crate) fn render_null(args: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    out
}

/// A JSON array of the arguments.
pub(crate) fn render_json(args: &[String]) -> String {
    let mut s = serde_json::to_string(args).unwrap_or_default();
    s.push('\n');
    s
}

/// One line of POSIX shell words.
pub(crate) fn render_shell(args: &[String]) -> String {
    let mut s = super::shell::join(args);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::Levels;

    fn set() -> crate::annotations::Annotations {
        let mut a = crate::annotations::Annotations::default();
        a.insert(
            "org.opencontainers.image.version".into(),
            "1.0".into(),
            None,
        );
        a.insert(
            "com.example.x".into(),
            "a b".into(),
            Some("index".parse().unwrap()),
        );
        a.insert("com.example.empty".into(), String::new(), None);
        a
    }

    #[test]
    fn buildx_arguments_carry_levels() {
        let (args, warnings) = arguments(
            &Valid::from_draft(&set(), &Levels::manifest()),
            Tool::Buildx,
            false,
        )
        .unwrap();
        assert_eq!(
            args,
            [
                "--annotation",
                "index:com.example.x=a b",
                "--annotation",
                "manifest:org.opencontainers.image.version=1.0"
            ]
        );
        assert!(warnings.is_empty());
        let levels: Levels = "index,manifest[linux/amd64]".parse().unwrap();
        let (args, _) = arguments(&Valid::from_draft(&set(), &levels), Tool::Buildx, true).unwrap();
        assert_eq!(
            args[3],
            "index,manifest[linux/amd64]:org.opencontainers.image.version=1.0"
        );
        assert_eq!(
            &args[4..],
            [
                "--label",
                "com.example.x=a b",
                "--label",
                "org.opencontainers.image.version=1.0"
            ]
        );
    }

    #[test]
    fn podman_has_no_levels_and_says_so() {
        let (args, warnings) = arguments(
            &Valid::from_draft(&set(), &Levels::manifest()),
            Tool::Podman,
            false,
        )
        .unwrap();
        assert_eq!(args[1], "com.example.x=a b");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].message.contains("`com.example.x`"),
            "{}",
            warnings[0].message
        );
        let mut one = crate::annotations::Annotations::default();
        one.insert(
            "com.example.x".into(),
            "v".into(),
            Some("index".parse().unwrap()),
        );
        let (_, warnings) = arguments(
            &Valid::from_draft(&one, &Levels::manifest()),
            Tool::Buildah,
            false,
        )
        .unwrap();
        assert!(
            warnings[0]
                .message
                .ends_with("1 annotation (`com.example.x`) goes to the image manifest only"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn colon_keys_are_refused_for_buildx() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example:x".into(), "v".into(), None);
        let errs = arguments(
            &Valid::from_draft(&a, &Levels::manifest()),
            Tool::Buildx,
            false,
        )
        .unwrap_err();
        assert_eq!(errs[0].code, "key-colon");
    }
}
