//! `parse_mode=MarkdownV2` and the legacy `Markdown`.

use super::{Entity, Formatted};

/// Characters MarkdownV2 reserves: outside code they must be escaped with `\`.
const RESERVED: &str = "_*[]()~`>#+-=|{}.!";

/// An entity waiting for its closing delimiter.
struct Open {
    kind: &'static str,
    name: &'static str,
    start: usize,
    byte: usize,
}

/// The text being built, with its length in UTF-16 units.
#[derive(Default)]
struct Out {
    formatted: Formatted,
    utf16: usize,
}

impl Out {
    fn push(&mut self, c: char) {
        self.formatted.text.push(c);
        self.utf16 += c.len_utf16();
    }

    fn entity(&mut self, kind: &'static str, start: usize, extra: Option<(&'static str, String)>) {
        self.formatted.entities.push(Entity {
            kind,
            offset: start,
            length: self.utf16 - start,
            extra,
        });
    }
}

/// Parses MarkdownV2; the error is what follows "can't parse entities: ".
pub(super) fn parse_v2(input: &str) -> Result<Formatted, String> {
    let mut out = Out::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut quote: Option<usize> = None;
    let mut line_start = true;
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        let next = input[i + c.len_utf8()..].chars().next();
        if line_start {
            if c == '>' {
                quote.get_or_insert(out.utf16);
                i += 1;
                line_start = false;
                continue;
            }
            if let Some(start) = quote.take() {
                // The quote ended with the previous line, whose newline it does not include.
                out.utf16 -= 1;
                out.entity("blockquote", start, None);
                out.utf16 += 1;
            }
        }
        line_start = c == '\n';
        let toggle = |kind, name, width: usize, out: &mut Out, stack: &mut Vec<Open>| {
            match stack.iter().rposition(|open| open.kind == kind) {
                Some(at) => {
                    let open = stack.remove(at);
                    out.entity(kind, open.start, None);
                }
                None => stack.push(Open {
                    kind,
                    name,
                    start: out.utf16,
                    byte: i,
                }),
            }
            width
        };
        i += match (c, next) {
            ('\\', Some(escaped)) if (escaped as u32) < 127 => {
                out.push(escaped);
                1 + escaped.len_utf8()
            }
            ('*', _) => toggle("bold", "Bold", 1, &mut out, &mut stack),
            ('_', Some('_')) => toggle("underline", "Underline", 2, &mut out, &mut stack),
            ('_', _) => toggle("italic", "Italic", 1, &mut out, &mut stack),
            ('~', _) => toggle("strikethrough", "Strikethrough", 1, &mut out, &mut stack),
            ('|', Some('|')) => toggle("spoiler", "Spoiler", 2, &mut out, &mut stack),
            ('`', _) => code(&input[i..], i, &mut out)?,
            ('[', _) => {
                stack.push(Open {
                    kind: "text_link",
                    name: "TextUrl",
                    start: out.utf16,
                    byte: i,
                });
                1
            }
            ('!', Some('[')) => {
                stack.push(Open {
                    kind: "custom_emoji",
                    name: "CustomEmoji",
                    start: out.utf16,
                    byte: i,
                });
                2
            }
            (']', _)
                if stack
                    .iter()
                    .any(|open| matches!(open.kind, "text_link" | "custom_emoji")) =>
            {
                let at = stack
                    .iter()
                    .rposition(|open| matches!(open.kind, "text_link" | "custom_emoji"))
                    .unwrap_or_default();
                let open = stack.remove(at);
                let rest = &input[i + 1..];
                let url_len = rest
                    .strip_prefix('(')
                    .and_then(|rest| find_unescaped(rest, ')'))
                    .ok_or_else(|| format!("Can't find end of a URL at byte offset {}", i + 1))?;
                let url = unescape(&rest[1..1 + url_len]);
                let extra = if open.kind == "custom_emoji" {
                    let id = url.rsplit("id=").next().unwrap_or_default().to_owned();
                    ("custom_emoji_id", id)
                } else {
                    ("url", url)
                };
                out.entity(open.kind, open.start, Some(extra));
                url_len + 3
            }
            _ if RESERVED.contains(c) => {
                return Err(format!(
                    "Character '{c}' is reserved and must be escaped with the preceding '\\'"
                ));
            }
            _ => {
                out.push(c);
                c.len_utf8()
            }
        };
    }
    if let Some(start) = quote {
        out.entity("blockquote", start, None);
    }
    match stack.first() {
        Some(open) => Err(format!(
            "Can't find end of {} entity at byte offset {}",
            open.name, open.byte
        )),
        None => Ok(out.formatted),
    }
}

