//! Kubernetes manifests: the annotations go into `metadata.annotations` of every object in a
//! YAML stream (and of the items of `…List` kinds), optionally of workloads' pod templates.
//!
//! Editing is lossless (yaml-edit keeps comments, blank lines, key order, quoting, anchors,
//! block scalars, separators, CRLF and a missing final newline); only the annotation entries
//! change, and each value is written double-quoted so `y`, `1_000`, `null` or a date stay
//! strings. The Kubernetes key rules and the 256 KiB limit are checked per object before
//! anything is written.

use yaml_edit::{Mapping, Scalar, ScalarValue, TaggedNode, YamlFile, YamlNode};

use super::oci::{self, Stamp};
use super::{Change, Outcome};
use crate::annotations::{kubernetes, Diagnostic};
use crate::error::Error;
use std::path::{Path, PathBuf};

/// Which objects, and which parts of them, get the annotations.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeOptions {
    /// Also stamp `spec.template.metadata` (and CronJob's job template's pod template).
    pub(crate) pod_template: bool,
    /// Only these kinds (case-insensitive); all when empty.
    pub(crate) kinds: Vec<String>,
}

/// Workload kinds and the path to their pod template's metadata.
const POD_TEMPLATES: &[(&str, &[&str])] = &[
    ("Deployment", &["spec", "template"]),
    ("StatefulSet", &["spec", "template"]),
    ("DaemonSet", &["spec", "template"]),
    ("ReplicaSet", &["spec", "template"]),
    ("Job", &["spec", "template"]),
    ("ReplicationController", &["spec", "template"]),
    ("CronJob", &["spec", "jobTemplate", "spec", "template"]),
];

/// The result of stamping one YAML text.
#[derive(Debug)]
pub(crate) struct KubeResult {
    /// The new text, when anything changed.
    pub(crate) text: Option<String>,
    /// `kind/name` of every object that changed.
    pub(crate) changed: Vec<String>,
    pub(crate) refusals: Vec<Diagnostic>,
    /// Objects seen (to tell "no Kubernetes object here" from "already stamped").
    pub(crate) objects: usize,
    /// The kinds of the objects seen (for `--kind`, which must name one of them).
    pub(crate) kinds: Vec<String>,
    /// The `annotations` mappings added, to be indented as the file is (yaml-edit indents
    /// a new mapping by two spaces).
    added: Vec<Mapping>,
}

fn string_of(m: &Mapping, key: &str) -> Option<String> {
    m.get(key)?.as_scalar().map(|s| s.as_string())
}

/// The annotations already on a metadata mapping.
fn existing(meta: &Mapping) -> Vec<(String, String)> {
    let Some(ann) = meta.get_mapping("annotations") else {
        return Vec::new();
    };
    ann.iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_scalar()?.as_string(),
                v.as_scalar().map(|s| s.as_string()).unwrap_or_default(),
            ))
        })
        .collect()
}

/// The entries of `meta.annotations` whose value is a string to every YAML reader: quoted or
/// a block scalar. kubectl reads YAML 1.1, where a plain `y`, `no` or `1_000` is not a
/// string, so an equal plain value still has to be rewritten.
pub(super) fn settled(meta: &Mapping) -> Vec<(String, String)> {
    let Some(ann) = meta.get_mapping("annotations") else {
        return Vec::new();
    };
    ann.iter()
        .filter_map(|(k, v)| {
            let v = v.as_scalar().filter(|s| s.is_quoted() || s.is_block())?;
            Some((k.as_scalar()?.as_string(), v.as_string()))
        })
        .collect()
}

/// A key as written: quoted when a YAML 1.1 reader (kubectl) would take it plain for a bool,
/// null or number (`y`, `off`, `1_000`, `0x1F`), which yaml-edit, going by YAML 1.2, writes
/// plain. Double quotes, as a document written as JSON (which kubectl reads as JSON) needs.
pub(super) fn key_scalar(key: &str) -> ScalarValue {
    const WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    if WORDS.contains(&key.to_ascii_lowercase().as_str())
        || key.starts_with(|c: char| c.is_ascii_digit())
    {
        ScalarValue::double_quoted(key)
    } else {
        ScalarValue::string(key)
    }
}

/// `value` as a double-quoted scalar that YAML 1.1, YAML 1.2 and JSON all read back as the
/// same string, with text as it is: `"`, `\` and the characters none of them may hold raw
/// (control characters, U+2028/U+2029, which YAML 1.1 takes for line breaks, a BOM,
/// U+FFFE/U+FFFF) are escaped as JSON escapes, everything else, non-ASCII text included, is
/// written as UTF-8. (yaml-edit escapes all of non-ASCII, `\xE9` and `\U0001F680` among
/// them, which no JSON reader takes.)
fn double_quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The scalar node for `value` written by [`double_quoted`], to be copied into the tree as
/// it is.
pub(super) fn value_scalar(value: &str) -> Option<Scalar> {
    let file = YamlFile::parse(&format!("v: {}\n", double_quoted(value))).tree();
    let node = file.documents().next()?.as_mapping()?.get("v")?;
    let scalar = node.as_scalar()?.clone();
    (scalar.as_string() == value).then_some(scalar)
}

