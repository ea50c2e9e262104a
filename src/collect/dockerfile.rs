//! Dockerfiles as BuildKit reads them, as far as the base image and the labels go: parser
//! directives (`# escape=`), line continuations, comments, heredocs (skipped), `ARG`s before
//! the first `FROM` with their defaults and `--build-arg` overrides, the shell-style
//! substitutions of `FROM` (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`, …), stages
//! and the chains between them, and the `ARG`/`ENV`/`LABEL` instructions of the target
//! stage's chain.
//!
//! Pure: text in, facts out. Nothing here reads files or a registry; what cannot be told
//! from the text and the build arguments is [`Unresolved`], naming the variable.

use std::collections::BTreeMap;

/// A parsed Dockerfile: its escape character and its instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dockerfile {
    pub(crate) escape: char,
    pub(crate) instructions: Vec<Instruction>,
}

/// One instruction: its (joined) logical line, where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instruction {
    /// 1-based line where the instruction begins.
    pub(crate) line: usize,
    /// The keyword, upper-cased (`FROM`).
    pub(crate) keyword: String,
    /// The leading `--name=value` flags.
    pub(crate) flags: Vec<String>,
    /// What follows the keyword and the flags, trimmed.
    pub(crate) args: String,
}

/// Why a Dockerfile cannot be read as BuildKit would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        line,
        message: message.into(),
    })
}

/// Whitespace as BuildKit splits instructions: `[\t\v\f\r ]`.
fn is_split_space(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(s: &str) -> bool {
    s.trim_start().starts_with('#')
}

/// A line ending in the escape character (then blanks) continues, unless that character is
/// itself escaped: returns the line without it, and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let s = line.trim_end_matches([' ', '\t']);
    if let Some(before) = s.strip_suffix(escape) {
        if before.is_empty() || !before.ends_with(escape) {
            return (before, false);
        }
    }
    (line, true)
}

/// Directive state: they are read only before the first line that is not one.
struct Directives {
    done: bool,
    seen: Vec<String>,
    escape: char,
}

impl Directives {
    /// Reads `# name=value` on a line (left-trimmed); `Ok(true)` when it was a directive.
    fn line(&mut self, token: &str, n: usize) -> Result<bool, ParseError> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = token.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let rest = rest.trim_start();
        let name_len = rest
            .char_indices()
            .find(|(i, c)| !(c.is_ascii_alphabetic() || (*i > 0 && c.is_ascii_digit())))
            .map_or(rest.len(), |(i, _)| i);
        let (name, after) = rest.split_at(name_len);
        let value = after.trim_start().strip_prefix('=').map(str::trim);
        let name = name.to_ascii_lowercase();
        let (Some(value), false) = (value, name.is_empty()) else {
            self.done = true;
            return Ok(false);
        };
        if value.is_empty() || !["syntax", "escape", "check"].contains(&name.as_str()) {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&name) {
            return err(n, format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => {
                    return err(
                        n,
                        format!("invalid escape token `{other}` does not match ` or \\"),
                    )
                }
            };
        }
        Ok(true)
    }
}

/// Parses a Dockerfile into its instructions, as BuildKit's parser does.
pub(crate) fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let mut d = Directives {
        done: false,
        seen: Vec::new(),
        escape: '\\',
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let n = i + 1;
        let token = trim_newline(lines[i]).trim_start();
        i += 1;
        d.line(token, n)?;
        if is_comment(token) {
            continue;
        }
        let (first, mut end) = trim_continuation(token, d.escape);
        if end && first.is_empty() {
            continue;
        }
        let mut logical = first.to_string();
        while !end && i < lines.len() {
            let t = trim_newline(lines[i]);
            i += 1;
            if is_comment(t) || t.trim_start().is_empty() {
                continue;
            }
            let (part, e) = trim_continuation(t, d.escape);
            logical.push_str(part);
            end = e;
        }
        let instruction = split_command(&logical, d.escape, n)?;
        if can_hold_heredoc(&instruction) && logical.contains("<<") {
            for doc in heredocs(&logical) {
                let mut terminated = false;
                while i < lines.len() {
                    let mut t = trim_newline(lines[i]);
                    i += 1;
                    if doc.chomp {
                        t = t.trim_start_matches('\t');
                    }
                    if t == doc.name {
                        terminated = true;
                        break;
                    }
                }
                if !terminated {
                    return err(n, format!("unterminated heredoc `{}`", doc.name));
                }
            }
        }
        out.push(instruction);
    }
    if out.is_empty() {
        return err(0, "file with no instructions");
    }
    Ok(Dockerfile {
        escape: d.escape,
        instructions: out,
    })
}

/// `KEYWORD [--flag=…]… ARGS`.
fn split_command(line: &str, escape: char, n: usize) -> Result<Instruction, ParseError> {
    let line = line.trim();
    let (keyword, rest) = match line.find(is_split_space) {
        Some(at) => (&line[..at], line[at..].trim_start_matches(is_split_space)),
        None => (line, ""),
    };
    let (args, flags) = extract_flags(rest, escape);
    if keyword.is_empty() {
        return err(n, "an empty instruction");
    }
    Ok(Instruction {
        line: n,
        keyword: keyword.to_ascii_uppercase(),
        flags,
        args: args.trim().to_string(),
    })
}

