//! The fuzz targets' bodies: each takes arbitrary bytes, drives one of oci-stamp's parsers,
//! validators, writers or renderers through `oci_stamp::fuzzing`, and asserts what must hold
//! for every input — no panic, and the properties named on each target.
//!
//! The same file is compiled twice: as the library of the cargo-fuzz crate in `fuzz/`
//! (libFuzzer, nightly, by hand), and as a module of the integration tests, which replay the
//! corpus and the kept crashes and run a seeded mutation loop on stable in every `cargo test`.

use std::collections::BTreeMap;

use oci_stamp::fuzzing as f;
use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

#[path = "../../tests/integration/consumers.rs"]
pub mod consumers;
use consumers::{hcl_template_literal, read_github_output};

/// A target: bytes in, a panic when a property does not hold.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("validate", validate),
    ("levels", levels),
    ("created", created),
    ("license", license),
    ("manifest", manifest),
    ("kubernetes_yaml", kubernetes_yaml),
    ("render", render),
    ("git_index", git_index),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Whether JavaScript's `trim` would shorten `v` at its end (its WhiteSpace and
/// LineTerminator: tab, LF, VT, FF, CR, space, NBSP, U+FEFF, the other `Zs`, U+2028/9).
fn trimmed_by_js(v: &str) -> bool {
    v.ends_with(|c: char| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | '\u{feff}' | '\u{2028}' | '\u{2029}'
        ) || (c != '\u{85}' && c.is_whitespace() && !c.is_control())
    })
}

/// A list line as csv-parse reads it back (tests/integration/list_reader.rs checks the real
/// one): as it is, or, holding a quote or a line break, one quoted field, quotes doubled.
fn list_line(item: &str) -> String {
    if item.contains(['"', '\n', '\r']) {
        format!("\"{}\"\n", item.replace('"', "\"\""))
    } else {
        format!("{item}\n")
    }
}

/// `one line per problem`: a rendered finding never spans lines.
fn assert_one_line(what: &str, line: &str) {
    assert!(!line.contains(['\n', '\r']), "{what} spans lines: {line:?}");
}

/// A credential in `value` (a URL's password, or its user name when it has no password)
/// that occurs exactly once in it and nowhere in `elsewhere`, so that finding it in an
/// output can only mean it leaked.
fn secret_of(value: &str, elsewhere: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let secret = url
        .password()
        .map(str::to_string)
        .or_else(|| Some(url.username().to_string()))?;
    // What every finding about such a URL says anyway (`user:password@`, …).
    let boilerplate = f::validate_pair(elsewhere, "https://user:password@example.com/?token=x");
    let after_user_info = &url[url::Position::BeforeHost..];
    (secret.len() >= 4
        && value.matches(secret.as_str()).count() == 1
        && !after_user_info.contains(secret.as_str())
        && !elsewhere.contains(secret.as_str())
        && !boilerplate.iter().any(|l| l.contains(secret.as_str())))
    .then_some(secret)
}

/// Key and value validation (`KEY=VALUE`): every finding is one line, and a credential in a
/// URL value never appears in a finding or in the redacted URL.
pub fn validate(data: &[u8]) {
    let s = text(data);
    let (key, value) = s.split_once('=').unwrap_or((&s, ""));
    let found = f::validate_pair(key, value);
    for line in &found {
        assert_one_line("a finding", line);
    }
    // Every predefined key that takes a URL, whatever the input's own key.
    for url_key in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.url",
        "org.opencontainers.image.documentation",
    ] {
        let found = f::validate_pair(url_key, value);
        let redacted = f::redact_url(value);
        if let Some(secret) = secret_of(value, url_key) {
            for line in &found {
                assert!(
                    !line.contains(&secret),
                    "a finding shows the credential {secret:?} of {value:?}: {line}"
                );
            }
            assert!(
                !redacted.contains(&secret),
                "redact_url({value:?}) = {redacted:?} keeps {secret:?}"
            );
        }
    }
}

