//! Reading links out of a user's message, and saying clearly what is not one.

/// What a message holds: the links to queue, and why the other words were not taken.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// http(s) links, in the order written, each once.
    pub links: Vec<String>,
    /// One explanation per word that looks meant as a link but is not one we can take.
    pub rejected: Vec<String>,
    /// Whether some words were neither (ordinary text, left alone: other modules of the bot
    /// may be the ones meant).
    pub other_words: bool,
}

/// Splits `text` at white space and checks each word: an http or https URL with a public host
/// (or one in `internal_allowed`; see [`crate::internal`]), at most `max_link_chars` long, is
/// a link; a word that looks meant as a link (a scheme, a
/// `host.name/path`, `www.`) but is not one is rejected with the reason; other words are text.
pub fn parse(text: &str, max_link_chars: usize, internal_allowed: &[String]) -> Parsed {
    let mut parsed = Parsed::default();
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| "<>()[]\"'«»,;".contains(c));
        if word.is_empty() {
            continue;
        }
        match check(word, max_link_chars, internal_allowed) {
            Ok(link) if !parsed.links.contains(&link) => parsed.links.push(link),
            Ok(_) => {}
            Err(reason) if looks_like_a_link(word) => parsed.rejected.push(reason),
            Err(_) => parsed.other_words = true,
        }
    }
    parsed
}

/// Whether `word` is meant as a link: it has a scheme (`x://`, `mailto:`), is a host name with
/// a path (`example.org/a`), starts with `www.`, or is longer than any word.
fn looks_like_a_link(word: &str) -> bool {
    let scheme = word.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && !rest.is_empty()
            && scheme.len() <= 20
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let host_path = word
        .split_once('/')
        .is_some_and(|(host, _)| host.contains('.') && !host.ends_with('.'));
    scheme || host_path || word.starts_with("www.") || word.chars().count() > 100
}

fn check(word: &str, max_link_chars: usize, internal_allowed: &[String]) -> Result<String, String> {
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
    if let Some(why) = crate::internal::why_internal(&url, internal_allowed) {
        return Err(format!(
            "{} points inside the bot's own network ({why}): it is not downloaded",
            shown(word)
        ));
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
    fn links_are_taken_in_order_once_and_near_misses_explained() {
        let parsed = parse(
            "get <https://a.org/x.mp4> and http://b.org/y, https://a.org/x.mp4 ftp://c.org/z example.com/v",
            200,
            &[],
        );
        assert_eq!(parsed.links, ["https://a.org/x.mp4", "http://b.org/y"]);
        assert_eq!(
            parsed.rejected,
            [
                "\"ftp://c.org/z\" has the unsupported scheme ftp: only http and https links can be downloaded",
                "\"example.com/v\" is not a link: links start with http:// or https://",
            ]
        );
        assert!(parsed.other_words, "get, and");
        let chat = parse("Click. Rating: top 5/10", 200, &[]);
        assert!(chat.links.is_empty() && chat.rejected.is_empty() && chat.other_words);
        assert_eq!(parse("www.a.org", 200, &[]).rejected.len(), 1);
        assert_eq!(parse("htp:/a.org", 200, &[]).rejected.len(), 1);
    }

    #[test]
    fn overlong_and_odd_links_are_refused() {
        let long = format!("https://a.org/{}", "x".repeat(300));
        let parsed = parse(&long, 100, &[]);
        assert!(parsed.links.is_empty());
        assert!(
            parsed.rejected[0].contains("is too long for a link (314 characters, at most 100)")
        );
        assert!(
            parse("javascript:alert(1)", 100, &[]).rejected[0]
                .contains("unsupported scheme javascript")
        );
        assert!(parse("http://", 100, &[]).links.is_empty());
        assert!(parse("", 100, &[]) == Parsed::default());
    }

    #[test]
    fn links_into_the_bot_s_network_are_refused_unless_the_operator_allows_their_host() {
        let parsed = parse(
            "http://169.254.169.254/latest/meta-data/ http://localhost:9180/metrics https://a.org/x",
            200,
            &[],
        );
        assert_eq!(parsed.links, ["https://a.org/x"]);
        assert_eq!(
            parsed.rejected,
            [
                "\"http://169.254.169.254/latest/meta-data/\" points inside the bot's own network (an address of a private network): it is not downloaded",
                "\"http://localhost:9180/metrics\" points inside the bot's own network (a name without a domain, known only to a local network): it is not downloaded",
            ]
        );
        let allowed = parse("http://localhost:9180/x", 200, &["localhost".into()]);
        assert_eq!(allowed.links, ["http://localhost:9180/x"]);
    }
}