/// The leading words that start with `--`, unquoted, and what follows them.
fn extract_flags(line: &str, escape: char) -> (String, Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut flags = Vec::new();
    let mut k = 0;
    loop {
        while k < chars.len() && chars[k].1.is_whitespace() {
            k += 1;
        }
        if k >= chars.len() {
            return (String::new(), flags);
        }
        let starts_flag = chars[k].1 == '-' && chars.get(k + 1).is_some_and(|c| c.1 == '-');
        if !starts_flag {
            return (line[chars[k].0..].to_string(), flags);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while k < chars.len() {
            let c = chars[k].1;
            match quote {
                None if c.is_whitespace() => break,
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == escape => {
                    k += 1;
                    if let Some(&(_, next)) = chars.get(k) {
                        word.push(next);
                    }
                }
                _ => word.push(c),
            }
            k += 1;
        }
        if word == "--" {
            return (
                chars
                    .get(k)
                    .map_or(String::new(), |c| line[c.0..].to_string()),
                flags,
            );
        }
        flags.push(word);
    }
}

fn is_json_array(args: &str) -> bool {
    let t = args.trim_start();
    t.starts_with('[') && serde_json::from_str::<Vec<String>>(t).is_ok()
}

/// `RUN`, `COPY` and `ADD` (also under `ONBUILD`), in their shell form, may carry heredocs.
fn can_hold_heredoc(i: &Instruction) -> bool {
    let (keyword, args) = if i.keyword == "ONBUILD" {
        let a = i.args.trim_start();
        let (k, rest) = a.split_once(is_split_space).unwrap_or((a, ""));
        (k.to_ascii_uppercase(), rest.to_string())
    } else {
        (i.keyword.clone(), i.args.clone())
    };
    ["RUN", "COPY", "ADD"].contains(&keyword.as_str()) && !is_json_array(&args)
}

/// A heredoc introduced on an instruction line: its terminator, and `<<-` (tabs stripped).
#[derive(Debug, PartialEq, Eq)]
struct Heredoc {
    name: String,
    chomp: bool,
}

/// The words of a line with quotes and escapes kept, `<<` joined to a word after blanks.
fn raw_words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut words = Vec::new();
    let mut w = String::new();
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        match c {
            '\'' | '"' => {
                w.push(c);
                k += 1;
                while k < chars.len() && chars[k] != c {
                    if c == '"' && chars[k] == '\\' && k + 1 < chars.len() {
                        w.push(chars[k]);
                        k += 1;
                    }
                    w.push(chars[k]);
                    k += 1;
                }
                if k < chars.len() {
                    w.push(c);
                }
            }
            '\\' => {
                w.push(c);
                if k + 1 < chars.len() {
                    k += 1;
                    w.push(chars[k]);
                }
            }
            '$' if chars.get(k + 1) == Some(&'{') => {
                while k < chars.len() && chars[k] != '}' {
                    w.push(chars[k]);
                    k += 1;
                }
                if k < chars.len() {
                    w.push('}');
                }
            }
            '<' if chars.get(k + 1) == Some(&'<') => {
                w.push_str("<<");
                k += 1;
                while chars.get(k + 1).is_some_and(|c| *c == ' ' || *c == '\t') {
                    k += 1;
                    w.push(chars[k]);
                }
            }
            c if c.is_whitespace() => {
                if !w.is_empty() {
                    words.push(std::mem::take(&mut w));
                }
            }
            c => w.push(c),
        }
        k += 1;
    }
    if !w.is_empty() {
        words.push(w);
    }
    words
}

/// The heredocs a line opens: words `[N]<<[-]WORD`, WORD with its quotes removed.
fn heredocs(line: &str) -> Vec<Heredoc> {
    let mut out = Vec::new();
    for word in raw_words(line) {
        let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let Some(rest) = word[digits..].strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let rest = rest.trim_start();
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let none = |_: &str| Lookup::Literal;
        let Ok(words) = Expander::new('\\', &none).words(rest) else {
            continue;
        };
        if let [name] = words.as_slice() {
            out.push(Heredoc {
                name: name.clone(),
                chomp,
            });
        }
    }
    out
}

/// The words of an instruction's arguments, quotes kept (BuildKit's `parseWords`).
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut w = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut k = 0;
    while k < chars.len() {
        let c = chars[k];
        match quote {
            None if c.is_whitespace() => {
                if blank_ok || !w.is_empty() {
                    words.push(std::mem::take(&mut w));
                }
                blank_ok = false;
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    if k + 1 == chars.len() {
                        break;
                    }
                    w.push(c);
                    k += 1;
                }
                w.push(chars[k]);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                if c == escape && q != '\'' {
                    if k + 1 == chars.len() {
                        break;
                    }
                    w.push(c);
                    k += 1;
                }
                w.push(chars[k]);
            }
        }
        k += 1;
    }
    if blank_ok || !w.is_empty() {
        words.push(w);
    }
    words
}

/// `ENV`/`LABEL` pairs: `k=v …`, or the legacy `k v` (one pair, the rest of the line).
fn name_values(
    rest: &str,
    escape: char,
    what: &str,
    n: usize,
) -> Result<Vec<(String, String)>, ParseError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return err(n, format!("{what} needs at least one argument"));
    };
    if !first.contains('=') {
        return match rest.split_once(is_split_space) {
            Some((k, v)) => Ok(vec![(
                k.to_string(),
                v.trim_start_matches(is_split_space).to_string(),
            )]),
            None => err(n, format!("{what} must have two arguments")),
        };
    }
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            Some(_) => err(n, format!("{what} names must not be blank")),
            None => err(
                n,
                format!("can't find = in `{w}`; {what} takes name=value pairs"),
            ),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Substitution

/// What a variable is, for a substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Set(String),
    /// Not set (the build sees it unset too); why, for the message.
    Unset(String),
    /// Cannot be known offline (the builder's platform, a base image's `ENV`); why.
    Unknown(String),
    /// Left as written (heredoc terminators are not expanded).
    Literal,
}

/// Why a word cannot be told offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unresolved {
    /// The variable at fault, if one is.
    pub(crate) var: Option<String>,
    pub(crate) message: String,
}

fn unresolved<T>(var: Option<&str>, message: impl Into<String>) -> Result<T, Unresolved> {
    Err(Unresolved {
        var: var.map(str::to_string),
        message: message.into(),
    })
}

/// BuildKit's shell lexer, for one word (`ProcessWord`) or words (`ProcessWords`).
struct Expander<'a> {
    escape: char,
    lookup: &'a dyn Fn(&str) -> Lookup,
    chars: Vec<char>,
    pos: usize,
    /// The set variables the word used, in order.
    used: Vec<String>,
}

