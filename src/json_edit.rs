//! Editing JSON without re-serialising it. A small parser records the byte span of every
//! value and key; edits replace spans or insert members, so everything outside the changed
//! values — key order, whitespace, number formatting, `\/` escapes — stays byte for byte.
//!
//! The parser is strict I-JSON: duplicate keys, trailing commas, comments, a BOM and
//! nesting deeper than [`MAX_DEPTH`] are refused with the byte offset.

use std::ops::Range;

/// Deeper nesting than any manifest needs; guards the stack against hostile input.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) span: Range<usize>,
    pub(crate) kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Object(Vec<Member>),
    Array(Vec<Node>),
    String(String),
    Number,
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) key: String,
    pub(crate) key_span: Range<usize>,
    pub(crate) value: Node,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at line {line}, column {column}: {message}")]
pub(crate) struct JsonError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> JsonError {
        let before = &self.text[..at.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        JsonError {
            line,
            column,
            message: message.into(),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), JsonError> {
        if self.bytes.get(self.pos) == Some(&b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(self.pos, format!("expected `{}`", b as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error(self.pos, "nested too deeply"));
        }
        self.skip_ws();
        let start = self.pos;
        let kind = match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Kind::String(self.string()?),
            Some(b't') => self.literal("true", Kind::Bool(true))?,
            Some(b'f') => self.literal("false", Kind::Bool(false))?,
            Some(b'n') => self.literal("null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.error(self.pos, "expected a value")),
            None => return Err(self.error(self.pos, "unexpected end of input")),
        };
        Ok(Node {
            span: start..self.pos,
            kind,
        })
    }

    fn literal(&mut self, word: &str, kind: Kind) -> Result<Kind, JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error(self.pos, "expected a value"))
        }
    }

    fn number(&mut self) -> Result<Kind, JsonError> {
        let start = self.pos;
        while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
        serde_json::from_str::<serde_json::Number>(&self.text[start..self.pos])
            .map_err(|_| self.error(start, "invalid number"))?;
        Ok(Kind::Number)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(0..=0x1f) => return Err(self.error(self.pos, "control character in a string")),
                Some(_) => self.pos += 1,
                None => return Err(self.error(start, "unterminated string")),
            }
        }
        self.pos += 1;
        serde_json::from_str::<String>(&self.text[start..self.pos])
            .map_err(|e| self.error(start, format!("invalid string: {e}")))
    }

    fn object(&mut self, depth: usize) -> Result<Kind, JsonError> {
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Kind::Object(members));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error(self.pos, "expected a key"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key_span = key_start..self.pos;
            if members.iter().any(|m| m.key == key) {
                return Err(self.error(
                    key_start,
                    format!("duplicate key `{key}` (I-JSON forbids them)"),
                ));
            }
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value(depth + 1)?;
            members.push(Member {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Kind::Object(members));
                }
                _ => return Err(self.error(self.pos, "expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Kind::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Kind::Array(items));
                }
                _ => return Err(self.error(self.pos, "expected `,` or `]`")),
            }
        }
    }
}

/// Parses a whole document.
pub(crate) fn parse(text: &str) -> Result<Node, JsonError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    if text.starts_with('\u{feff}') {
        return Err(p.error(0, "a byte-order mark before the document"));
    }
    let root = p.value(0)?;
    p.skip_ws();
    if p.pos != text.len() {
        return Err(p.error(p.pos, "text after the document"));
    }
    Ok(root)
}

impl Node {
    pub(crate) fn members(&self) -> &[Member] {
        match &self.kind {
            Kind::Object(m) => m,
            _ => &[],
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.members()
            .iter()
            .find(|m| m.key == key)
            .map(|m| &m.value)
    }

    pub(crate) fn str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::str)
    }

    pub(crate) fn items(&self) -> &[Node] {
        match &self.kind {
            Kind::Array(items) => items,
            _ => &[],
        }
    }
}

/// A replacement of `span` by `text` (an insertion when the span is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) span: Range<usize>,
    pub(crate) text: String,
}

/// Applies non-overlapping edits.
pub(crate) fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by(|a, b| {
        b.span
            .start
            .cmp(&a.span.start)
            .then(b.span.end.cmp(&a.span.end))
    });
    let mut out = text.to_string();
    for e in edits {
        out.replace_range(e.span, &e.text);
    }
    out
}

/// A JSON string literal for `s` (non-ASCII kept as UTF-8).
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// How a document lays out an object's members, learnt from the document itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Style {
    /// The whitespace before each member of this object (`"\n    "`, `" "`, or empty).
    member_ws: String,
    /// What sits between a key and its value (`": "` or `":"`).
    colon: String,
    /// One level of indentation (`"  "`, `"\t"`), when the document is indented.
    unit: String,
}