/// Sets `pairs` in `meta.annotations`; returns whether anything changed, or the refusals.
fn stamp_metadata(
    meta: &Mapping,
    pairs: &[(&str, &str)],
    object: &str,
    added: &mut Vec<Mapping>,
) -> Result<bool, Vec<Diagnostic>> {
    let have = existing(meta);
    let mut refusals: Vec<Diagnostic> = pairs
        .iter()
        .filter_map(|(k, _)| kubernetes::check_key(k))
        .map(|d| d.at(object))
        .collect();
    let mut merged: Vec<(String, String)> = have.clone();
    for (k, v) in pairs {
        match merged.iter_mut().find(|(hk, _)| hk == k) {
            Some(entry) => entry.1 = (*v).to_string(),
            None => merged.push(((*k).to_string(), (*v).to_string())),
        }
    }
    let size = kubernetes::total_size(merged.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if size > kubernetes::TOTAL_LIMIT {
        refusals.push(
            Diagnostic::error(
                "kubernetes-size",
                "",
                format!("{object}: its annotations would total {size} bytes, over the Kubernetes limit of {}", kubernetes::TOTAL_LIMIT),
            )
            .hint("shorten or drop large values, or remove large existing annotations"),
        );
    }
    if let Some(ann) = meta.get_mapping("annotations") {
        if let Some(dup) = duplicate_key(&ann, None) {
            refusals.push(duplicate_refusal(object, "metadata.annotations", &dup));
        }
        for (k, _) in pairs.iter().filter(|(k, _)| anchored(&ann, k)) {
            refusals.push(
                Diagnostic::error(
                    "yaml-alias",
                    "",
                    format!("{object}: `metadata.annotations` `{}` carries a YAML anchor; rewriting it would change what its aliases elsewhere in the document mean", k.escape_debug()),
                )
                .hint("expand the aliases (`yq 'explode(.)'`) or drop the anchor, then annotate"),
            );
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let settled = settled(meta);
    let todo: Vec<&(&str, &str)> = pairs
        .iter()
        .filter(|(k, v)| !settled.iter().any(|(hk, hv)| hk == k && hv == v))
        .collect();
    if todo.is_empty() {
        return Ok(false);
    }
    let ann = match meta.get_mapping("annotations") {
        Some(a) => a,
        None => {
            meta.set("annotations", Mapping::new());
            let ann = meta.get_mapping("annotations").ok_or_else(|| {
                vec![Diagnostic::error(
                    "yaml-edit",
                    "",
                    format!("{object}: could not add metadata.annotations"),
                )]
            })?;
            added.push(ann.clone());
            ann
        }
    };
    for (k, v) in todo {
        match value_scalar(v) {
            Some(scalar) => ann.set(key_scalar(k), scalar),
            None => ann.set(key_scalar(k), ScalarValue::double_quoted(*v)),
        }
    }
    Ok(true)
}

fn walk_path(m: &Mapping, path: &[&str]) -> Option<Mapping> {
    let mut cur = m.clone();
    for key in path {
        cur = cur.get_mapping(*key)?;
    }
    Some(cur)
}

/// The kind of a Kubernetes object (a mapping with `apiVersion` and `kind`). A `…List` is
/// handed item by item to `each_item` and gives `None`, as does anything that is not an
/// object.
fn object_kind(obj: &Mapping, each_item: &mut dyn FnMut(&Mapping)) -> Option<String> {
    let (Some(_), Some(kind)) = (string_of(obj, "apiVersion"), string_of(obj, "kind")) else {
        return None;
    };
    if kind.ends_with("List") {
        if let Some(items) = obj.get_sequence("items") {
            for item in items.values() {
                if let Some(m) = item.as_mapping() {
                    each_item(m);
                }
            }
        }
        return None;
    }
    Some(kind)
}

/// Why the mapping under `key` cannot be edited without changing more than it: it is a
/// YAML alias (replacing it would drop what it stood for), not a mapping (nor null), or it
/// carries an anchor (aliases elsewhere would change with it).
fn shared_mapping(map: &Mapping, key: &str) -> Option<(&'static str, String)> {
    let entry = map.find_entry_by_key(key)?;
    let value = entry.value_node()?;
    if value.is_alias() {
        return Some(("yaml-alias", format!("`{key}` is a YAML alias")));
    }
    if let Some(scalar) = value.as_scalar() {
        let text = scalar.as_string();
        if !matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
            let why = format!("`{key}` is not a mapping but `{}`", text.escape_debug());
            return Some(("not-a-mapping", why));
        }
    } else if !value.is_mapping() && value.as_tagged().and_then(|t| t.as_mapping()).is_none() {
        return Some(("not-a-mapping", format!("`{key}` is not a mapping")));
    }
    // The properties (tag, anchor) sit between the key and the value, or, for a tagged
    // value, open the value's first line.
    let text = entry.to_string();
    let start = entry.byte_range().start;
    let key_end = entry.key_node()?.byte_range().end.checked_sub(start)? as usize;
    let value_start = value.byte_range().start.checked_sub(start)? as usize;
    let mut properties = text.get(key_end..value_start)?.to_string();
    if value.is_tagged() {
        properties.push_str(text.get(value_start..)?.lines().next().unwrap_or(""));
    }
    let anchored = properties
        .lines()
        .any(|l| l.split(" #").next().unwrap_or("").contains('&'));
    anchored.then(|| ("yaml-alias", format!("`{key}` carries a YAML anchor")))
}

/// Whether the entry under `key` (its key or its value) carries a YAML anchor (`key: &name
/// value`): aliases elsewhere (`*name`) mean what it holds, so rewriting it would change
/// them too. The entry's own tokens, so an `&` in a comment or in quoted text is none.
fn anchored(map: &Mapping, key: &str) -> bool {
    map.find_entry_by_key(key).is_some_and(|entry| {
        yaml_edit::lex(&entry.to_string())
            .iter()
            .any(|(kind, _)| *kind == yaml_edit::SyntaxKind::ANCHOR)
    })
}

/// A refusal when `metadata` or `metadata.annotations` of `obj` is something other than a
/// mapping of its own: shared through YAML anchors and aliases, or a scalar or sequence. Or
/// when `metadata` merges another mapping (`<<:`): an `annotations` written beside the merge
/// key would hide the merged one's, dropping its annotations.
fn refuse_shared(obj: &Mapping, object: &str) -> Option<Diagnostic> {
    let merges = |m: &Mapping| {
        m.keys().any(|k| {
            k.as_scalar()
                .is_some_and(|s| !s.is_quoted() && s.as_string() == "<<")
        })
    };
    let (code, why) = shared_mapping(obj, "metadata")
        .or_else(|| {
            obj.get_mapping("metadata").filter(|m| merges(m)).map(|_| {
                (
                    "yaml-alias",
                    "`metadata` merges a mapping (`<<:`)".to_string(),
                )
            })
        })
        .or_else(|| {
            obj.get_mapping("metadata")
                .and_then(|m| shared_mapping(&m, "annotations"))
                .map(|(code, w)| (code, format!("`metadata.{}", &w[1..])))
        })?;
    Some(
        Diagnostic::error(
            code,
            "",
            format!("{object}: {why}; stamping it would change more than the annotations"),
        )
        .hint("make it a plain mapping (expand aliases with `yq 'explode(.)'`), then annotate"),
    )
}

/// The first key of `map` written more than once (among `keys`, or any): YAML readers
/// disagree on such a mapping (yaml-edit finds the first, kubectl keeps the last, strict
/// readers refuse it), so a stamp written into it may not be where Kubernetes looks.
fn duplicate_key(map: &Mapping, keys: Option<&[&str]>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for k in map.keys() {
        let Some(k) = k.as_scalar().map(|s| s.as_string()) else {
            continue;
        };
        if keys.is_some_and(|keys| !keys.contains(&k.as_str())) {
            continue;
        }
        if seen.contains(&k) {
            return Some(k);
        }
        seen.push(k);
    }
    None
}

fn duplicate_refusal(object: &str, at: &str, key: &str) -> Diagnostic {
    let place = if at.is_empty() {
        "the object".to_string()
    } else {
        format!("`{at}`")
    };
    Diagnostic::error(
        "duplicate-key",
        "",
        format!(
            "{object}: {place} holds the key `{}` more than once; YAML readers disagree on which one counts (kubectl reads the last), so a stamp might not be where Kubernetes looks",
            key.escape_debug()
        ),
    )
    .hint("keep one of them, then annotate")
}

/// A duplicate key on the path to the annotations that would be written (`apiVersion`,
/// `kind`, `metadata`, `items`; `metadata.annotations`; with `--pod-template` the keys down
/// to the pod template's annotations), or inside `metadata.annotations`.
fn duplicate_on_path(
    obj: &Mapping,
    kind: Option<&str>,
    opts: &KubeOptions,
) -> Option<(String, String)> {
    if let Some(k) = duplicate_key(obj, Some(&["apiVersion", "kind", "metadata", "items"])) {
        return Some((String::new(), k));
    }
    let meta_dup = |meta: &Mapping, at: &str| {
        duplicate_key(meta, Some(&["annotations", "name", "generateName"]))
            .map(|k| (at.to_string(), k))
            .or_else(|| {
                let ann = meta.get_mapping("annotations")?;
                duplicate_key(&ann, None).map(|k| (format!("{at}.annotations"), k))
            })
    };
    if let Some(found) = obj
        .get_mapping("metadata")
        .and_then(|m| meta_dup(&m, "metadata"))
    {
        return Some(found);
    }
    let (_, path) = POD_TEMPLATES
        .iter()
        .find(|(k, _)| opts.pod_template && Some(*k) == kind)?;
    let mut cur = obj.clone();
    let mut at = String::new();
    for key in path.iter().copied() {
        if let Some(k) = duplicate_key(&cur, Some(&[key])) {
            return Some((at, k));
        }
        cur = cur.get_mapping(key)?;
        at = if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        };
    }
    if let Some(k) = duplicate_key(&cur, Some(&["metadata"])) {
        return Some((at, k));
    }
    meta_dup(&cur.get_mapping("metadata")?, &format!("{at}.metadata"))
}

/// Stamps one object mapping.
fn stamp_object(
    obj: &Mapping,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
    result: &mut KubeResult,
) {
    if let (Some(_), Some(kind)) = (string_of(obj, "apiVersion"), string_of(obj, "kind")) {
        if let Some((at, key)) = duplicate_on_path(obj, Some(&kind), opts) {
            let name = obj
                .get_mapping("metadata")
                .and_then(|m| string_of(&m, "name").or_else(|| string_of(&m, "generateName")));
            let object = format!("{kind}/{}", name.as_deref().unwrap_or("(unnamed)"));
            result.objects += 1;
            result.refusals.push(duplicate_refusal(&object, &at, &key));
            return;
        }
    }
    let Some(kind) = object_kind(obj, &mut |item| stamp_object(item, pairs, opts, result)) else {
        return;
    };
    result.objects += 1;
    if !result.kinds.contains(&kind) {
        result.kinds.push(kind.clone());
    }
    if !opts.kinds.is_empty() && !opts.kinds.iter().any(|k| k.eq_ignore_ascii_case(&kind)) {
        return;
    }
    let named = obj
        .get_mapping("metadata")
        .and_then(|m| string_of(&m, "name").or_else(|| string_of(&m, "generateName")));
    let template = POD_TEMPLATES
        .iter()
        .find(|(k, _)| *k == kind && opts.pod_template)
        .and_then(|(_, path)| walk_path(obj, path));
    let shown = format!("{kind}/{}", named.as_deref().unwrap_or("(unnamed)"));
    let shared = refuse_shared(obj, &shown)
        .or_else(|| template.and_then(|t| refuse_shared(&t, &format!("{shown} pod template"))));
    if let Some(refusal) = shared {
        result.refusals.push(refusal);
        return;
    }
    let meta = match obj.get_mapping("metadata") {
        Some(m) => m,
        None => {
            obj.set("metadata", Mapping::new());
            let Some(m) = obj.get_mapping("metadata") else {
                return;
            };
            m
        }
    };
    let name = string_of(&meta, "name")
        .or_else(|| string_of(&meta, "generateName"))
        .unwrap_or_else(|| "(unnamed)".into());
    let object = format!("{kind}/{name}");
    let mut changed = false;
    match stamp_metadata(&meta, pairs, &object, &mut result.added) {
        Ok(c) => changed |= c,
        Err(r) => result.refusals.extend(r),
    }
    if opts.pod_template {
        if let Some((_, path)) = POD_TEMPLATES.iter().find(|(k, _)| *k == kind) {
            if let Some(template) = walk_path(obj, path) {
                let tmeta = match template.get_mapping("metadata") {
                    Some(m) => Some(m),
                    None => {
                        template.set("metadata", Mapping::new());
                        template.get_mapping("metadata")
                    }
                };
                if let Some(tmeta) = tmeta {
                    let object = format!("{object} pod template");
                    match stamp_metadata(&tmeta, pairs, &object, &mut result.added) {
                        Ok(c) => changed |= c,
                        Err(r) => result.refusals.extend(r),
                    }
                }
            }
        }
    }
    if changed {
        result.changed.push(object);
    }
}

/// Nesting deeper than this is refused before parsing, as yaml-edit refuses flow
/// collections nested deeper: its parse time grows with the square of the depth (a 4 MB
/// file of nested mappings takes seconds, one line of 100,000 `- ` half a minute), and no
/// Kubernetes object nests anywhere near so deep.
const MAX_DEPTH: usize = 256;

/// The first line nested deeper than [`MAX_DEPTH`], counting indentation levels, the
/// compact `- `, `? ` and `: ` indicators that open a collection within a line, and open
/// flow collections (`[`, `{` where a value starts, and inside them) outside quoted
/// scalars, comments and block scalars. A cheap scan that would rather count too little on
/// odd YAML (which the parser then takes as it is) than refuse a file for a bracket in text.
fn too_deep(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    let mut block_scalar: Option<usize> = None;
    for (n, line) in text.lines().enumerate() {
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        if let Some(at) = block_scalar {
            if content.is_empty() || indent > at {
                continue;
            }
            block_scalar = None;
        }
        let mut compact = 0;
        // Where flow syntax may begin on this line.
        let mut scan_from = Some(0);
        if quote.is_none() && flow == 0 {
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            while indents.last().is_some_and(|&i| i >= indent) {
                indents.pop();
            }
            indents.push(indent);
            let mut rest = content;
            while let Some(r) = ["- ", "? ", ": "].iter().find_map(|p| rest.strip_prefix(p)) {
                compact += 1;
                rest = r.trim_start_matches(' ');
            }
            let mut value = match rest.find(": ") {
                Some(i) if !rest.starts_with(['[', '{', '"', '\'']) => &rest[i + 2..],
                _ => rest,
            };
            // Properties before the value: `&anchor`, `!tag`.
            while value.starts_with(['&', '!']) {
                value = value.split_once(' ').map_or("", |(_, v)| v).trim_start();
            }
            scan_from = value
                .starts_with(['[', '{'])
                .then(|| line.len() - value.len());
        }
        let mut peak = flow;
        let b = line.as_bytes();
        let mut code_end = line.find(" #").unwrap_or(line.len());
        if let Some(from) = scan_from {
            code_end = line.len();
            let mut last = b'[';
            let mut i = from;
            while i < b.len() {
                let c = b[i];
                match quote {
                    Some(b'\'') if c == b'\'' => {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            quote = None;
                        }
                    }
                    Some(b'"') if c == b'\\' => i += 1,
                    Some(b'"') if c == b'"' => quote = None,
                    Some(_) => {}
                    None => match c {
                        b'#' if i > 0 && matches!(b[i - 1], b' ' | b'\t') => {
                            code_end = i;
                            break;
                        }
                        b'\'' | b'"' if matches!(last, b'[' | b'{' | b',' | b':') => {
                            quote = Some(c);
                        }
                        b'[' | b'{' if matches!(last, b'[' | b'{' | b',' | b':' | b'?') => {
                            flow += 1;
                            peak = peak.max(flow);
                        }
                        b']' | b'}' if flow > 0 => flow -= 1,
                        _ => {}
                    },
                }
                if !matches!(c, b' ' | b'\t') {
                    last = c;
                }
                i += 1;
            }
        }
        if quote.is_none() && flow == 0 {
            // `key: |`, `- >-`, `key: |2`: the lines after it indented further are text.
            let code = line[..code_end].trim_end();
            let last = code.rsplit([' ', ':']).next().unwrap_or(code);
            if last.starts_with(['|', '>'])
                && last[1..]
                    .bytes()
                    .all(|c| matches!(c, b'-' | b'+' | b'0'..=b'9'))
            {
                block_scalar = Some(indent);
            }
        }
        if indents.len() + compact + peak > MAX_DEPTH {
            return Some(n + 1);
        }
    }
    None
}