impl<'a> Expander<'a> {
    fn new(escape: char, lookup: &'a dyn Fn(&str) -> Lookup) -> Self {
        Expander {
            escape,
            lookup,
            chars: Vec::new(),
            pos: 0,
            used: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// The word with substitutions made and quotes removed.
    fn word(&mut self, word: &str) -> Result<String, Unresolved> {
        self.chars = word.chars().collect();
        self.pos = 0;
        Ok(self.until(None, false)?.0)
    }

    /// The words, split at unquoted blanks after substitution.
    fn words(&mut self, word: &str) -> Result<Vec<String>, Unresolved> {
        self.chars = word.chars().collect();
        self.pos = 0;
        Ok(self.until(None, false)?.1)
    }

    /// Processes up to `stop` (consumed) or the end: the text, and its words.
    fn until(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), Unresolved> {
        let mut result = String::new();
        let mut words: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let push_char = |cur: &mut String, in_word: &mut bool, words: &mut Vec<String>, c: char| {
            if c.is_whitespace() {
                if *in_word && !cur.is_empty() {
                    words.push(std::mem::take(cur));
                    *in_word = false;
                }
            } else {
                cur.push(c);
                *in_word = true;
            }
        };
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                if in_word || !cur.is_empty() {
                    words.push(cur);
                }
                return Ok((result, words));
            }
            match c {
                '$' => {
                    let v = self.dollar()?;
                    result.push_str(&v);
                    for ch in v.chars() {
                        push_char(&mut cur, &mut in_word, &mut words, ch);
                    }
                }
                '\'' => {
                    let v = self.single_quote()?;
                    result.push_str(&v);
                    cur.push_str(&v);
                    in_word = true;
                }
                '"' => {
                    let v = self.double_quote()?;
                    result.push_str(&v);
                    cur.push_str(&v);
                    in_word = true;
                }
                _ => {
                    self.next();
                    if c == self.escape {
                        if raw_escapes {
                            result.push(c);
                            cur.push(c);
                        }
                        let Some(e) = self.next() else { break };
                        result.push(e);
                        cur.push(e);
                        in_word = true;
                    } else {
                        result.push(c);
                        push_char(&mut cur, &mut in_word, &mut words, c);
                    }
                }
            }
        }
        if let Some(s) = stop {
            return unresolved(
                None,
                format!("unexpected end of statement while looking for matching `{s}`"),
            );
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        Ok((result, words))
    }

    fn single_quote(&mut self) -> Result<String, Unresolved> {
        self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => return unresolved(None, "a single quote without its match"),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, Unresolved> {
        self.next();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return unresolved(None, "a double quote without its match"),
                Some('"') => {
                    self.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.next();
                    let mut ch = c;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.next();
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && "@*#?-$!0".contains(c) {
                self.next();
                return c.to_string();
            }
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.next();
        }
        name
    }

    /// The value of a variable: `Ok(None)` when unset.
    fn get(&mut self, name: &str) -> Result<Option<String>, Unresolved> {
        match (self.lookup)(name) {
            Lookup::Set(v) => {
                if !self.used.iter().any(|u| u == name) {
                    self.used.push(name.to_string());
                }
                Ok(Some(v))
            }
            Lookup::Unset(_) => Ok(None),
            Lookup::Unknown(why) => unresolved(Some(name), why),
            Lookup::Literal => Ok(Some(format!("${name}"))),
        }
    }

    /// A plain use of a variable that is not set.
    fn unset_use(&self, name: &str) -> Result<String, Unresolved> {
        match (self.lookup)(name) {
            Lookup::Unset(why) => unresolved(Some(name), why),
            _ => Ok(String::new()),
        }
    }

    fn dollar(&mut self) -> Result<String, Unresolved> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return match self.get(&name)? {
                Some(v) => Ok(v),
                None => self.unset_use(&name),
            };
        }
        self.next();
        match self.peek() {
            None => return unresolved(None, "syntax error: missing `}`"),
            Some('{' | '}' | ':') => return unresolved(None, "syntax error: bad substitution"),
            _ => {}
        }
        let name = self.name();
        let Some(op) = self.next() else {
            return unresolved(None, "syntax error: missing `}`");
        };
        match op {
            '}' => match self.get(&name)? {
                Some(v) => Ok(v),
                None => self.unset_use(&name),
            },
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let (colon, op) = if op == ':' {
                    match self.next() {
                        Some(o @ ('+' | '-' | '?')) => (true, o),
                        Some(o) => {
                            return unresolved(
                                Some(&name),
                                format!("unsupported modifier `:{o}` in substitution"),
                            )
                        }
                        None => return unresolved(None, "syntax error: missing `}`"),
                    }
                } else {
                    (false, op)
                };
                let raw = op == '#' || op == '%';
                let (word, _) = self.until(Some('}'), raw)?;
                let value = self.get(&name)?;
                let empty = |v: &Option<String>| v.is_none() || (colon && v.as_deref() == Some(""));
                match op {
                    '-' => Ok(if empty(&value) {
                        word
                    } else {
                        value.unwrap_or_default()
                    }),
                    '+' => Ok(if empty(&value) { String::new() } else { word }),
                    '?' => {
                        if empty(&value) {
                            let msg = if word.is_empty() {
                                "is not allowed to be unset or empty".to_string()
                            } else {
                                word
                            };
                            return unresolved(Some(&name), format!("`${{{name}:?}}`: {msg}"));
                        }
                        Ok(value.unwrap_or_default())
                    }
                    _ => {
                        let Some(value) = value else {
                            return self.unset_use(&name);
                        };
                        let (greedy, pattern) = match word.strip_prefix(op) {
                            Some(p) => (true, p.to_string()),
                            None => (false, word),
                        };
                        trim_pattern(&value, &pattern, op == '#', greedy)
                            .ok_or(())
                            .or_else(|()| {
                                unresolved(
                                    Some(&name),
                                    format!("the pattern `{pattern}` uses brackets, which oci-stamp does not evaluate"),
                                )
                            })
                    }
                }
            }
            '/' => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let (pattern, _) = self.until(Some('/'), true)?;
                let (replacement, _) = self.until(Some('}'), true)?;
                let Some(value) = self.get(&name)? else {
                    return self.unset_use(&name);
                };
                replace_pattern(&value, &pattern, &replacement, all).ok_or(()).or_else(|()| {
                    unresolved(
                        Some(&name),
                        format!("the pattern `{pattern}` uses brackets, which oci-stamp does not evaluate"),
                    )
                })
            }
            o => unresolved(
                Some(&name),
                format!("unsupported modifier `{o}` in substitution"),
            ),
        }
    }
}