/// The level grammar and `[LEVELS:]KEY=VALUE`: what parses shows itself in the canonical
/// form, which parses back to itself; the value is everything after the first `=`.
pub fn levels(data: &[u8]) {
    let s = text(data);
    if let Ok(shown) = f::parse_levels(&s) {
        assert_buildx_takes(&s, &shown);
        assert_eq!(
            f::parse_levels(&shown),
            Ok(shown.clone()),
            "{s:?} shows as {shown:?}, which does not parse back the same"
        );
    }
    if let Ok((levels, key, value)) = f::parse_annotation_arg(&s) {
        let after = s.split_once('=').map(|(_, v)| v);
        assert_eq!(Some(value.as_str()), after, "the value of {s:?}");
        assert!(!key.contains('='), "key {key:?} of {s:?} holds `=`");
        if let Some(levels) = levels {
            assert_eq!(f::parse_levels(&levels), Ok(levels.clone()), "{s:?}");
        }
    }
}

/// What `docker buildx build --annotation` takes as levels (buildx `util/buildflags`): each
/// `type[platform]` with the platform in `[A-Za-z0-9_/-]+` of two or three parts, and no
/// platform on `index` or `index-descriptor` (buildx would drop it).
fn assert_buildx_takes(input: &str, shown: &str) {
    for level in shown.split(',') {
        let Some((kind, rest)) = level.split_once('[') else {
            continue;
        };
        let platform = rest.strip_suffix(']').unwrap_or(rest);
        assert!(
            kind.starts_with("manifest"),
            "{input:?}: a platform on `{kind}`"
        );
        assert!(
            platform
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_/-".contains(&b)),
            "{input:?}: buildx refuses the platform {platform:?}"
        );
        let parts: Vec<&str> = platform.split('/').collect();
        assert!(
            (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty()),
            "{input:?}: platform {platform:?} is not os/arch[/variant]"
        );
    }
}

/// `created`: whatever `--created` accepts becomes a value that passes the strict RFC 3339
/// check `created` annotations are held to, and so does every `@EPOCH`/`SOURCE_DATE_EPOCH`
/// accepted; a value that passes the check is accepted by `--created`.
pub fn created(data: &[u8]) {
    let s = text(data);
    let strict = f::check_rfc3339(&s);
    match f::parse_created(&s) {
        Ok(t) if !matches!(t.as_str(), "auto" | "now" | "commit") => {
            assert_eq!(
                f::check_rfc3339(&t),
                Ok(()),
                "--created {s:?} gives {t:?}, which `created` refuses"
            );
            assert!(t.len() == 20 && t.ends_with('Z'), "{s:?} gives {t:?}");
        }
        Ok(_) => {}
        Err(e) => {
            assert!(
                strict.is_err() || s.starts_with('@'),
                "{s:?} passes the `created` check but --created refuses it: {e}"
            );
        }
    }
    if let Some(epoch) = s.strip_prefix('@') {
        if let Ok(t) = f::parse_epoch(epoch) {
            assert_eq!(f::check_rfc3339(&t), Ok(()), "@{epoch} gives {t:?}");
        }
    }
}

/// SPDX handling: no panic on any text; a canonical form offered for a lenient declaration
/// is itself a strict expression; a refusal is one line.
pub fn license(data: &[u8]) {
    let s = text(data);
    if let Err(line) = f::check_license(&s) {
        assert_one_line("a license refusal", &line);
    }
    if let Ok((canon, _)) = f::canonicalise_license(&s) {
        assert_eq!(
            f::check_license(&canon),
            Ok(()),
            "{s:?} is canonicalised to {canon:?}, which is not strict"
        );
    }
}

/// What the JSON targets stamp: a predefined key, and a value every JSON writer must escape.
const JSON_PAIRS: &[(&str, &str)] = &[
    (
        "org.opencontainers.image.revision",
        "0123456789abcdef0123456789abcdef01234567",
    ),
    (
        "com.example.fuzz",
        "a \"quoted\" \\ value\n\t\u{1F980} </script> \u{2028}",
    ),
];

/// Levels a manifest or index document can be stamped at.
const JSON_LEVELS: &[&str] = &[
    "manifest",
    "index",
    "manifest-descriptor",
    "manifest-descriptor[linux/amd64]",
    "index,manifest-descriptor",
];