/// Parses a YAML text, refusing what is nested too deeply first.
fn parse(text: &str) -> Result<YamlFile, String> {
    let control = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}');
    if let Some(at) = text.find(control) {
        let c = text[at..].chars().next().unwrap_or_default();
        return Err(format!(
            "line {}: the control character U+{:04X}, which YAML does not allow",
            text[..at].matches('\n').count() + 1,
            c as u32
        ));
    }
    if let Some(line) = too_deep(text) {
        return Err(format!(
            "line {line}: nested deeper than {MAX_DEPTH} levels, which no Kubernetes object is"
        ));
    }
    let parsed = YamlFile::parse(text);
    if !parsed.ok() {
        let first = parsed.errors().into_iter().next().unwrap_or_default();
        return Err(format!("not valid YAML: {first}"));
    }
    strict_syntax(text)?;
    Ok(parsed.tree())
}

/// Refuses what a strict YAML 1.2 reader does not read (tab indentation, a tab before a
/// plain value, a bad indicator…), which yaml-edit reads leniently and would rewrite: a
/// file Kubernetes cannot read is left alone, and said to be what it is. The reader's
/// events only: aliases are not expanded, so this is linear in the text.
fn strict_syntax(text: &str) -> Result<(), String> {
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((yaml_rust2::parser::Event::StreamEnd, _)) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                return Err(format!(
                    "line {}: not valid YAML: {}",
                    e.marker().line(),
                    e.info()
                ))
            }
        }
    }
}