fn ws_before(text: &str, at: usize) -> &str {
    let before = &text[..at];
    let trimmed = before.trim_end_matches([' ', '\t', '\n', '\r']);
    &before[trimmed.len()..]
}

/// The document's indentation unit: the difference between the root's member indent and
/// the root's own; two spaces when the document gives no clue.
fn indent_unit(text: &str, root: &Node) -> String {
    if let Some(first) = root.members().first() {
        let ws = ws_before(text, first.key_span.start);
        if let Some(indent) = ws.rsplit('\n').next().filter(|_| ws.contains('\n')) {
            let closing = ws_before(text, root.span.end - 1);
            let base = closing.rsplit('\n').next().unwrap_or("");
            if let Some(unit) = indent.strip_prefix(base).filter(|u| !u.is_empty()) {
                return unit.to_string();
            }
        }
    }
    "  ".to_string()
}

fn style_of(text: &str, root: &Node, object: &Node, parent_ws: Option<&str>) -> Style {
    let unit = indent_unit(text, root);
    if let Some(first) = object.members().first() {
        let colon = text[first.key_span.end..first.value.span.start].to_string();
        return Style {
            member_ws: ws_before(text, first.key_span.start).to_string(),
            colon,
            unit,
        };
    }
    // An empty object: one level deeper than its parent's members.
    let (parent_ws, colon) = match root.members().first() {
        Some(m) => (
            parent_ws.map_or_else(
                || ws_before(text, m.key_span.start).to_string(),
                str::to_string,
            ),
            text[m.key_span.end..m.value.span.start].to_string(),
        ),
        None => ("\n".to_string(), ": ".to_string()),
    };
    let member_ws = if parent_ws.contains('\n') {
        format!("{parent_ws}{unit}")
    } else {
        parent_ws
    };
    Style {
        member_ws,
        colon,
        unit,
    }
}

fn render_members(style: &Style, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}{}{}{}", style.member_ws, quote(k), style.colon, quote(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Edits that set `pairs` in the string map at `object.annotations` (creating the member
/// when absent): changed values are replaced in place, new keys appended in the object's
/// own style. No edit when everything already matches.
pub(crate) fn set_annotations(
    text: &str,
    root: &Node,
    object: &Node,
    pairs: &[(&str, &str)],
) -> Vec<Edit> {
    if !matches!(object.kind, Kind::Object(_)) {
        return Vec::new(); // a number or string where a descriptor should be: nothing to edit
    }
    let member_ws = object
        .members()
        .first()
        .map(|m| ws_before(text, m.key_span.start).to_string());
    match object.get("annotations") {
        Some(
            map @ Node {
                kind: Kind::Object(members),
                ..
            },
        ) if !members.is_empty() => {
            let mut edits = Vec::new();
            let mut new: Vec<(&str, &str)> = Vec::new();
            for (k, v) in pairs {
                match members.iter().find(|m| m.key == *k) {
                    Some(m) if m.value.str() == Some(*v) => {}
                    Some(m) => edits.push(Edit {
                        span: m.value.span.clone(),
                        text: quote(v),
                    }),
                    None => new.push((k, v)),
                }
            }
            if !new.is_empty() {
                let style = style_of(text, root, map, None);
                let last = members
                    .last()
                    .map_or(map.span.start + 1, |m| m.value.span.end);
                edits.push(Edit {
                    span: last..last,
                    text: format!(",{}", render_members(&style, &new)),
                });
            }
            edits
        }
        existing => {
            if pairs.is_empty() {
                return Vec::new();
            }
            // Absent, `{}` or `null`: write a whole object one level below `object`'s members.
            let empty = Node {
                span: 0..0,
                kind: Kind::Object(Vec::new()),
            };
            let inner = style_of(text, root, &empty, member_ws.as_deref());
            let closing = if inner.member_ws.contains('\n') {
                member_ws.clone().unwrap_or_default()
            } else {
                String::new()
            };
            let rendered = format!("{{{}{closing}}}", render_members(&inner, pairs));
            match existing {
                Some(node) => vec![Edit {
                    span: node.span.clone(),
                    text: rendered,
                }],
                None => {
                    let colon = style_of(text, root, object, None).colon;
                    let ws = member_ws.unwrap_or_default();
                    match object.members().last() {
                        Some(last) => vec![Edit {
                            span: last.value.span.end..last.value.span.end,
                            text: format!(",{ws}{}{colon}{rendered}", quote("annotations")),
                        }],
                        None => vec![Edit {
                            span: object.span.start + 1..object.span.start + 1,
                            text: format!("{}{colon}{rendered}", quote("annotations")),
                        }],
                    }
                }
            }
        }
    }
}