/// The annotations of a JSON object: absent and `null` are empty.
fn json_annotations(v: &Value) -> Option<BTreeMap<String, Value>> {
    match v.get("annotations") {
        None | Some(Value::Null) => Some(BTreeMap::new()),
        Some(Value::Object(m)) => Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Some(_) => None,
    }
}

/// A document with `annotations` removed from the root and from every `manifests` entry, as
/// text (key order counts).
fn without_annotations(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("annotations");
        if let Some(Value::Array(items)) = o.get_mut("manifests") {
            for item in items {
                if let Some(o) = item.as_object_mut() {
                    o.remove("annotations");
                }
            }
        }
    }
    serde_json::to_string(&v).unwrap_or_default()
}

/// Manifest and index rewriting: arbitrary text in, never a panic. A document that is
/// rewritten parses as JSON, differs from the original only in `annotations`, holds the new
/// pairs and every annotation it had, and a second run changes nothing.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for levels in JSON_LEVELS {
        let Ok((new, refusals)) = f::annotate_json(text, JSON_PAIRS, levels) else {
            continue;
        };
        for line in &refusals {
            assert_one_line("a refusal", line);
        }
        let before: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("accepted as JSON, but serde_json says {e}: {text:?}"));
        let Some(new) = new else {
            continue;
        };
        assert!(
            refusals.is_empty(),
            "rewritten despite refusals {refusals:?}"
        );
        let after: Value = serde_json::from_str(&new).unwrap_or_else(|e| {
            panic!("the rewritten document is not JSON ({e}):\n{text}\n---\n{new}")
        });
        assert_eq!(
            without_annotations(&before),
            without_annotations(&after),
            "more than `annotations` changed at `{levels}`:\n{text}\n---\n{new}"
        );
        let mut places = vec![(&before, &after)];
        if let (Some(Value::Array(b)), Some(Value::Array(a))) =
            (before.get("manifests"), after.get("manifests"))
        {
            places.extend(b.iter().zip(a.iter()));
        }
        for (b, a) in places {
            let (Some(old), Some(new_map)) = (json_annotations(b), json_annotations(a)) else {
                continue;
            };
            for (k, v) in &old {
                if JSON_PAIRS.iter().all(|(pk, _)| pk != k) {
                    assert_eq!(new_map.get(k), Some(v), "annotation `{k}` lost:\n{new}");
                }
            }
            for (k, v) in &new_map {
                match JSON_PAIRS.iter().find(|(pk, _)| pk == k) {
                    Some((_, pv)) if old.get(k) != Some(v) => {
                        assert_eq!(v.as_str(), Some(*pv), "`{k}` written wrong:\n{new}");
                    }
                    _ => {}
                }
            }
        }
        if levels.split(',').any(|l| l == "manifest" || l == "index") {
            let root = json_annotations(&after).unwrap_or_default();
            for (k, v) in JSON_PAIRS {
                assert_eq!(root.get(*k).and_then(Value::as_str), Some(*v), "{new}");
            }
        }
        match f::annotate_json(&new, JSON_PAIRS, levels) {
            Ok((None, r)) if r.is_empty() => {}
            other => panic!("a second run at `{levels}` is not a no-op: {other:?}\n{new}"),
        }
    }
}

/// What the YAML target stamps: keys no input holds, one a YAML 1.1 reader would take for
/// a bool, and a value that needs quoting.
const YAML_PAIRS: &[(&str, &str)] = &[
    (
        "fuzz.oci-stamp.example/k",
        "v: \"q\" 'x' # not a comment\n- y",
    ),
    ("fuzz.oci-stamp.example/yes", "no"),
];

/// Lines that a stamp may add or rewrite: the annotations it adds, and the `metadata:` and
/// `annotations:` lines that hold them.
fn is_stamp_line(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("annotations:")
        || t.starts_with("metadata:")
        || YAML_PAIRS
            .iter()
            .any(|(k, _)| line.contains(k) || line.contains(&format!("'{k}'")))
}

