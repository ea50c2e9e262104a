//! Shell completion and man pages, checked by the real shells and by man: what a user gets
//! after `source <(oci-stamp completions bash)` is what these tests drive.

use std::fs;

use crate::harness::{have, Sandbox};

/// Completes `words` (the last one is being typed) with the bash script, as bash's
/// programmable completion calls it: COMP_WORDS, COMP_CWORD, and the function named by
/// `complete -p oci-stamp`. The candidates, one per line.
fn bash_complete(sb: &Sandbox, script: &str, words: &[&str]) -> Vec<String> {
    let file = sb.path().join("oci-stamp.bash");
    fs::write(&file, script).expect("write the script");
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let program = format!(
        r#"source '{file}'
spec=$(complete -p oci-stamp) || exit 3
fn=${{spec#*-F }}; fn=${{fn%% *}}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
prev=""; [ "$COMP_CWORD" -gt 0 ] && prev=${{COMP_WORDS[COMP_CWORD-1]}}
"$fn" oci-stamp "${{COMP_WORDS[COMP_CWORD]}}" "$prev"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        file = file.display(),
        words = quoted.join(" ")
    );
    let out = sb.tool("bash", &["--norc", "--noprofile", "-c", &program]);
    out.lines().map(str::to_string).collect()
}

fn script(sb: &Sandbox, shell: &str) -> String {
    let out = sb.stamp(["completions", shell]).run();
    out.ok();
    out.stdout.clone()
}

#[test]
fn bash_completes_subcommands_their_options_and_values() {
    let sb = Sandbox::new();
    let bash = script(&sb, "bash");
    let got = |words: &[&str]| bash_complete(&sb, &bash, words);
    assert!(got(&["oci-stamp", "co"]).contains(&"collect".to_string()));
    assert_eq!(got(&["oci-stamp", "collect", "--for"]), ["--format"]);
    let formats = got(&["oci-stamp", "collect", "--format", ""]);
    for f in [
        "text", "json", "env", "make", "github", "dotenv", "bake", "labels",
    ] {
        assert!(formats.contains(&f.to_string()), "{f} missing: {formats:?}");
    }
    assert_eq!(got(&["oci-stamp", "annotate", "--dry"]), ["--dry-run"]);
    assert_eq!(
        got(&["oci-stamp", "flags", "--tool", "pod"]),
        ["podman"],
        "values of a subcommand's option"
    );
    // The script as clap_complete writes it names the subcommand states two ways for a
    // hyphenated binary: the relabelling is what makes the lines above pass.
    assert!(!bash.contains("oci__subcmd__stamp"), "unfixed script");
}

#[test]
fn fish_completes_subcommand_options_and_values() {
    if !have("fish") {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.path().join("oci-stamp.fish");
    fs::write(&file, script(&sb, "fish")).expect("write the script");
    let complete = |line: &str| {
        sb.tool(
            "fish",
            &[
                "--no-config",
                "-c",
                &format!("source '{}'; complete -C '{line}'", file.display()),
            ],
        )
    };
    let options = complete("oci-stamp collect --for");
    assert!(options.starts_with("--format\t"), "{options}");
    let values = complete("oci-stamp collect --format ");
    for f in ["json", "make", "github", "dotenv"] {
        assert!(
            values.lines().any(|l| l.starts_with(&format!("{f}\t"))),
            "{values}"
        );
    }
    // Descriptions reach fish as written (a `$VAR` in one would be expanded by fish).
    assert!(values.contains("GITHUB_OUTPUT"), "{values}");
}

#[test]
fn zsh_reads_its_completion_function() {
    if !have("zsh") {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.path().join("_oci-stamp");
    let zsh = script(&sb, "zsh");
    fs::write(&file, &zsh).expect("write the script");
    // zsh parses it, and loading it (as compinit's autoload would) defines the function.
    sb.tool("zsh", &["-n", &file.display().to_string()]);
    let defined = sb.tool(
        "zsh",
        &[
            "-f",
            "-c",
            &format!(
                "autoload -Uz compinit && compinit -u -D; source '{}'; whence -w _oci-stamp",
                file.display()
            ),
        ],
    );
    assert!(defined.contains("function"), "{defined}");
    // The collect state offers --format and its values.
    assert!(
        zsh.contains("'--format=[Output format]:FORMAT:((text"),
        "{zsh}"
    );
}

#[test]
fn man_writes_a_page_per_command_that_man_reads() {
    let sb = Sandbox::new();
    let dir = sb.path().join("man");
    sb.stamp(["man", "--out", &dir.display().to_string()])
        .run()
        .ok()
        .quiet();
    let root = fs::read_to_string(dir.join("oci-stamp.1")).expect("oci-stamp.1");
    for command in ["collect", "flags", "exec", "annotate", "validate"] {
        let page = dir.join(format!("oci-stamp-{command}.1"));
        let text = fs::read_to_string(&page).unwrap_or_else(|_| panic!("{page:?} missing"));
        // The root page names the command's page; the page lists the options with their
        // variables and ends with the exit codes.
        assert!(
            root.contains(&format!("oci\\-stamp\\-{command}(1)")),
            "{command}"
        );
        assert!(
            text.contains("Exit status: 0 success, 1 validation"),
            "{command}"
        );
        if command != "validate" {
            assert!(text.contains("OCI_STAMP_REPO"), "{command}: no variables");
        }
    }
    if have("man") {
        let shown = sb.tool(
            "man",
            &["-l", &dir.join("oci-stamp-collect.1").display().to_string()],
        );
        assert!(shown.contains("--format"), "{shown}");
    }
}
