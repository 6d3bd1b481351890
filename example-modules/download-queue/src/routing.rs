//! Which downloaders take a link: the operator's routing rules, by a part of the link's address
//! and by downloader name.
//!
//! `routes = "youtube.com => yt-1, yt-2; /podcasts/ => audio-*; * => *"`: rules are separated
//! by `;`, each is `<part of the address> => <downloader names>`. A rule matches a link when
//! the part occurs in the link's address (host, path and query; case-insensitive), `*` matches
//! every link. Names are exact or have one `*` standing for any text (`yt-*`, `*`). The first
//! rule that matches the link and names at least one registered downloader decides; without
//! rules every downloader takes every link.

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// Lower-case part of the address; `None` for `*`.
    part: Option<String>,
    /// Name patterns.
    names: Vec<String>,
}

/// The routing rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    rules: Vec<Rule>,
}

impl Routes {
    /// Parses the `routes` setting; the error names the bad rule.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for rule in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let (part, names) = rule
                .split_once("=>")
                .ok_or_else(|| format!("rule {rule:?} has no `=>`"))?;
            let part = part.trim();
            let names = crate::settings::list(names);
            if part.is_empty() || names.is_empty() {
                return Err(format!(
                    "rule {rule:?} needs a part of the address and downloader names"
                ));
            }
            if let Some(bad) = names.iter().find(|n| n.matches('*').count() > 1) {
                return Err(format!("name pattern {bad:?} has more than one `*`"));
            }
            rules.push(Rule {
                part: (part != "*").then(|| part.to_lowercase()),
                names,
            });
        }
        Ok(Self { rules })
    }

    /// The downloaders (of `registered`, sorted by name) that take `link`, in the order to try
    /// them: starting at the one `seed` picks, then the others in turn.
    pub fn candidates(&self, link: &str, registered: &[String], seed: u64) -> Vec<String> {
        let mut chosen = self.matching(link, registered);
        if !chosen.is_empty() {
            let start = usize::try_from(seed % chosen.len() as u64).unwrap_or(0);
            chosen.rotate_left(start);
        }
        chosen
    }

    fn matching(&self, link: &str, registered: &[String]) -> Vec<String> {
        if self.rules.is_empty() {
            return registered.to_vec();
        }
        let address = link
            .split_once("://")
            .map_or(link, |(_, rest)| rest)
            .to_lowercase();
        for rule in &self.rules {
            if rule
                .part
                .as_ref()
                .is_some_and(|part| !address.contains(part))
            {
                continue;
            }
            let names: Vec<String> = registered
                .iter()
                .filter(|name| rule.names.iter().any(|p| name_matches(p, name)))
                .cloned()
                .collect();
            if !names.is_empty() {
                return names;
            }
        }
        Vec::new()
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

/// A well-mixed number from `a` and `b` (splitmix64), to pick a first downloader: modules have
/// no random source of their own, and the host's clock with the link's id is enough here.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_matching_rule_with_a_registered_downloader_decides() {
        let routes =
            Routes::parse("youtube.com => yt-*; /podcasts/ => audio, gone; * => main").unwrap();
        let all = names(&["audio", "main", "yt-1", "yt-2"]);
        let mut yt = routes.candidates("https://www.YouTube.com/watch?v=1", &all, 0);
        yt.sort();
        assert_eq!(yt, ["yt-1", "yt-2"]);
        assert_eq!(
            routes.candidates("http://x.org/podcasts/1.mp3", &all, 7),
            ["audio"]
        );
        assert_eq!(routes.candidates("http://x.org/other", &all, 7), ["main"]);
        // No yt-* registered: the next matching rule.
        assert_eq!(
            routes.candidates("https://youtube.com/x", &names(&["main"]), 1),
            ["main"]
        );
        assert!(
            routes
                .candidates("http://x.org", &names(&["yt-1"]), 1)
                .is_empty()
        );
    }

    #[test]
    fn several_matches_start_at_the_seed_and_go_round() {
        let all = names(&["a", "b", "c"]);
        let routes = Routes::default();
        assert_eq!(routes.candidates("http://x", &all, 0), ["a", "b", "c"]);
        assert_eq!(routes.candidates("http://x", &all, 4), ["b", "c", "a"]);
        let firsts: std::collections::BTreeSet<_> = (0..64)
            .map(|n| routes.candidates("http://x", &all, mix(n, 99))[0].clone())
            .collect();
        assert_eq!(firsts.len(), 3, "every downloader gets to be first");
    }

    #[test]
    fn bad_rules_are_named() {
        assert!(
            Routes::parse("youtube.com yt")
                .unwrap_err()
                .contains("no `=>`")
        );
        assert!(
            Routes::parse(" => yt")
                .unwrap_err()
                .contains("needs a part")
        );
        assert!(
            Routes::parse("x => a*b*")
                .unwrap_err()
                .contains("more than one")
        );
        assert_eq!(Routes::parse(" ; ").unwrap(), Routes::default());
    }
}