/// The text read by a strict YAML 1.2 reader (`None`: not YAML). Alias-heavy texts are
/// left out: the reader copies what an alias names, so a few lines can expand without bound.
fn strict_yaml(text: &str) -> Option<Vec<Yaml>> {
    // YAML streams hold printable characters only (`c-printable`); the reader is lenient.
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}')
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}'
            || c >= '\u{10000}'
    };
    if text.matches('*').count() > 8 || !text.chars().all(printable) {
        return None;
    }
    // Where YAML readers disagree with each other (and yaml-edit with them), on what no
    // Kubernetes manifest holds: tags on keys (`!!x key:`, `!nam+e: key:`), and a document
    // that is a block scalar whose text starts at column 0 (`>-` then `a: b`).
    if text.contains('!')
        || text
            .lines()
            .any(|l| l.starts_with(['|', '>']) || l.starts_with("--- |") || l.starts_with("--- >"))
    {
        return None;
    }
    YamlLoader::load_from_str(text).ok()
}

/// How deep collections nest in a document.
fn depth(doc: &Yaml) -> usize {
    match doc {
        Yaml::Hash(h) => {
            1 + h
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        Yaml::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn key(s: &str) -> Yaml {
    Yaml::String(s.to_string())
}

/// Takes the stamp out of a document read back: the stamped keys from every
/// `metadata.annotations`, then an `annotations` or `metadata` left empty (or null). What
/// remains must be the document as it was.
fn unstamp(doc: &mut Yaml) {
    match doc {
        Yaml::Hash(h) => {
            let meta_key = key("metadata");
            if let Some(meta) = h.get_mut(&meta_key) {
                if let Yaml::Hash(m) = meta {
                    let ann_key = key("annotations");
                    if let Some(Yaml::Hash(a)) = m.get_mut(&ann_key) {
                        for (k, _) in YAML_PAIRS {
                            a.remove(&key(k));
                        }
                    }
                    if matches!(m.get(&ann_key), Some(Yaml::Null))
                        || matches!(m.get(&ann_key), Some(Yaml::Hash(a)) if a.is_empty())
                    {
                        m.remove(&ann_key);
                    }
                }
                if matches!(h.get(&meta_key), Some(Yaml::Null))
                    || matches!(h.get(&meta_key), Some(Yaml::Hash(m)) if m.is_empty())
                {
                    h.remove(&meta_key);
                }
            }
            for (_, v) in h.iter_mut() {
                unstamp(v);
            }
        }
        Yaml::Array(items) => items.iter_mut().for_each(unstamp),
        _ => {}
    }
}

/// The Kubernetes objects of a document as oci-stamp sees them (a `…List`'s items instead
/// of the list), where `apiVersion` and `kind` are plain strings.
fn objects<'a>(doc: &'a Yaml, out: &mut Vec<&'a Yaml>) {
    let (Some(Yaml::String(_)), Some(Yaml::String(kind))) = (
        doc.as_hash().and_then(|h| h.get(&key("apiVersion"))),
        doc.as_hash().and_then(|h| h.get(&key("kind"))),
    ) else {
        return;
    };
    if kind.ends_with("List") {
        if let Some(Yaml::Array(items)) = doc.as_hash().and_then(|h| h.get(&key("items"))) {
            for item in items {
                objects(item, out);
            }
        }
        return;
    }
    out.push(doc);
}

/// Kubernetes YAML rewriting: arbitrary text in, never a panic. When a strict YAML reader
/// reads the input, the rewritten text reads too, every object holds the stamped pairs,
/// everything else reads the same, a second run changes nothing, and — for plain block-style
/// YAML — every line other than the annotation entries and their `metadata:`/`annotations:`
/// lines is kept byte for byte, in order.
pub fn kubernetes_yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let strict = strict_yaml(text);
    for pod_template in [false, true] {
        let (new, changed, refusals) = match f::annotate_yaml(text, YAML_PAIRS, pod_template) {
            Ok(r) => r,
            Err(e) => {
                // The depth guard must not refuse YAML that is not deep.
                if let Some(docs) = &strict {
                    let depth = docs.iter().map(depth).max().unwrap_or(0);
                    assert!(
                        !(e.contains("nested deeper") && depth < 128),
                        "refused as too deep, yet {depth} deep: {e}\n{text}"
                    );
                }
                continue;
            }
        };
        for line in &refusals {
            assert_one_line("a refusal", line);
        }
        let _ = f::yaml_annotations(text);
        let Some(new) = new else {
            continue;
        };
        assert!(
            refusals.is_empty(),
            "rewritten despite refusals {refusals:?}"
        );
        assert!(
            !changed.is_empty(),
            "rewritten, yet no object changed:\n{new}"
        );
        // Text that is not YAML to a strict reader: no panic is all that is promised.
        let Some(mut before) = strict.clone() else {
            continue;
        };
        let mut after = YamlLoader::load_from_str(&new).unwrap_or_else(|e| {
            panic!("valid YAML in, invalid YAML out ({e}):\n{text}\n---\n{new}")
        });
        let mut stamped = Vec::new();
        after.iter().for_each(|d| objects(d, &mut stamped));
        for object in stamped {
            let ann = &object["metadata"]["annotations"];
            for (k, v) in YAML_PAIRS {
                assert_eq!(
                    ann[*k].as_str(),
                    Some(*v),
                    "an object lacks `{k}`:\n{text}\n---\n{new}"
                );
            }
        }
        before.iter_mut().for_each(unstamp);
        after.iter_mut().for_each(unstamp);
        assert_eq!(
            before, after,
            "more than the annotations changed:\n{text}\n---\n{new}"
        );
        match f::annotate_yaml(&new, YAML_PAIRS, pod_template) {
            Ok((None, c, r)) if c.is_empty() && r.is_empty() => {}
            other => panic!(
                "a second run is not a no-op (pod_template {pod_template}): {other:?}\n{text}\n---\n{new}"
            ),
        }
        let block_style = !text.contains([
            '{', '[', '\r', '\t', '&', '*', '|', '>', '"', '\'', '?', '!', '%',
        ]) && !text.contains("fuzz.oci-stamp");
        if block_style {
            let kept = |t: &str| -> Vec<String> {
                t.split('\n')
                    .filter(|l| !is_stamp_line(l))
                    .map(str::to_string)
                    .collect()
            };
            let (a, b) = (kept(text), kept(&new));
            assert_eq!(
                a, b,
                "lines other than the stamp changed:\n{text}\n---\n{new}"
            );
        }
    }
}

/// Keys for the rendered pairs: two predefined (they get GitHub outputs of their own), the
/// rest custom.
const RENDER_KEYS: &[&str] = &[
    "org.opencontainers.image.description",
    "org.opencontainers.image.title",
    "com.example.a",
    "com.example.b-c",
    "io.example.d",
];

/// Every output format's renderer: no panic; the JSON formats, the NUL-separated arguments,
/// the line lists, the table and the GitHub outputs give back every value exactly, or the
/// format refuses what it cannot hold.
pub fn render(data: &[u8]) {
    let s = text(data);
    let pairs: Vec<(&str, &str)> = RENDER_KEYS
        .iter()
        .copied()
        .zip(s.split('\0'))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let want: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    let levels = if data.len().is_multiple_of(3) {
        "manifest"
    } else {
        "index,manifest[linux/arm64/v8]"
    };
    let argv: Vec<String> = want
        .iter()
        .flat_map(|(k, v)| ["--annotation".to_string(), format!("{levels}:{k}={v}")])
        .chain(
            want.iter()
                .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")]),
        )
        .collect();
    let one_line = want.values().all(|v| !v.contains(['\n', '\r']));
    for format in f::FORMATS {
        let rendered = f::render(format, &pairs, levels);
        if let Err(refusals) = &rendered {
            for line in refusals {
                assert_one_line("a refusal", line);
            }
        }
        let out = match rendered {
            Ok(bytes) => String::from_utf8(bytes).expect("renderers write UTF-8"),
            Err(refusals) => {
                let may_refuse = match *format {
                    // build-push-action's list reader trims every item (JavaScript's trim).
                    "labels" | "annotations" => want.values().any(|v| trimmed_by_js(v)),
                    "dotenv" => !one_line || want.values().any(|v| v.trim() != v),
                    _ => false,
                };
                assert!(may_refuse, "{format} refused {want:?}: {refusals:?}");
                continue;
            }
        };
        match *format {
            "json" => {
                let got: BTreeMap<String, String> = serde_json::from_str(&out).expect("json");
                assert_eq!(got, want);
            }
            "oras" => {
                let got: BTreeMap<String, BTreeMap<String, String>> =
                    serde_json::from_str(&out).expect("oras json");
                assert_eq!(got.get("$manifest"), Some(&want));
            }
            "bake" => {
                let v: Value = serde_json::from_str(&out).expect("bake json");
                let t = &v["target"]["oci-stamp"];
                // bake reads each JSON string as an HCL template: read them back that way
                let labels: BTreeMap<String, String> =
                    serde_json::from_value::<BTreeMap<String, String>>(t["labels"].clone())
                        .expect("labels")
                        .iter()
                        .map(|(k, v)| (hcl_template_literal(k), hcl_template_literal(v)))
                        .collect();
                assert_eq!(labels, want);
                let list: Vec<String> =
                    serde_json::from_value::<Vec<String>>(t["annotations"].clone())
                        .expect("annotations")
                        .iter()
                        .map(|s| hcl_template_literal(s))
                        .collect();
                let expected: Vec<String> = want
                    .iter()
                    .map(|(k, v)| format!("{levels}:{k}={v}"))
                    .collect();
                assert_eq!(list, expected);
            }
            "flags-null" => {
                let items: Vec<&str> = match out.strip_suffix('\0') {
                    Some(body) => body.split('\0').collect(),
                    None => Vec::new(),
                };
                assert_eq!(items, argv, "{out:?}");
            }
            "flags-json" => {
                let got: Vec<String> = serde_json::from_str(&out).expect("flags json");
                assert_eq!(got, argv);
            }
            "labels" => {
                let expected: String = want
                    .iter()
                    .map(|(k, v)| list_line(&format!("{k}={v}")))
                    .collect();
                assert_eq!(out, expected);
            }
            "annotations" => {
                let expected: String = want
                    .iter()
                    .map(|(k, v)| list_line(&format!("{levels}:{k}={v}")))
                    .collect();
                assert_eq!(out, expected);
            }
            "text" => {
                assert_eq!(out.matches('\n').count(), want.len(), "{out:?}");
            }
            "dotenv" => {
                assert_eq!(out.matches('\n').count(), want.len(), "{out:?}");
                for line in out.lines() {
                    let (_, value) = line.split_once('=').expect("NAME=VALUE");
                    assert!(want.values().any(|v| v == value), "{line:?} of {out:?}");
                }
            }
            "github" => {
                let (outputs, _) = read_github_output(&out);
                let json: BTreeMap<String, String> =
                    serde_json::from_str(&outputs["json"]).expect("the json output");
                assert_eq!(json, want);
                for (k, v) in &want {
                    if let Some(short) = k.strip_prefix("org.opencontainers.image.") {
                        assert_eq!(outputs.get(short), Some(v), "output {short}");
                    }
                }
            }
            _ => {}
        }
    }
}

/// The git index reader of the dirty check: no panic and no allocation beyond what the
/// input can hold; what it reads is consistent (a cached root tree is a whole object name,
/// every entry has a path), and a truncated file is never read as a whole one.
pub fn git_index(data: &[u8]) {
    let Some((paths, root)) = f::parse_git_index(data) else {
        return;
    };
    assert!(
        paths.len() <= data.len() / 40,
        "{} entries from {} bytes",
        paths.len(),
        data.len()
    );
    assert!(paths.iter().all(|p| !p.contains(&0)), "a path holds NUL");
    if let Some(root) = root {
        assert_eq!(root.len(), 20);
    }
    if data.len() > 20 {
        let shorter = &data[..data.len() - 1];
        if let Some((fewer, _)) = f::parse_git_index(shorter) {
            // Only possible when the cut fell in the checksum; the entries are the same.
            assert_eq!(fewer.len(), paths.len());
        }
    }
}