/// Inline code or a ``` block at the start of `rest` (byte `at` of the input); returns the
/// bytes it spans.
fn code(rest: &str, at: usize, out: &mut Out) -> Result<usize, String> {
    if let Some(block) = rest.strip_prefix("```") {
        let end = block
            .find("```")
            .ok_or_else(|| format!("Can't find end of Pre entity at byte offset {at}"))?;
        let mut body = &block[..end];
        let mut language = None;
        if let Some((first, tail)) = body.split_once('\n')
            && !first.is_empty()
            && !first.contains(char::is_whitespace)
        {
            language = Some(("language", first.to_owned()));
            body = tail;
        }
        let start = out.utf16;
        unescape(body).chars().for_each(|c| out.push(c));
        out.entity("pre", start, language);
        return Ok(3 + end + 3);
    }
    let end = find_unescaped(&rest[1..], '`')
        .ok_or_else(|| format!("Can't find end of Code entity at byte offset {at}"))?;
    let start = out.utf16;
    unescape(&rest[1..1 + end])
        .chars()
        .for_each(|c| out.push(c));
    out.entity("code", start, None);
    Ok(1 + end + 1)
}

/// The byte offset of the first `wanted` not preceded by `\`.
fn find_unescaped(text: &str, wanted: char) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            _ if c == wanted => return Some(at),
            _ => {}
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

/// Parses the legacy Markdown: `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ```` and
/// `[text](url)`, without nesting; `\` escapes only those delimiters.
pub(super) fn parse_legacy(input: &str) -> Result<Formatted, String> {
    let mut out = Out::default();
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        let next = input[i + c.len_utf8()..].chars().next();
        let unclosed = || format!("Can't find end of the entity starting at byte offset {i}");
        i += match (c, next) {
            ('\\', Some(escaped @ ('_' | '*' | '`' | '['))) => {
                out.push(escaped);
                2
            }
            ('`', _) => code(&input[i..], i, &mut out).map_err(|_| unclosed())?,
            ('*' | '_', _) => {
                let end = input[i + 1..].find(c).ok_or_else(unclosed)?;
                let start = out.utf16;
                input[i + 1..i + 1 + end].chars().for_each(|c| out.push(c));
                out.entity(if c == '*' { "bold" } else { "italic" }, start, None);
                end + 2
            }
            ('[', _) => {
                let close = input[i..].find("](").ok_or_else(unclosed)?;
                let url_end = input[i + close..].find(')').ok_or_else(unclosed)?;
                let start = out.utf16;
                input[i + 1..i + close].chars().for_each(|c| out.push(c));
                let url = input[i + close + 2..i + close + url_end].to_owned();
                out.entity("text_link", start, Some(("url", url)));
                close + url_end + 1
            }
            _ => {
                out.push(c);
                c.len_utf8()
            }
        };
    }
    Ok(out.formatted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_v2_refuses_unescaped_reserved_characters() {
        assert_eq!(
            parse_v2("Done.").unwrap_err(),
            "Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        let parsed = parse_v2("*Done*\\. [site](https://a.b/\\)) `x\\`y`").expect("valid");
        assert_eq!(parsed.text, "Done. site x`y");
        let kinds: Vec<_> = parsed.entities.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["bold", "text_link", "code"]);
        assert_eq!(
            parsed.entities[1].extra,
            Some(("url", "https://a.b/)".to_owned()))
        );
    }

    #[test]
    fn markdown_v2_reports_unclosed_entities() {
        assert_eq!(
            parse_v2("a *b").unwrap_err(),
            "Can't find end of Bold entity at byte offset 2"
        );
    }

    #[test]
    fn markdown_v2_quotes_lines_starting_with_a_greater_than_sign() {
        let parsed = parse_v2(">quoted\n>more\nplain").expect("valid");
        assert_eq!(parsed.text, "quoted\nmore\nplain");
        assert_eq!(
            (parsed.entities[0].offset, parsed.entities[0].length),
            (0, 11)
        );
    }

    #[test]
    fn legacy_markdown_formats_without_escaping_everything() {
        let parsed = parse_legacy("*bold* and 1.5 - ok").expect("valid");
        assert_eq!(parsed.text, "bold and 1.5 - ok");
        assert!(parse_legacy("*open").is_err());
    }
}