/// The byte ranges of `node` and what it holds that are text rather than YAML syntax:
/// quoted and block scalars, keys included.
fn text_ranges(node: &YamlNode, out: &mut Vec<(usize, usize)>) {
    if let Some(s) = node.as_scalar() {
        scalar_text_range(s, out);
    } else if let Some(t) = node.as_tagged() {
        tagged_text_ranges(t, out);
    } else if let Some(m) = node.as_mapping() {
        mapping_text_ranges(m, out);
    } else if let Some(q) = node.as_sequence() {
        q.values().for_each(|v| text_ranges(&v, out));
    }
}

fn scalar_text_range(s: &Scalar, out: &mut Vec<(usize, usize)>) {
    if s.is_quoted() || s.is_block() {
        let r = s.byte_range();
        out.push((r.start as usize, r.end as usize));
    }
}

fn tagged_text_ranges(t: &TaggedNode, out: &mut Vec<(usize, usize)>) {
    if let Some(s) = t.value() {
        scalar_text_range(&s, out);
    }
    if let Some(m) = t.as_mapping() {
        mapping_text_ranges(&m, out);
    }
    if let Some(q) = t.as_sequence() {
        q.values().for_each(|v| text_ranges(&v, out));
    }
}

fn mapping_text_ranges(m: &Mapping, out: &mut Vec<(usize, usize)>) {
    for (k, v) in m.iter() {
        text_ranges(&k, out);
        text_ranges(&v, out);
    }
}