/// An edit replacing a string member's value, if the member exists and differs.
pub(crate) fn set_string(object: &Node, key: &str, value: &str) -> Option<Edit> {
    let node = object.get(key)?;
    (node.str() != Some(value)).then(|| Edit {
        span: node.span.clone(),
        text: quote(value),
    })
}

/// An edit replacing a number member's value, if the member exists.
pub(crate) fn set_number(text: &str, object: &Node, key: &str, value: u64) -> Option<Edit> {
    let node = object.get(key)?;
    let new = value.to_string();
    (text[node.span.clone()] != new).then_some(Edit {
        span: node.span.clone(),
        text: new,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotate(text: &str, pairs: &[(&str, &str)]) -> String {
        let root = parse(text).unwrap();
        let edits = set_annotations(text, &root, &root, pairs);
        let out = apply(text, edits);
        parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        out
    }

    #[test]
    fn refuses_what_i_json_refuses() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            "{\"a\":1,}",
            "[1,]",
            "\u{feff}{}",
            "{} x",
            "{\"a\":\"\u{1}\"}",
            "01x",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse(&deep).unwrap_err().message.contains("deeply"));
        let e = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn appends_annotations_in_the_documents_style() {
        let pretty = "{\n  \"schemaVersion\": 2,\n  \"layers\": []\n}\n";
        assert_eq!(
            annotate(pretty, &[("a.b", "1"), ("c.d", "x\"y")]),
            "{\n  \"schemaVersion\": 2,\n  \"layers\": [],\n  \"annotations\": {\n    \"a.b\": \"1\",\n    \"c.d\": \"x\\\"y\"\n  }\n}\n"
        );
        let compact = r#"{"schemaVersion":2,"layers":[]}"#;
        assert_eq!(
            annotate(compact, &[("a.b", "1")]),
            r#"{"schemaVersion":2,"layers":[],"annotations":{"a.b":"1"}}"#
        );
        let tabs = "{\n\t\"schemaVersion\": 2\n}";
        assert_eq!(
            annotate(tabs, &[("k", "v")]),
            "{\n\t\"schemaVersion\": 2,\n\t\"annotations\": {\n\t\t\"k\": \"v\"\n\t}\n}"
        );
    }

    #[test]
    fn merges_into_existing_annotations_in_place() {
        let text = "{\n   \"annotations\": {\n      \"keep\": \"\\/x\",\n      \"k\": \"old\"\n   },\n   \"n\": 1.50\n}";
        let out = annotate(text, &[("k", "new"), ("z", "1")]);
        assert_eq!(out, "{\n   \"annotations\": {\n      \"keep\": \"\\/x\",\n      \"k\": \"new\",\n      \"z\": \"1\"\n   },\n   \"n\": 1.50\n}");
        assert_eq!(annotate(&out, &[("k", "new")]), out);
        let root = parse(&out).unwrap();
        assert!(set_annotations(&out, &root, &root, &[("k", "new"), ("z", "1")]).is_empty());
    }

    #[test]
    fn replaces_empty_or_null_annotations() {
        assert_eq!(
            annotate(r#"{"a":1,"annotations":{}}"#, &[("k", "v")]),
            r#"{"a":1,"annotations":{"k":"v"}}"#
        );
        assert_eq!(
            annotate("{\n  \"annotations\": null\n}", &[("k", "v")]),
            "{\n  \"annotations\": {\n    \"k\": \"v\"\n  }\n}"
        );
        let v: serde_json::Value = serde_json::from_str(&annotate("{}", &[("k", "v")])).unwrap();
        assert_eq!(v["annotations"]["k"], "v");
    }

    #[test]
    fn only_objects_get_annotations() {
        let text = r#"{"manifests":[1,"x",null,[]]}"#;
        let root = parse(text).unwrap();
        for item in root.get("manifests").unwrap().items() {
            assert!(set_annotations(text, &root, item, &[("k", "v")]).is_empty());
        }
    }

    #[test]
    fn numbers_and_strings_are_replaced_by_span() {
        let text = r#"{"digest":"sha256:a","size":12}"#;
        let root = parse(text).unwrap();
        let edits: Vec<Edit> = [
            set_string(&root, "digest", "sha256:b"),
            set_number(text, &root, "size", 345),
        ]
        .into_iter()
        .flatten()
        .collect();
        assert_eq!(apply(text, edits), r#"{"digest":"sha256:b","size":345}"#);
    }
}
