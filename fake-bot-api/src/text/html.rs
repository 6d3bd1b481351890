//! `parse_mode=HTML`.

use super::{Entity, Formatted};

/// A start tag waiting for its end tag.
struct Open {
    tag: String,
    kind: &'static str,
    start: usize,
    extra: Option<(&'static str, String)>,
}

/// Parses Telegram's HTML subset; the error is what follows "can't parse entities: ".
pub(super) fn parse(input: &str) -> Result<Formatted, String> {
    let mut out = Formatted::default();
    let mut utf16 = 0;
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    while let Some(c) = input[i..].chars().next() {
        match c {
            '<' => {
                let end = input[i..]
                    .find('>')
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {i}"))?;
                let inner = &input[i + 1..i + end];
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    let open = stack
                        .pop()
                        .ok_or_else(|| format!("Unexpected end tag at byte offset {i}"))?;
                    if open.tag != name {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                            open.tag
                        ));
                    }
                    close(open, utf16, &mut stack, &mut out.entities);
                } else {
                    stack.push(open(inner, i, utf16)?);
                }
                i += end + 1;
            }
            '&' => {
                let (decoded, len) = entity(&input[i..]).unwrap_or(('&', 1));
                out.text.push(decoded);
                utf16 += decoded.len_utf16();
                i += len;
            }
            _ => {
                out.text.push(c);
                utf16 += c.len_utf16();
                i += c.len_utf8();
            }
        }
    }
    match stack.last() {
        Some(open) => Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        )),
        None => Ok(out),
    }
}

fn open(inner: &str, byte: usize, start: usize) -> Result<Open, String> {
    let inner = inner.trim_end_matches('/');
    let name_end = inner
        .find(|c: char| c.is_whitespace())
        .unwrap_or(inner.len());
    let tag = inner[..name_end].to_ascii_lowercase();
    let attrs = attributes(&inner[name_end..]);
    let attr = |name: &str| {
        attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let (kind, extra) = match tag.as_str() {
        "b" | "strong" => ("bold", None),
        "i" | "em" => ("italic", None),
        "u" | "ins" => ("underline", None),
        "s" | "strike" | "del" => ("strikethrough", None),
        "tg-spoiler" => ("spoiler", None),
        "span" if attr("class").as_deref() == Some("tg-spoiler") => ("spoiler", None),
        "span" => return Err("Tag \"span\" must have class \"tg-spoiler\"".to_owned()),
        "a" => ("text_link", attr("href").map(|href| ("url", href))),
        "code" => (
            "code",
            attr("class").and_then(|class| {
                class
                    .strip_prefix("language-")
                    .map(|lang| ("language", lang.to_owned()))
            }),
        ),
        "pre" => ("pre", None),
        "blockquote" if attr("expandable").is_some() => ("expandable_blockquote", None),
        "blockquote" => ("blockquote", None),
        "tg-emoji" => (
            "custom_emoji",
            attr("emoji-id").map(|id| ("custom_emoji_id", id)),
        ),
        _ => {
            return Err(format!(
                "Unsupported start tag \"{tag}\" at byte offset {byte}"
            ));
        }
    };
    Ok(Open {
        tag,
        kind,
        start,
        extra,
    })
}

/// Ends `open` at `end`; a `<code class="language-x">` directly inside `<pre>` gives the
/// `pre` its language instead of being an entity of its own.
fn close(open: Open, end: usize, stack: &mut [Open], entities: &mut Vec<Entity>) {
    if open.kind == "code"
        && let Some(parent) = stack.last_mut().filter(|parent| parent.kind == "pre")
    {
        if open.extra.is_some() {
            parent.extra = open.extra;
        }
        return;
    }
    if open.kind == "text_link" && open.extra.is_none() {
        return;
    }
    let extra = open.extra.filter(|_| open.kind != "code");
    entities.push(Entity {
        kind: open.kind,
        offset: open.start,
        length: end - open.start,
        extra,
    });
}

/// `name="value"`, `name='value'`, `name=value` and bare `name` attributes.
fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        if name_end == 0 {
            return attrs;
        }
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, tail) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(quote).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            rest = tail;
            decode(value)
        } else {
            String::new()
        };
        attrs.push((name, value));
    }
}

fn decode(value: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(c) = value[i..].chars().next() {
        let (decoded, len) = if c == '&' {
            entity(&value[i..]).unwrap_or(('&', 1))
        } else {
            (c, c.len_utf8())
        };
        out.push(decoded);
        i += len;
    }
    out
}

/// The character an HTML entity at the start of `text` stands for, and its length in bytes.
/// Telegram knows `&lt;`, `&gt;`, `&amp;`, `&quot;` and numeric entities; others stay as text.
fn entity(text: &str) -> Option<(char, usize)> {
    let end = text.get(..12).unwrap_or(text).find(';')?;
    let name = &text[1..end];
    let decoded = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((decoded, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_become_entities_and_text_is_unescaped() {
        let parsed = parse("<b>Hi</b> &lt;you&gt; <a href=\"https://x.y/?a=1&amp;b=2\">link</a>")
            .expect("valid");
        assert_eq!(parsed.text, "Hi <you> link");
        assert_eq!(parsed.entities[0].kind, "bold");
        assert_eq!(
            (parsed.entities[0].offset, parsed.entities[0].length),
            (0, 2)
        );
        assert_eq!(
            parsed.entities[1].extra,
            Some(("url", "https://x.y/?a=1&b=2".to_owned()))
        );
    }

    #[test]
    fn malformed_html_is_refused_as_telegram_does() {
        assert_eq!(
            parse("<blink>x</blink>").unwrap_err(),
            "Unsupported start tag \"blink\" at byte offset 0"
        );
        assert_eq!(
            parse("<b>open").unwrap_err(),
            "Can't find end tag corresponding to start tag \"b\""
        );
        assert!(
            parse("<b>x</i>")
                .unwrap_err()
                .starts_with("Unmatched end tag")
        );
    }

    #[test]
    fn pre_takes_the_language_of_its_code() {
        let parsed = parse("<pre><code class=\"language-rust\">fn x</code></pre>").expect("valid");
        assert_eq!(parsed.entities.len(), 1);
        assert_eq!(
            parsed.entities[0].extra,
            Some(("language", "rust".to_owned()))
        );
    }
}
