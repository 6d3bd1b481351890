//! Cutting text to a length, for logs and messages: one place, so every cut lands on a
//! character boundary; and making text a module wrote safe to print.

/// The longest prefix of `s` that is at most `max` bytes and ends on a character boundary.
pub fn cut_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max` characters, with `…` after a cut.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// `s` safe for a log line or a terminal, cut to at most `max` bytes first: control characters
/// (newlines, carriage returns, escape sequences, C1 controls) and the characters that reorder
/// text on screen (bidirectional overrides and isolates) are written as `\n`, `\r`, `\t` or
/// `\u{..}`, so text a module controls can neither forge a log line nor drive the operator's
/// terminal. Other characters, any script or emoji, stay as they are.
pub fn printable(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    escaped(cut_bytes(s, max), false)
}

/// Like [`printable`], uncut and keeping newlines and tabs: for a value printed whole on the
/// operator's terminal (`botbox kv get`), where lines are the value's own.
pub fn printable_lines(s: &str) -> std::borrow::Cow<'_, str> {
    escaped(s, true)
}

fn escaped(s: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let kept = |c: char| keep_lines && (c == '\n' || c == '\t');
    if !s.chars().any(|c| needs_escape(c) && !kept(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            c if kept(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_cut_never_splits_a_character() {
        assert_eq!(cut_bytes("héllo", 2), "h");
        assert_eq!(cut_bytes("héllo", 3), "hé");
        assert_eq!(cut_bytes("hi", 10), "hi");
    }

    #[test]
    fn printable_text_cannot_forge_a_line_or_drive_a_terminal() {
        assert_eq!(
            printable("ok\n2026-12-04 INFO botbox: fake", 100),
            "ok\\n2026-12-04 INFO botbox: fake"
        );
        assert_eq!(
            printable("\u{1b}[2J\u{1b}]0;title\u{7}", 100),
            "\\u{1b}[2J\\u{1b}]0;title\\u{7}"
        );
        assert_eq!(printable("a\u{202e}cba", 100), "a\\u{202e}cba");
        assert_eq!(printable("\u{9b}31m", 100), "\\u{9b}31m");
        // Any script and emoji stay; only what was cut goes.
        assert_eq!(printable("Привет 🎲", 100), "Привет 🎲");
        assert_eq!(printable("héllo", 2), "h");
        assert_eq!(printable_lines("a\n\tb\u{1b}[0m"), "a\n\tb\\u{1b}[0m");
    }

    #[test]
    fn a_character_cut_counts_characters_and_marks_the_cut() {
        assert_eq!(cut("ééé", 2), "éé…");
        assert_eq!(cut("ééé", 3), "ééé");
        assert_eq!(cut("", 0), "");
    }
}