/// The line of the first `{{` that is YAML syntax, as in a Helm or Go template (`{{ if }}`,
/// `name: {{ .Values.x }}`, `image: repo:{{ .Values.tag }}`), rather than text in a quoted
/// or block scalar or a comment: an alerting rule's `'{{ $labels.pod }} is down'`, an Argo
/// parameter, or a value stamped here before.
fn template_line(text: &str, file: &YamlFile) -> Option<usize> {
    if !text.contains("{{") {
        return None;
    }
    let mut data: Vec<(usize, usize)> = file
        .comments()
        .map(|c| {
            let r = c.byte_range();
            (r.start as usize, r.end as usize)
        })
        .collect();
    for doc in file.documents() {
        if let Some(m) = doc.as_mapping() {
            mapping_text_ranges(&m, &mut data);
        } else if let Some(q) = doc.as_sequence() {
            q.values().for_each(|v| text_ranges(&v, &mut data));
        } else if let Some(s) = doc.as_scalar() {
            scalar_text_range(&s, &mut data);
        } else if let Some(t) = doc.as_tagged() {
            tagged_text_ranges(&t, &mut data);
        }
    }
    let at = text.match_indices("{{").map(|(at, _)| at).find(|&at| {
        !data
            .iter()
            .any(|&(start, end)| start <= at && at + 2 <= end)
    })?;
    Some(text[..at].matches('\n').count() + 1)
}

fn template_refusal(line: usize) -> String {
    format!(
        "line {line}: `{{{{` outside a quoted string — this looks like a Helm or Go template, not YAML; render it first (`helm template … | oci-stamp annotate -`), or quote the value if the braces are text"
    )
}

/// Parses a YAML stream; when it does not parse and holds a `{{`, says it may be a template.
fn parse_stream(text: &str) -> Result<YamlFile, String> {
    parse(text).map_err(|e| match text.find("{{") {
        Some(at) => format!(
            "{e}; the `{{{{` on line {} suggests a Helm or Go template: render it first (`helm template … | oci-stamp annotate -`)",
            text[..at].matches('\n').count() + 1
        ),
        None => e,
    })
}

/// Stamps every Kubernetes object in `text`. `Err` is a file that does not parse (with the
/// line), or a Helm template: a `{{` outside quoted and block scalars and comments.
pub(crate) fn annotate(
    text: &str,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
) -> Result<KubeResult, String> {
    let file = parse_stream(text)?;
    if let Some(line) = template_line(text, &file) {
        return Err(template_refusal(line));
    }
    let fresh = || KubeResult {
        text: None,
        changed: Vec::new(),
        refusals: Vec::new(),
        objects: 0,
        kinds: Vec::new(),
        added: Vec::new(),
    };
    let mut result = fresh();
    let out = match stamp_each_document(text, &file, pairs, opts, &mut result) {
        Some(out) => out,
        None => {
            // A document that does not read the same on its own: the whole stream in one
            // tree.
            result = fresh();
            for doc in file.documents() {
                if let Some(obj) = doc.as_mapping() {
                    stamp_object(&obj, pairs, opts, &mut result);
                }
            }
            let mut out = file.to_string();
            keep_missing_final_newline(text, &mut out);
            out
        }
    };
    if result.refusals.is_empty() && !result.changed.is_empty() && out != text {
        result.text = Some(out);
    }
    Ok(result)
}

/// Entries added at the very end bring a line break the text did not end with.
pub(super) fn keep_missing_final_newline(text: &str, out: &mut String) {
    if !text.ends_with('\n') {
        if let Some(cut) = out.strip_suffix('\n') {
            out.truncate(cut.strip_suffix('\r').unwrap_or(cut).len());
        }
    }
}