/// Whether the shell pattern (`*`, `?`, `\x`) matches all of `s`; `None` for brackets.
fn glob(p: &[char], s: &[char]) -> Option<bool> {
    match p.first() {
        None => Some(s.is_empty()),
        Some('[') => None,
        Some('*') => {
            for k in 0..=s.len() {
                if glob(&p[1..], &s[k..])? {
                    return Some(true);
                }
            }
            Some(false)
        }
        Some('?') => Some(!s.is_empty() && glob(&p[1..], &s[1..])?),
        Some('\\') if p.len() > 1 => Some(s.first() == Some(&p[1]) && glob(&p[2..], &s[1..])?),
        Some(c) => Some(s.first() == Some(c) && glob(&p[1..], &s[1..])?),
    }
}

/// `${V#p}`, `${V##p}` (prefix) and `${V%p}`, `${V%%p}` (suffix).
fn trim_pattern(value: &str, pattern: &str, prefix: bool, greedy: bool) -> Option<String> {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let lens: Vec<usize> = if greedy {
        (0..=v.len()).rev().collect()
    } else {
        (0..=v.len()).collect()
    };
    for len in lens {
        let (part, rest) = if prefix {
            (&v[..len], &v[len..])
        } else {
            (&v[v.len() - len..], &v[..v.len() - len])
        };
        if glob(&p, part)? {
            return Some(rest.iter().collect());
        }
    }
    Some(value.to_string())
}

/// `${V/p/r}` and `${V//p/r}`: the leftmost, longest matches replaced.
fn replace_pattern(value: &str, pattern: &str, replacement: &str, all: bool) -> Option<String> {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut replaced = false;
    while i <= v.len() {
        let mut found = None;
        if !replaced || all {
            for j in (i..=v.len()).rev() {
                if (j > i || !p.is_empty()) && glob(&p, &v[i..j])? {
                    found = Some(j);
                    break;
                }
            }
        }
        match found {
            Some(j) if j > i => {
                out.push_str(replacement);
                i = j;
                replaced = true;
            }
            _ => {
                if let Some(c) = v.get(i) {
                    out.push(*c);
                }
                i += 1;
            }
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Stages

/// The variables BuildKit sets for the platforms; known only when a `--build-arg` gives them.
const PLATFORM_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// A variable's value and where it came from (`--build-arg`, `ARG … (line 3)`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Var {
    lookup: Lookup,
    origin: String,
}

type Scope = BTreeMap<String, Var>;

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Root {
    /// An image reference, as written after substitution (not yet normalised).
    Image(String),
    Scratch,
    Unresolved(Unresolved),
}

/// The base image of the target stage: where its chain of stages ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Base {
    pub(crate) root: Root,
    /// The line of the `FROM` that names it, and that instruction as written.
    pub(crate) line: usize,
    pub(crate) from: String,
    /// The stages from the target down to the one built on the image (names or `#N`).
    pub(crate) chain: Vec<String>,
    /// The variables the reference used: `NAME=value (origin)`.
    pub(crate) args: Vec<String>,
}

/// A label of the target stage (its own or inherited through its chain of stages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    pub(crate) key: String,
    pub(crate) value: Result<String, Unresolved>,
    pub(crate) line: usize,
}

/// What a Dockerfile tells about the image its target stage makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Analysis {
    pub(crate) base: Base,
    /// The labels by key (a later `LABEL` overrides an earlier one).
    pub(crate) labels: BTreeMap<String, Label>,
    /// The target stage's name (`--target`, else the last stage's, if it has one).
    pub(crate) target: Option<String>,
}

/// Why there is no analysis: the text is not a Dockerfile BuildKit would build, or the
/// target names no stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnalysisError {
    Parse(ParseError),
    NoTarget { target: String, stages: Vec<String> },
}

struct Stage<'a> {
    from: &'a Instruction,
    name: Option<String>,
    base_word: String,
    commands: Vec<&'a Instruction>,
}

fn from_text(i: &Instruction) -> String {
    let mut s = String::from("FROM");
    for f in &i.flags {
        s.push(' ');
        s.push_str(f);
    }
    s.push(' ');
    s.push_str(&i.args);
    s
}

/// The `FROM` instruction's image word and stage name (`AS name`, lower-cased).
fn parse_from(i: &Instruction) -> Result<(String, Option<String>), ParseError> {
    for f in &i.flags {
        let name = f.split('=').next().unwrap_or_default();
        if name != "--platform" {
            return err(i.line, format!("unknown flag `{name}` in FROM"));
        }
        if !f.contains('=') {
            return err(i.line, "missing a value on flag --platform");
        }
    }
    let args: Vec<&str> = i
        .args
        .split(is_split_space)
        .filter(|a| !a.is_empty())
        .collect();
    match args.as_slice() {
        [image] => Ok((image.to_string(), None)),
        [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_lowercase();
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return err(i.line, format!("invalid name for build stage: `{name}`, name can't start with a number or contain symbols"));
            }
            Ok((image.to_string(), Some(name)))
        }
        _ => err(i.line, "FROM requires either one or three arguments"),
    }
}

fn lookup_in<'s>(
    scope: &'s Scope,
    fallback: &'s dyn Fn(&str) -> Lookup,
) -> impl Fn(&str) -> Lookup + 's {
    move |name: &str| match scope.get(name) {
        Some(v) => v.lookup.clone(),
        None => fallback(name),
    }
}

