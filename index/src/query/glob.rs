//! fnmatch globs: what makes a value one, how it becomes a regular expression, and how a
//! literal is written inside one.

/// Escapes the glob characters of `literal`, so that it can be part of a [`super::Value::Glob`] and
/// match itself only (`a*b` becomes `a[*]b`).
pub fn escape_glob(literal: &str) -> String {
    let mut escaped = String::with_capacity(literal.len());
    for c in literal.chars() {
        if matches!(c, '*' | '?' | '[') {
            escaped.push('[');
            escaped.push(c);
            escaped.push(']');
        } else {
            escaped.push(c);
        }
    }
    escaped
}

pub(super) fn is_glob(value: &str) -> bool {
    value.contains(['*', '?', '['])
}

/// Translates an fnmatch glob into an anchored regular expression; `any` is what `*` matches.
pub(super) fn glob_to_regex(glob: &str, any: &str) -> String {
    let mut regex = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => regex.push_str(any),
            '?' => regex.push_str(&any[..any.len() - 1]),
            '[' => {
                let class: String = chars.clone().take_while(|&c| c != ']').collect();
                if chars.clone().any(|c| c == ']') && !class.is_empty() {
                    chars.nth(class.chars().count());
                    let class = class
                        .strip_prefix('!')
                        .map_or(class.clone(), |rest| format!("^{rest}"));
                    regex.push('[');
                    regex.push_str(&class.replace('\\', "\\\\").replace('[', "\\["));
                    regex.push(']');
                } else {
                    regex.push_str("\\[");
                }
            }
            _ => regex.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_globs_match_themselves() {
        let glob = escape_glob("a*b?[c]");
        assert_eq!(glob, "a[*]b[?][[]c]");
        let regex = regex::Regex::new(&format!("^{}$", glob_to_regex(&glob, ".*"))).unwrap();
        assert!(regex.is_match("a*b?[c]"));
        assert!(!regex.is_match("axbx[c]"));
    }

    #[test]
    fn globs_translate_like_fnmatch() {
        assert_eq!(glob_to_regex("*_N0500_*", "[^/]*"), "[^/]*_N0500_[^/]*");
        assert_eq!(glob_to_regex("a?c.zip", ".*"), "a.c\\.zip");
        assert_eq!(glob_to_regex("[!ab]x", ".*"), "[^ab]x");
        assert_eq!(glob_to_regex("[x", ".*"), "\\[x");
    }
}