/// Indents the block mapping at `start..end` of `text`, which yaml-edit added two columns
/// right of its key, as far right of it as that key is of its parent key (`metadata:`, at
/// the nearest line before indented less): four columns in a file indented by four. Leaves
/// it as it is unless every one of its lines is plainly indented as expected.
fn reindent(text: &mut String, start: usize, end: usize) {
    let line_start = |at: usize| text[..at].rfind('\n').map_or(0, |i| i + 1);
    // The first line is the first entry, `    key: "value"`.
    let first = line_start(start);
    let Some(have) = text
        .get(first..start)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b == b' '))
        .map(str::len)
    else {
        return;
    };
    // The `annotations:` line, then the parent key's, skipping comments and blank lines.
    let column = |line: &str| line.len() - line.trim_start_matches([' ', '-']).len();
    let mut lines = text[..first].lines().rev().filter(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    let Some(key) = lines.next().map(column) else {
        return;
    };
    let Some(parent) = lines.map(column).find(|&c| c < key) else {
        return;
    };
    let want = key + (key - parent);
    if have != key + 2 || want == have || key - parent > 8 {
        return;
    }
    let block = &text[first..end];
    let indented = |l: &str| {
        l.len() > have && l.bytes().take(have).all(|b| b == b' ') && l.as_bytes()[have] != b' '
    };
    if !block.split_inclusive('\n').all(indented) {
        return;
    }
    let pad = " ".repeat(want);
    let moved: String = block
        .split_inclusive('\n')
        .map(|l| format!("{pad}{}", &l[have..]))
        .collect();
    text.replace_range(first..end, &moved);
}

/// Stamps the object `piece` holds (a document, or a List item laid out at its column by
/// `indent` spaces) in a tree of its own; returns its new text, without the `indent`.
fn stamp_piece(
    piece: &str,
    indent: usize,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
    result: &mut KubeResult,
) -> Option<String> {
    let parsed = YamlFile::parse(piece);
    if !parsed.ok() {
        return None;
    }
    let own = parsed.tree();
    let mut docs = own.documents();
    let (Some(obj), None) = (docs.next().and_then(|d| d.as_mapping()), docs.next()) else {
        return None;
    };
    let changed = result.changed.len();
    result.added.clear();
    stamp_object(&obj, pairs, opts, result);
    if result.changed.len() == changed {
        return Some(piece[indent..].to_string());
    }
    let mut new = own.to_string();
    let mut added = std::mem::take(&mut result.added);
    added.sort_by_key(|m| std::cmp::Reverse(m.byte_range().start));
    for ann in added {
        let range = ann.byte_range();
        reindent(&mut new, range.start as usize, range.end as usize);
    }
    keep_missing_final_newline(piece, &mut new);
    let spaces = new.get(..indent).filter(|p| p.bytes().all(|b| b == b' '))?;
    Some(new[spaces.len()..].to_string())
}

/// Stamps the objects of `file` (parsed from `text`) one by one, each document, and each
/// item of a List document, edited in a tree of its own, and returns the text with the
/// changed ones replaced. An edit rebuilds the levels above it in its tree, copying every
/// sibling: edits to n documents, or to n items of a List (`kubectl get -o yaml`), in one
/// tree take n² time (7 s for 5,000 objects, 10 s for a List of 5,000). `None` when an
/// object does not parse the same on its own, or the result is not the same stream of
/// documents.
fn stamp_each_document(
    text: &str,
    file: &YamlFile,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
    result: &mut KubeResult,
) -> Option<String> {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut done = 0;
    let mut documents = 0;
    for doc in file.documents() {
        documents += 1;
        let range = doc.byte_range();
        let (start, end) = (range.start as usize, range.end as usize);
        let piece = text.get(start..end).filter(|_| start >= done)?;
        out.push_str(&text[done..start]);
        done = end;
        let Some(obj) = doc.as_mapping() else {
            out.push_str(piece);
            continue;
        };
        let list = match (string_of(&obj, "apiVersion"), string_of(&obj, "kind")) {
            (Some(_), Some(kind)) if kind.ends_with("List") => obj.get_sequence("items"),
            _ => None,
        };
        let Some(items) = list else {
            out.push_str(&stamp_piece(piece, 0, pairs, opts, result)?);
            continue;
        };
        let mut at = start;
        for item in items.values().filter(|item| item.is_mapping()) {
            let range = item.byte_range();
            let (from, to) = (range.start as usize, range.end as usize);
            let line = text[..from].rfind('\n').map_or(0, |i| i + 1);
            let text = text
                .get(from..to)
                .filter(|_| from >= at.max(line) && to <= end)?;
            out.push_str(&piece[at - start..from - start]);
            let indent = from - line;
            let item = format!("{}{text}", " ".repeat(indent));
            out.push_str(&stamp_piece(&item, indent, pairs, opts, result)?);
            at = to;
        }
        out.push_str(&piece[at - start..]);
    }
    out.push_str(&text[done..]);
    if result.refusals.is_empty() && !result.changed.is_empty() {
        let check = YamlFile::parse(&out);
        if !check.ok() || check.tree().documents().count() != documents {
            return None;
        }
    }
    Some(out)
}