/// The `NAME=value (origin)` notes of the set variables a substitution used.
fn used_notes(used: &[String], scope: &Scope) -> Vec<String> {
    used.iter()
        .filter_map(|u| {
            let v = scope.get(u)?;
            match &v.lookup {
                Lookup::Set(value) => Some(format!("{u}={value} ({})", v.origin)),
                _ => None,
            }
        })
        .collect()
}

/// Reads the stages of a parsed Dockerfile: the target stage's base image and labels.
/// `build_args` are what `--build-arg` gives, as buildx would pass them.
pub(crate) fn analyse(
    df: &Dockerfile,
    target: Option<&str>,
    build_args: &BTreeMap<String, String>,
) -> Result<Analysis, AnalysisError> {
    let pe = AnalysisError::Parse;
    let escape = df.escape;
    let mut meta: Vec<&Instruction> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for i in &df.instructions {
        if i.keyword == "FROM" {
            let (base_word, name) = parse_from(i).map_err(pe)?;
            stages.push(Stage {
                from: i,
                name,
                base_word,
                commands: Vec::new(),
            });
        } else if let Some(s) = stages.last_mut() {
            s.commands.push(i);
        } else if i.keyword == "ARG" {
            meta.push(i);
        } else {
            return Err(pe(ParseError {
                line: i.line,
                message: format!(
                    "{} before the first FROM (only ARG may come before it)",
                    i.keyword
                ),
            }));
        }
    }
    if stages.is_empty() {
        return Err(pe(ParseError {
            line: 0,
            message: "no FROM: the Dockerfile has no stage to build".into(),
        }));
    }
    let target_index = match target {
        Some(t) => stages
            .iter()
            .position(|s| s.name.as_deref() == Some(t.to_lowercase().as_str()))
            .ok_or_else(|| AnalysisError::NoTarget {
                target: t.to_string(),
                stages: stages.iter().filter_map(|s| s.name.clone()).collect(),
            })?,
        None => stages.len() - 1,
    };
    let target_name = stages[target_index].name.clone();

    // The global scope: the platforms, the target stage, the ARGs before the first FROM.
    let mut global: Scope = BTreeMap::new();
    for name in PLATFORM_ARGS {
        let var = match build_args.get(*name) {
            Some(v) => Var {
                lookup: Lookup::Set(v.clone()),
                origin: "--build-arg".into(),
            },
            None => Var {
                lookup: Lookup::Unknown(format!("`{name}` is set by the builder for the platform it builds; pass --build-arg {name}=… to oci-stamp")),
                origin: "the builder".into(),
            },
        };
        global.insert(name.to_string(), var);
    }
    global.insert(
        "TARGETSTAGE".into(),
        Var {
            lookup: Lookup::Set(
                build_args
                    .get("TARGETSTAGE")
                    .cloned()
                    .or_else(|| target_name.clone())
                    .unwrap_or_else(|| "default".into()),
            ),
            origin: "the target stage".into(),
        },
    );
    let undeclared = |name: &str| {
        Lookup::Unset(format!(
            "`{name}` is not declared by an ARG before the first FROM (a --build-arg reaches FROM only through one)"
        ))
    };
    for a in &meta {
        for word in parse_words(&a.args, escape) {
            let (key, default) = match word.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (word.clone(), None),
            };
            let origin = format!("ARG on line {}", a.line);
            let var = if let Some(v) = build_args.get(&key) {
                Some(Var {
                    lookup: Lookup::Set(v.clone()),
                    origin: "--build-arg".into(),
                })
            } else if let Some(d) = default {
                let scope = global.clone();
                let look = lookup_in(&scope, &undeclared);
                let mut x = Expander::new(escape, &look);
                Some(Var {
                    lookup: match x.word(&d) {
                        Ok(v) => Lookup::Set(v),
                        Err(u) => Lookup::Unknown(format!(
                            "the default of `{key}` (line {}) cannot be told: {}",
                            a.line, u.message
                        )),
                    },
                    origin: format!("default, {origin}"),
                })
            } else if global.contains_key(&key) {
                None
            } else {
                Some(Var {
                    lookup: Lookup::Unset(format!(
                        "`{key}` (ARG on line {}) has no default value, and no --build-arg gives one",
                        a.line
                    )),
                    origin,
                })
            };
            if let Some(var) = var {
                global.insert(key, var);
            }
        }
    }

    // Each stage's root: an image, scratch, an earlier stage (by its lower-cased name).
    enum From {
        Image(String),
        Stage(usize),
        Scratch,
        Unresolved(Unresolved),
    }
    let mut froms: Vec<(From, Vec<String>)> = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (k, s) in stages.iter().enumerate() {
        let look = lookup_in(&global, &undeclared);
        let mut x = Expander::new(escape, &look);
        let f = match x.word(&s.base_word) {
            Ok(name) if name.is_empty() => From::Unresolved(Unresolved {
                var: None,
                message: format!("the base name (`{}`) is blank", s.base_word),
            }),
            Ok(name) => match names.get(&name) {
                Some(j) => From::Stage(*j),
                None if name == "scratch" => From::Scratch,
                None => From::Image(name),
            },
            Err(u) => From::Unresolved(u),
        };
        froms.push((f, used_notes(&x.used, &global)));
        if let Some(n) = &s.name {
            names.insert(n.clone(), k);
        }
    }

    let label_of = |k: usize| stages[k].name.clone().unwrap_or_else(|| format!("#{k}"));
    let mut chain = vec![target_index];
    let mut at = target_index;
    while let From::Stage(j) = froms[at].0 {
        chain.push(j);
        at = j;
    }
    let (root, args) = match &froms[at] {
        (From::Image(n), a) => (Root::Image(n.clone()), a.clone()),
        (From::Scratch, a) => (Root::Scratch, a.clone()),
        (From::Unresolved(u), a) => (Root::Unresolved(u.clone()), a.clone()),
        (From::Stage(_), _) => unreachable!("the chain ends at a stage that names no stage"),
    };
    let base = Base {
        root: root.clone(),
        line: stages[at].from.line,
        from: from_text(stages[at].from),
        chain: chain.iter().map(|k| label_of(*k)).collect(),
        args,
    };

    // The labels, root stage first: its ARG, ENV and LABEL instructions in order.
    let image_env = |name: &str| match &root {
        Root::Scratch => {
            Lookup::Unset(format!("`{name}` is not set by an ARG or ENV of the stage"))
        }
        _ => Lookup::Unknown(format!(
            "`{name}` is not set by an ARG or ENV of the stage (the base image's ENV may set it)"
        )),
    };
    let mut scope: Scope = BTreeMap::new();
    let mut labels = BTreeMap::new();
    for k in chain.iter().rev() {
        for i in &stages[*k].commands {
            match i.keyword.as_str() {
                "ARG" => {
                    for word in parse_words(&i.args, escape) {
                        let (key, default) = match word.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (word.clone(), None),
                        };
                        let lookup = if let Some(v) = build_args.get(&key) {
                            Some(Lookup::Set(v.clone()))
                        } else if let Some(d) = default {
                            let look = lookup_in(&scope, &image_env);
                            let mut x = Expander::new(escape, &look);
                            Some(match x.word(&d) {
                                Ok(v) => Lookup::Set(v),
                                Err(u) => Lookup::Unknown(u.message),
                            })
                        } else {
                            match global.get(&key).map(|v| &v.lookup) {
                                Some(l @ (Lookup::Set(_) | Lookup::Unknown(_))) => Some(l.clone()),
                                _ if scope.contains_key(&key) => None,
                                _ => Some(Lookup::Unset(format!(
                                    "`{key}` (ARG on line {}) has no default value, and no --build-arg gives one",
                                    i.line
                                ))),
                            }
                        };
                        if let Some(lookup) = lookup {
                            scope.insert(
                                key,
                                Var {
                                    lookup,
                                    origin: format!("ARG on line {}", i.line),
                                },
                            );
                        }
                    }
                }
                "ENV" | "LABEL" => {
                    let pairs = name_values(&i.args, escape, &i.keyword, i.line).map_err(pe)?;
                    for (key, value) in pairs {
                        let (key, value) = {
                            let look = lookup_in(&scope, &image_env);
                            let mut x = Expander::new(escape, &look);
                            (x.word(&key), x.word(&value))
                        };
                        if i.keyword == "ENV" {
                            if let Ok(key) = key {
                                let lookup = match value {
                                    Ok(v) => Lookup::Set(v),
                                    Err(u) => Lookup::Unknown(u.message),
                                };
                                scope.insert(
                                    key,
                                    Var {
                                        lookup,
                                        origin: format!("ENV on line {}", i.line),
                                    },
                                );
                            }
                        } else if let Ok(key) = key {
                            labels.insert(
                                key.clone(),
                                Label {
                                    key,
                                    value,
                                    line: i.line,
                                },
                            );
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Analysis {
        base,
        labels,
        target: target_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn analysis(text: &str, target: Option<&str>, build: &[(&str, &str)]) -> Analysis {
        let df = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        analyse(&df, target, &args(build)).unwrap_or_else(|e| panic!("{e:?}\n{text}"))
    }

    fn base(text: &str, target: Option<&str>, build: &[(&str, &str)]) -> Root {
        analysis(text, target, build).base.root
    }

    fn image(s: &str) -> Root {
        Root::Image(s.into())
    }

    fn unresolved_var(root: &Root) -> Option<String> {
        match root {
            Root::Unresolved(u) => u.var.clone(),
            other => panic!("resolved: {other:?}"),
        }
    }

    #[test]
    fn one_stage_and_the_last_of_many() {
        assert_eq!(
            base("FROM alpine:3.20\nRUN true\n", None, &[]),
            image("alpine:3.20")
        );
        let multi = "FROM golang:1.22 AS build\nRUN go build\nFROM alpine:3.20 AS final\nCOPY --from=build /x /x\n";
        assert_eq!(base(multi, None, &[]), image("alpine:3.20"));
        assert_eq!(base(multi, Some("build"), &[]), image("golang:1.22"));
        assert_eq!(base(multi, Some("BUILD"), &[]), image("golang:1.22"));
        assert_eq!(
            analyse(&parse(multi).unwrap(), Some("nope"), &args(&[])),
            Err(AnalysisError::NoTarget {
                target: "nope".into(),
                stages: vec!["build".into(), "final".into()]
            })
        );
        let a = analysis(multi, None, &[]);
        assert_eq!(
            (a.base.line, a.base.from.as_str()),
            (3, "FROM alpine:3.20 AS final")
        );
    }

    #[test]
    fn keywords_and_as_are_case_insensitive() {
        let a = analysis(
            "from --platform=$BUILDPLATFORM alpine as Base\nfrom base\n",
            None,
            &[],
        );
        assert_eq!(a.base.root, image("alpine"));
        assert_eq!(a.base.chain, ["#1", "base"]);
        assert_eq!(a.base.from, "FROM --platform=$BUILDPLATFORM alpine as Base");
    }

    #[test]
    fn stage_chains_lead_to_the_image() {
        let text =
            "FROM debian:12 AS os\nLABEL a=1\nFROM os AS tools\nLABEL b=2\nFROM tools\nLABEL a=3\n";
        let a = analysis(text, None, &[]);
        assert_eq!(a.base.root, image("debian:12"));
        assert_eq!(a.base.line, 1);
        assert_eq!(a.base.chain, ["#2", "tools", "os"]);
        let labels: Vec<(&str, &str)> = a
            .labels
            .values()
            .map(|l| (l.key.as_str(), l.value.as_deref().unwrap()))
            .collect();
        assert_eq!(labels, [("a", "3"), ("b", "2")]);
        // a stage named only later is an image, as BuildKit reads it
        assert_eq!(
            base("FROM later\nFROM alpine AS later\n", Some("later"), &[]),
            image("alpine")
        );
        assert_eq!(
            base("FROM alpine AS later\nFROM later\n", None, &[]),
            image("alpine")
        );
    }

    #[test]
    fn scratch_is_no_base() {
        assert_eq!(base("FROM scratch\nCOPY x /\n", None, &[]), Root::Scratch);
        assert_eq!(
            base("FROM scratch AS s\nFROM s\n", None, &[]),
            Root::Scratch
        );
    }

    #[test]
    fn meta_args_defaults_and_build_args() {
        let text = "ARG REG=ghcr.io\nARG NAME=${REG}/o/r\nARG TAG\nFROM ${NAME}:${TAG:-1.0}\n";
        assert_eq!(base(text, None, &[]), image("ghcr.io/o/r:1.0"));
        assert_eq!(base(text, None, &[("TAG", "2")]), image("ghcr.io/o/r:2"));
        assert_eq!(
            base(text, None, &[("REG", "quay.io")]),
            image("quay.io/o/r:1.0")
        );
        // a build arg overrides a default, and the defaults after it see it
        let a = analysis(text, None, &[("TAG", "2")]);
        assert_eq!(
            a.base.args,
            [
                "NAME=ghcr.io/o/r (default, ARG on line 2)",
                "TAG=2 (--build-arg)"
            ]
        );
        // a --build-arg with an empty value is set, and empty
        assert_eq!(base(text, None, &[("TAG", "")]), image("ghcr.io/o/r:1.0"));
        assert_eq!(
            base("ARG T=x\nFROM a${T:+-}${T}\n", None, &[]),
            image("a-x")
        );
        assert_eq!(base("ARG T\nFROM a${T:+-}${T-}\n", None, &[]), image("a"));
        assert_eq!(
            base("ARG T\nFROM a${T+-}b\n", None, &[("T", "")]),
            image("a-b")
        );
        assert_eq!(
            base("ARG T\nFROM a${T:+-}b\n", None, &[("T", "")]),
            image("ab")
        );
        assert_eq!(base("ARG V=alpine\nFROM $V\n", None, &[]), image("alpine"));
        assert_eq!(
            base("ARG V=\"al-pine\"\nFROM ${V/-/}\n", None, &[]),
            image("alpine")
        );
        assert_eq!(
            base("ARG V=a:1.2.3\nFROM ${V%.*}\n", None, &[]),
            image("a:1.2")
        );
        assert_eq!(
            base("ARG V=a:1.2.3\nFROM ${V%%.*}\n", None, &[]),
            image("a:1")
        );
        assert_eq!(base("ARG V=x/y/z\nFROM ${V#*/}\n", None, &[]), image("y/z"));
        assert_eq!(base("ARG V=x/y/z\nFROM ${V##*/}\n", None, &[]), image("z"));
        assert_eq!(
            base("ARG V=a-b-c\nFROM ${V//-/_}\n", None, &[]),
            image("a_b_c")
        );
        // redeclared without a value: keeps the earlier value
        assert_eq!(base("ARG V=a\nARG V\nFROM $V\n", None, &[]), image("a"));
        // ARGs after the first FROM do not reach a later FROM
        assert_eq!(
            unresolved_var(&base("FROM a\nARG V=b\nFROM $V\n", None, &[])).as_deref(),
            Some("V")
        );
    }

    #[test]
    fn unresolvable_references_name_the_variable() {
        let r = base("ARG BASE\nFROM $BASE\n", None, &[]);
        assert_eq!(unresolved_var(&r).as_deref(), Some("BASE"));
        let Root::Unresolved(u) = &r else {
            unreachable!()
        };
        assert!(u.message.contains("no default value"), "{}", u.message);
        let r = base("FROM alpine:${VERSION}\n", None, &[("VERSION", "3")]);
        let Root::Unresolved(u) = &r else {
            panic!("{r:?}")
        };
        assert!(
            u.message.contains("not declared by an ARG"),
            "{}",
            u.message
        );
        let r = base("FROM img-${TARGETARCH}\n", None, &[]);
        assert_eq!(unresolved_var(&r).as_deref(), Some("TARGETARCH"));
        assert_eq!(
            base("FROM img-${TARGETARCH}\n", None, &[("TARGETARCH", "arm64")]),
            image("img-arm64")
        );
        // a default does not help when the value cannot be known
        let r = base("FROM img-${TARGETARCH:-x}\n", None, &[]);
        assert_eq!(unresolved_var(&r).as_deref(), Some("TARGETARCH"));
        assert_eq!(
            unresolved_var(&base("ARG V\nFROM ${V:?needed}\n", None, &[])).as_deref(),
            Some("V")
        );
        assert_eq!(
            unresolved_var(&base("ARG V=x\nFROM ${V:3}\n", None, &[])).as_deref(),
            Some("V")
        );
        assert!(matches!(
            base("ARG V=x\nFROM ${V\n", None, &[]),
            Root::Unresolved(_)
        ));
        // the platform in --platform does not matter for the name
        assert_eq!(
            base("FROM --platform=$TARGETPLATFORM alpine\n", None, &[]),
            image("alpine")
        );
        // the target stage's name is known
        assert_eq!(
            base("FROM img-$TARGETSTAGE AS x\n", None, &[]),
            image("img-x")
        );
    }

    #[test]
    fn continuations_comments_and_blank_lines() {
        let text =
            "# a comment\n\nFROM \\\n  # inside\n\n    alpine:3.20 \\  \n    AS base\nFROM base\n";
        let a = analysis(text, None, &[]);
        assert_eq!(a.base.root, image("alpine:3.20"));
        assert_eq!(a.base.line, 3);
        // an escaped escape does not continue
        let df = parse("FROM a\nRUN echo \\\\\nFROM b\n").unwrap();
        assert_eq!(df.instructions.len(), 3);
        // CRLF line ends
        assert_eq!(
            base("FROM a \\\r\n  AS x\r\nFROM x\r\n", None, &[]),
            image("a")
        );
    }

    #[test]
    fn the_escape_directive() {
        let text = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n  AS base\nRUN dir c:\\\nFROM base\n";
        let a = analysis(text, None, &[]);
        assert_eq!(
            a.base.root,
            image("mcr.microsoft.com/windows/servercore:ltsc2022")
        );
        // a directive after anything else is a comment
        let df = parse("# comment\n# escape=`\nFROM a `\n AS b\n").unwrap();
        assert_eq!(df.escape, '\\');
        assert!(parse("# escape=x\nFROM a\n").is_err());
        assert!(parse("# escape=`\n# ESCAPE=`\nFROM a\n").is_err());
        let df = parse("# syntax=docker/dockerfile:1\n#escape = `\nFROM a\n").unwrap();
        assert_eq!(df.escape, '`');
    }

    #[test]
    fn heredocs_are_skipped() {
        let text = "FROM alpine AS one\nRUN <<EOF\nFROM evil\nEOF\nRUN <<-\"END\" cat >/x && <<'TWO' sh\n\t\tFROM evil2\n\tEND\nFROM evil3\nTWO\nCOPY <<EOF /etc/x\nFROM evil4\nEOF\nLABEL k=v\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nFROM two\n";
        let df = parse(text).unwrap();
        let kw: Vec<&str> = df.instructions.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(kw, ["FROM", "RUN", "RUN", "COPY", "LABEL", "RUN", "FROM"]);
        assert_eq!(df.instructions[6].line, 15);
        // in other instructions `<<` is text
        let df = parse("FROM a\nLABEL x=<<EOF\nFROM b\n").unwrap();
        assert_eq!(df.instructions.len(), 3);
        // a quoted `<<` is no heredoc
        let df = parse("FROM a\nRUN echo '<<EOF'\nFROM b\n").unwrap();
        assert_eq!(df.instructions.len(), 3);
        // `<< EOF` and a file descriptor
        let df = parse("FROM a\nRUN 3<< EOF cat\nFROM x\nEOF\nFROM b\n").unwrap();
        assert_eq!(df.instructions.len(), 3);
        assert_eq!(parse("FROM a\nRUN <<EOF\nno end\n").unwrap_err().line, 2);
        // ONBUILD RUN carries heredocs too
        let df = parse("FROM a\nONBUILD RUN <<EOF\nFROM x\nEOF\n").unwrap();
        assert_eq!(df.instructions.len(), 2);
        assert_eq!(
            heredocs("RUN <<EOF cat"),
            [Heredoc {
                name: "EOF".into(),
                chomp: false
            }]
        );
        assert_eq!(
            heredocs("RUN <<-E\"O\"F"),
            [Heredoc {
                name: "EOF".into(),
                chomp: true
            }]
        );
    }

    #[test]
    fn labels_with_substitution_and_legacy_form() {
        let text = "FROM alpine\nARG VERSION=1.2\nENV NAME=\"my app\"\nLABEL org.opencontainers.image.version=$VERSION \\\n      \"org.opencontainers.image.title\"=\"${NAME}\"\nLABEL maintainer Someone <a@b.c>\nLABEL x=${UNKNOWN} y='$VERSION'\n";
        let a = analysis(text, None, &[]);
        let v = |k: &str| a.labels[k].value.clone();
        assert_eq!(v("org.opencontainers.image.version").as_deref(), Ok("1.2"));
        assert_eq!(v("org.opencontainers.image.title").as_deref(), Ok("my app"));
        assert_eq!(v("maintainer").as_deref(), Ok("Someone <a@b.c>"));
        assert_eq!(v("y").as_deref(), Ok("$VERSION"));
        assert_eq!(v("x").unwrap_err().var.as_deref(), Some("UNKNOWN"));
        assert_eq!(a.labels["org.opencontainers.image.title"].line, 4);
        let b = analysis(text, None, &[("VERSION", "9")]);
        assert_eq!(
            b.labels["org.opencontainers.image.version"]
                .value
                .as_deref(),
            Ok("9")
        );
        // a meta ARG reaches a stage only when the stage declares it again
        let text = "ARG V=1\nFROM alpine\nLABEL a=$V\nARG V\nLABEL b=$V\n";
        let a = analysis(text, None, &[]);
        assert!(a.labels["a"].value.is_err());
        assert_eq!(a.labels["b"].value.as_deref(), Ok("1"));
        // a stage ARG without a value, no build arg
        let a = analysis("FROM scratch\nARG V\nLABEL a=$V\n", None, &[]);
        assert_eq!(
            a.labels["a"].value.clone().unwrap_err().var.as_deref(),
            Some("V")
        );
    }

    #[test]
    fn malformed_files_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("# only a comment\n").is_err());
        let e = |t: &str| match analyse(&parse(t).unwrap(), None, &args(&[])) {
            Err(AnalysisError::Parse(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(e("RUN x\nFROM a\n").line, 1);
        assert!(e("FROM a b\n").message.contains("one or three"));
        assert!(e("FROM a AS 1x\n").message.contains("invalid name"));
        assert!(e("FROM --pull=always a\n").message.contains("unknown flag"));
        assert!(e("ARG X=1\n").message.contains("no FROM"));
        assert!(e("FROM a\nLABEL k\n").message.contains("two arguments"));
    }

    #[test]
    fn words_and_quotes() {
        let none = |_: &str| Lookup::Unset("unset".into());
        let mut x = Expander::new('\\', &none);
        assert_eq!(x.word(r#""a b"'c d'e\ f"#).unwrap(), "a bc de f");
        assert_eq!(x.words(r#"a "b c" d"#).unwrap(), ["a", "b c", "d"]);
        assert_eq!(x.word(r#""\$x\"\q""#).unwrap(), r#"$x"\q"#);
        assert_eq!(x.word("$").unwrap(), "$");
        assert!(x.word("'open").is_err());
        let mut y = Expander::new('`', &none);
        assert_eq!(y.word(r"c:\dir `$x").unwrap(), r"c:\dir $x");
        assert_eq!(parse_words(r#"a="b c" d"#, '\\'), [r#"a="b c""#, "d"]);
        assert_eq!(
            extract_flags("--platform=linux/amd64 alpine AS x", '\\'),
            ("alpine AS x".into(), vec!["--platform=linux/amd64".into()])
        );
        assert_eq!(trim_continuation("abc \\ \t", '\\'), ("abc ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", true));
    }
}
