//! Reading links out of a user's message, and saying clearly what is not one.

/// What a message holds: the links to queue, and why the other words were not taken.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// http(s) links, in the order written, each once.
    pub links: Vec<String>,
    /// One explanation per word that is not a link we can take.
    pub rejected: Vec<String>,
}

/// Splits `text` at white space and checks each word: an http or https URL with a host, at
/// most `max_link_chars` long.
pub fn parse(text: &str, max_link_chars: usize) -> Parsed {
    let mut parsed = Parsed::default();
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| "<>()[]\"'«»,;".contains(c));
        if word.is_empty() {
            continue;
        }
        match check(word, max_link_chars) {
            Ok(link) if !parsed.links.contains(&link) => parsed.links.push(link),
            Ok(_) => {}
            Err(reason) => parsed.rejected.push(reason),
        }
    }
    parsed
}

fn check(word: &str, max_link_chars: usize) -> Result<String, String> {
    let chars = word.chars().count();
    if chars > max_link_chars {
        return Err(format!(
            "{} is too long for a link ({chars} characters, at most {max_link_chars})",
            shown(word)
        ));
    }
    let url = match url::Url::parse(word) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) if word.contains('.') => {
            return Err(format!(
                "{} is not a link: links start with http:// or https://",
                shown(word)
            ));
        }
        Err(_) => return Err(format!("{} is not a link", shown(word))),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{} has the unsupported scheme {}: only http and https links can be downloaded",
            shown(word),
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{} is not a link: it names no server", shown(word)));
    }
    Ok(url.into())
}

/// A word quoted for an answer, cut to 60 characters.
pub fn shown(word: &str) -> String {
    if word.chars().count() > 60 {
        let cut: String = word.chars().take(57).collect();
        format!("\"{cut}...\"")
    } else {
        format!("\"{word}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_taken_in_order_once_and_other_words_explained() {
        let parsed = parse(
            "get <https://a.org/x.mp4> and http://b.org/y, https://a.org/x.mp4 ftp://c.org/z example.com/v",
            200,
        );
        assert_eq!(parsed.links, ["https://a.org/x.mp4", "http://b.org/y"]);
        assert_eq!(
            parsed.rejected,
            [
                "\"get\" is not a link",
                "\"and\" is not a link",
                "\"ftp://c.org/z\" has the unsupported scheme ftp: only http and https links can be downloaded",
                "\"example.com/v\" is not a link: links start with http:// or https://",
            ]
        );
    }

    #[test]
    fn overlong_and_odd_links_are_refused() {
        let long = format!("https://a.org/{}", "x".repeat(300));
        let parsed = parse(&long, 100);
        assert!(parsed.links.is_empty());
        assert!(
            parsed.rejected[0].contains("is too long for a link (314 characters, at most 100)")
        );
        assert!(
            parse("javascript:alert(1)", 100).rejected[0].contains("unsupported scheme javascript")
        );
        assert!(parse("http://", 100).links.is_empty());
        assert!(parse("", 100) == Parsed::default());
    }
}