/// Every object's `metadata.annotations` (and pod templates'), for `validate TARGET`, and
/// the findings `annotate` would refuse the file for: a duplicate key on the path to, or
/// inside, an object's or its pod template's annotations (`duplicate-key`).
pub(crate) fn annotation_maps(
    name: &str,
    text: &str,
) -> Result<(Vec<super::Found>, Vec<Diagnostic>), String> {
    let file = parse_stream(text)?;
    let mut out = Vec::new();
    let mut findings = Vec::new();
    struct Walk<'a> {
        name: &'a str,
        out: &'a mut Vec<super::Found>,
        findings: &'a mut Vec<Diagnostic>,
    }
    fn visit(obj: &Mapping, w: &mut Walk<'_>) {
        let Some(kind) = object_kind(obj, &mut |item| visit(item, w)) else {
            return;
        };
        let meta = obj.get_mapping("metadata");
        let object = format!(
            "{kind}/{}",
            meta.as_ref()
                .and_then(|m| string_of(m, "name"))
                .unwrap_or_else(|| "(unnamed)".into())
        );
        let every_template = KubeOptions {
            pod_template: true,
            kinds: Vec::new(),
        };
        if let Some((at, key)) = duplicate_on_path(obj, Some(&kind), &every_template) {
            w.findings.push(duplicate_refusal(
                &format!("{}: {object}", w.name),
                &at,
                &key,
            ));
        }
        let Some(meta) = meta else {
            return;
        };
        w.out.push(super::Found {
            location: format!("{}: {object}", w.name),
            pairs: existing(&meta),
            index_descriptor: false,
        });
        if let Some((_, path)) = POD_TEMPLATES.iter().find(|(k, _)| *k == kind) {
            if let Some(tmeta) = walk_path(obj, path).and_then(|t| t.get_mapping("metadata")) {
                w.out.push(super::Found {
                    location: format!("{}: {object} pod template", w.name),
                    pairs: existing(&tmeta),
                    index_descriptor: false,
                });
            }
        }
    }
    let mut w = Walk {
        name,
        out: &mut out,
        findings: &mut findings,
    };
    for doc in file.documents() {
        if let Some(obj) = doc.as_mapping() {
            visit(&obj, &mut w);
        }
    }
    Ok((out, findings))
}

/// Stamps a YAML text of Kubernetes objects: every entry, whatever its levels (they mean
/// nothing to Kubernetes).
/// What stamping one YAML text did: the outcome (refusals name the file), the new text
/// when it changed, and the kinds of the objects in it.
pub(super) struct Stamped {
    pub(super) outcome: Outcome,
    pub(super) text: Option<String>,
    pub(super) kinds: Vec<String>,
}

pub(super) fn stamp_text(
    name: &str,
    text: &str,
    stamp: &Stamp,
    opts: &KubeOptions,
) -> Result<(Outcome, Option<String>), Error> {
    let stamped = stamp_text_kinds(name, text, stamp, opts)?;
    Ok((stamped.outcome, stamped.text))
}

