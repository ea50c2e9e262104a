//! POSIX shell words: what `eval`, `sh -c` and a Makefile recipe read back as the same
//! bytes. Words made only of safe characters are left bare; anything else is single-quoted,
//! with `'` written as `'\''`.

/// Characters that need no quoting in any POSIX shell.
fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'_' | b'-' | b'.' | b'/' | b',' | b'+' | b'@' | b'%' | b':' | b'='
        )
}

/// One word, quoted when it must be.
pub(crate) fn quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(is_safe) && !word.starts_with('=') {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Words joined by single spaces, each quoted as needed.
pub(crate) fn join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("--annotation"), "--annotation");
        assert_eq!(quote("manifest:a.b=1.0"), "manifest:a.b=1.0");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$HOME `x` \\"), "'$HOME `x` \\'");
        assert_eq!(join(&["a", "b c"]), "a 'b c'");
    }
}
