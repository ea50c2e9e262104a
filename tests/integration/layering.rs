//! The architecture, held: which modules may name which (as go-containerregistry's
//! `depcheck_test.go` holds its packages). Sources → the model → renderers and targets; the
//! face (run, config, commands, cli, output) above them all; neutral helpers below.
//!
//! A module "names" another when its source holds `crate::NAME` (imports, paths, doc links
//! alike): the check is on the text, so a new file is held as soon as it exists.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The crate's top-level modules, by layer.
const FACE: &[&str] = &["run", "config", "commands", "cli", "output", "fuzzing"];
const NEUTRAL: &[&str] = &[
    "env",
    "error",
    "escape",
    "json_edit",
    "atomic",
    "stdin",
    "threads",
];

/// What each layer may not name.
fn forbidden(module: &str) -> Vec<&'static str> {
    let mut above: Vec<&str> = FACE.to_vec();
    match module {
        "annotations" => above.extend(["collect", "emit", "targets"]),
        "collect" => above.extend(["emit", "targets"]),
        "emit" => above.extend(["collect", "targets"]),
        "targets" => above.extend(["collect", "emit"]),
        m if NEUTRAL.contains(&m) => {
            above.extend(["annotations", "collect", "emit", "targets"]);
        }
        _ => return Vec::new(),
    }
    above
}

/// Every `crate::NAME` a source text names, outside comments.
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for part in code.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                fs::read_to_string(&path).expect("read source"),
            ));
        }
    }
}

#[test]
fn no_layer_names_one_above_it_or_beside_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "found only {} sources", files.len());
    let mut broken = Vec::new();
    for (path, text) in &files {
        let rel = Path::new(path).strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs"))
            .expect("a module");
        for name in named(text) {
            if forbidden(top).contains(&name.as_str()) {
                broken.push(format!("{}: names crate::{name}", rel.display()));
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn the_check_sees_what_it_must() {
    // The reader finds names in imports and paths, and not in comments.
    let text = "use crate::collect::Env;\nlet x = crate::targets::y(); // crate::emit\n";
    let found = named(text);
    assert!(found.contains("collect") && found.contains("targets"));
    assert!(!found.contains("emit"));
    assert!(forbidden("emit").contains(&"collect"));
    assert!(forbidden("annotations").contains(&"output"));
    assert!(forbidden("env").contains(&"annotations"));
    assert!(forbidden("commands").is_empty());
}