pub(super) fn stamp_text_kinds(
    name: &str,
    text: &str,
    stamp: &Stamp,
    opts: &KubeOptions,
) -> Result<Stamped, Error> {
    let pairs = stamp.all_pairs();
    let result = annotate(text, &pairs, opts).map_err(|message| Error::BadInput {
        path: PathBuf::from(name),
        message,
    })?;
    let kinds = result.kinds;
    let refusals = result
        .refusals
        .into_iter()
        .map(|d| if d.location.is_none() { d.at(name) } else { d })
        .collect();
    let mut outcome = Outcome::refused(Path::new(name), refusals);
    if result.objects == 0 {
        outcome.warnings.push(Diagnostic::warning(
            "no-objects",
            "",
            format!("{name}: no Kubernetes object (a document with apiVersion and kind) in it"),
        ));
    }
    let new = result.text.filter(|_| outcome.refusals.is_empty());
    if let Some(new) = &new {
        let (old, new) = (
            oci::sha256_digest(text.as_bytes()),
            oci::sha256_digest(new.as_bytes()),
        );
        outcome.changes = result
            .changed
            .into_iter()
            .map(|object| Change {
                kind: "object",
                platform: None,
                object: Some(object),
                old: old.clone(),
                new: new.clone(),
            })
            .collect();
    }
    Ok(Stamped {
        outcome,
        text: new,
        kinds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: &[(&str, &str)] = &[
        ("org.opencontainers.image.revision", "abc"),
        ("com.example/x", "no"),
    ];

    #[test]
    fn stamps_every_object_and_keeps_the_rest() {
        let text = "# c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # n\ndata: {k: v}\n---\nfoo: bar\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    keep: 'x'\n";
        let r = annotate(text, PAIRS, &KubeOptions::default()).unwrap();
        let out = r.text.unwrap();
        assert_eq!(r.changed, ["ConfigMap/a", "Service/s"]);
        assert!(
            out.starts_with("# c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # n\n"),
            "{out}"
        );
        assert!(out.contains("  annotations:\n    org.opencontainers.image.revision: \"abc\"\n    com.example/x: \"no\"\n"), "{out}");
        assert!(out.contains("---\nfoo: bar\n---\n"));
        assert!(out.contains("    keep: 'x'\n"));
        // a second run changes nothing
        let again = annotate(&out, PAIRS, &KubeOptions::default()).unwrap();
        assert!(again.text.is_none() && again.changed.is_empty());
    }

    #[test]
    fn lists_kinds_and_pod_templates() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n";
        let r = annotate(
            list,
            PAIRS,
            &KubeOptions {
                kinds: vec!["secret".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.changed, ["Secret/b"]);
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: []\n";
        let r = annotate(
            cron,
            PAIRS,
            &KubeOptions {
                pod_template: true,
                ..Default::default()
            },
        )
        .unwrap();
        let out = r.text.unwrap();
        assert!(out.contains("      template:\n        spec:\n          containers: []\n        metadata:\n          annotations:\n") || out.contains("        metadata:\n          annotations:"), "{out}");
    }

    #[test]
    fn refusals() {
        assert!(annotate(
            "metadata:\n  name: {{ .Values.x }}\n",
            PAIRS,
            &KubeOptions::default()
        )
        .unwrap_err()
        .contains("Helm"));
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let r = annotate(text, &[("Bad Key", "v")], &KubeOptions::default()).unwrap();
        assert_eq!(r.refusals[0].code, "kubernetes-key");
        assert!(r.refusals[0].to_string().contains("ConfigMap/a"));
        assert!(r.text.is_none());
        let big = "x".repeat(kubernetes::TOTAL_LIMIT);
        let r = annotate(text, &[("k", big.as_str())], &KubeOptions::default()).unwrap();
        assert_eq!(r.refusals[0].code, "kubernetes-size");
    }

    #[test]
    fn each_document_is_stamped_on_its_own_with_the_same_result() {
        let text = "\u{feff}# top\n%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # c\n...\n# between\n--- # sep\nfoo: bar\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n---\napiVersion: v1\nkind: List\nitems:\n  # first\n  -   apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: wide # c\n  - just text\n  - {apiVersion: v1, kind: Secret, metadata: {name: flow}}\n  - apiVersion: v1\n    kind: List\n    items:\n    - apiVersion: v1\n      kind: ConfigMap\n      metadata:\n        name: nested\n        annotations:\n          keep: \"k\"\n\n  # trailing\n---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b";
        let file = parse(text).unwrap();
        let mut result = KubeResult {
            text: None,
            changed: Vec::new(),
            refusals: Vec::new(),
            objects: 0,
            kinds: Vec::new(),
            added: Vec::new(),
        };
        let opts = KubeOptions::default();
        let each = stamp_each_document(text, &file, PAIRS, &opts, &mut result).unwrap();
        assert_eq!(
            result.changed,
            [
                "ConfigMap/a",
                "Secret/s",
                "ConfigMap/wide",
                "Secret/flow",
                "ConfigMap/nested",
                "ConfigMap/b"
            ]
        );
        for doc in file.documents() {
            if let Some(obj) = doc.as_mapping() {
                stamp_object(&obj, PAIRS, &opts, &mut result);
            }
        }
        let mut whole = file.to_string();
        keep_missing_final_newline(text, &mut whole);
        assert_eq!(each, whole);
        assert!(each.ends_with("  name: b\n  annotations:\n    org.opencontainers.image.revision: \"abc\"\n    com.example/x: \"no\""), "{each}");
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let opts = KubeOptions::default();
        let nested: String = (0..300)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let e = annotate(&nested, PAIRS, &opts).unwrap_err();
        assert_eq!(
            e,
            "line 257: nested deeper than 256 levels, which no Kubernetes object is"
        );
        let compact = format!("{}x\n", "- ".repeat(100_000));
        assert!(annotate(&compact, PAIRS, &opts)
            .unwrap_err()
            .starts_with("line 1: "));
        assert!(annotation_maps("f", &compact).is_err());
        let fine: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(annotate(&fine, PAIRS, &opts).is_ok());
        let flow = format!("a: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(annotate(&flow, PAIRS, &opts)
            .unwrap_err()
            .starts_with("line 1: "));
        // Brackets in quotes, comments, block scalars and plain text do not nest.
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # {{[[\ndata:\n  q: '{0}'\n  d: \"{0}\\\"\"\n  p: it's {0}\n  s: |\n    {0}\n    {0}\n  f: [{{a: '[['}}, \"]]\"]\n",
            "[{".repeat(200)
        );
        let r = annotate(&text, PAIRS, &opts).unwrap();
        assert!(r.text.is_some(), "{:?}", r.refusals);
        let nul = "apiVersion: v1\nkind: Config\u{0}Map\n";
        assert_eq!(
            annotate(nul, PAIRS, &opts).unwrap_err(),
            "line 2: the control character U+0000, which YAML does not allow"
        );
    }

    #[test]
    fn shared_metadata_and_annotations_are_refused() {
        let item = |name: &str, meta: &str, ann: &str| {
            format!("- apiVersion: v1\n  kind: ConfigMap\n  metadata: {meta}\n    name: {name}\n    annotations: {ann}\n      team: x\n")
        };
        for (text, why) in [
            (
                format!("apiVersion: v1\nkind: List\nitems:\n{}- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b\n    annotations: *common\n", item("a", "", "&common")),
                "ConfigMap/a: `metadata.annotations` carries a YAML anchor",
            ),
            (
                format!("apiVersion: v1\nkind: List\nitems:\n{}", item("a", "&m # & c", "!!map")),
                "ConfigMap/a: `metadata` carries a YAML anchor",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nx: &m {name: a}\nmetadata: *m\n".to_string(),
                "ConfigMap/(unnamed): `metadata` is a YAML alias",
            ),
            (
                // The merged `annotations` would be hidden by one written beside `<<`.
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {annotations: {team: x}}\n  name: m\n".to_string(),
                "ConfigMap/m: `metadata` merges a mapping (`<<:`)",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: [x]\n"
                    .to_string(),
                "ConfigMap/a: `metadata.annotations` is not a mapping",
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: x\n".to_string(),
                "ConfigMap/(unnamed): `metadata` is not a mapping but `x`",
            ),
            (
                // `!name:` is a tag: metadata is the string `a`.
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n !name: a\n".to_string(),
                "ConfigMap/(unnamed): `metadata` is not a mapping",
            ),
        ] {
            let r = annotate(&text, PAIRS, &KubeOptions::default()).unwrap();
            assert!(r.text.is_none(), "{text}");
            let code = if why.contains("not a mapping") { "not-a-mapping" } else { "yaml-alias" };
            assert_eq!(r.refusals[0].code, code, "{text}");
            assert!(r.refusals[0].message.starts_with(why), "{}", r.refusals[0]);
        }
        // Anchors elsewhere, a tag, and `&` in a comment or a value are no reason to refuse.
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: # a & b\n  name: a\n  annotations: !!map\n    k: '&v'\ndata: &d\n  x: y\n";
        let r = annotate(text, PAIRS, &KubeOptions::default()).unwrap();
        assert!(
            r.refusals.is_empty() && r.text.is_some(),
            "{:?}",
            r.refusals
        );
        // Null is no value: it is replaced.
        for null in ["", " ~", " null"] {
            let text = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:{null}\n"
            );
            let r = annotate(&text, PAIRS, &KubeOptions::default()).unwrap();
            assert!(
                r.refusals.is_empty() && r.text.is_some(),
                "{null:?}: {:?}",
                r.refusals
            );
        }
    }
}
