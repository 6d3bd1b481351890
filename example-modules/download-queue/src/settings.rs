//! The operator's settings (`[modules.download-queue.config]`), read with defaults and checked.

use botbox_sdk::config;

use crate::routing::Routes;

/// Every setting, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Qualities offered on the keyboard (`qualities`, comma-separated).
    pub qualities: Vec<String>,
    /// A new link's quality (`default_quality`, one of `qualities`).
    pub default_quality: String,
    /// Seconds between dispatches (`interval_secs`).
    pub interval_secs: u64,
    /// Seconds a new link waits before it is due, time to change its quality (`delay_secs`).
    pub delay_secs: u64,
    /// Telegram user ids that see and manage every link (`admins`, comma-separated).
    pub admins: Vec<i64>,
    /// Which downloaders take which links (`routes`; see [`Routes`]).
    pub routes: Routes,
    /// Hosts the module may reach downloaders at (`downloader_hosts`, comma-separated): the
    /// manifest's HTTP grant.
    pub downloader_hosts: Vec<String>,
    /// A secret downloaders must send (`registry_token`). Unset or empty, every registration
    /// and report is refused: anyone who reaches the bot's HTTP port could otherwise register
    /// as a downloader and receive every link.
    pub registry_token: String,
    /// Hosts that links may name although they are internal (`internal_link_hosts`,
    /// comma-separated, as written in links: `127.0.0.1`, `nas.lan`); others inside the
    /// bot's network are refused (see `internal.rs`).
    pub internal_link_hosts: Vec<String>,
    /// Whether a message without anything like a link is answered (`answer_plain_text`); off,
    /// such text is left to the bot's other modules.
    pub answer_plain_text: bool,
    /// Most links in one message (`max_links_per_message`).
    pub max_links_per_message: usize,
    /// Most links one user may queue per minute (`max_links_per_minute`).
    pub max_links_per_minute: u32,
    /// Longest message taken, in characters (`max_text_chars`).
    pub max_text_chars: usize,
    /// Longest link, in characters (`max_link_chars`).
    pub max_link_chars: usize,
    /// First wait after a failed try, in seconds (`backoff_secs`); doubles each time.
    pub backoff_secs: u64,
    /// Longest wait between tries, in seconds (`backoff_max_secs`).
    pub backoff_max_secs: u64,
    /// Tries before a link is given up (`max_attempts`).
    pub max_attempts: u32,
    /// Most links handed out per dispatch (`max_dispatch`); the rest wait for the next one.
    pub max_dispatch: usize,
}

impl Settings {
    /// Reads and checks every setting; the error names the bad one.
    pub fn load() -> Result<Self, String> {
        let text =
            |key: &str, default: &str| config::get_or(key, default).map_err(|e| e.to_string());
        let number = |key: &str, default: u64, min: u64| -> Result<u64, String> {
            let value = config::get_parsed_or(key, default).map_err(|e| e.to_string())?;
            if value < min {
                return Err(format!("`{key}` = {value} is below its minimum {min}"));
            }
            Ok(value)
        };
        let qualities = list(&text("qualities", "best,1080p,720p,480p,audio")?);
        if qualities.is_empty() {
            return Err("`qualities` names no quality".into());
        }
        if let Some(bad) = qualities.iter().find(|q| !valid_quality(q)) {
            return Err(format!(
                "quality {bad:?} must be 1-20 of a-z, A-Z, 0-9, '.', '_', '-'"
            ));
        }
        // Unset: 720p when offered, else the first quality.
        let default_quality = match config::get("default_quality").map_err(|e| e.to_string())? {
            Some(quality) => quality,
            None if qualities.iter().any(|q| q == "720p") => "720p".into(),
            None => qualities[0].clone(),
        };
        if !qualities.contains(&default_quality) {
            return Err(format!(
                "`default_quality` {default_quality:?} is not one of `qualities`"
            ));
        }
        let admins = list(&text("admins", "")?)
            .iter()
            .map(|id| {
                id.parse::<i64>()
                    .map_err(|_| format!("`admins`: {id:?} is not a Telegram user id"))
            })
            .collect::<Result<_, _>>()?;
        let routes = Routes::parse(&text("routes", "")?).map_err(|e| format!("`routes`: {e}"))?;
        let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        Ok(Self {
            qualities,
            default_quality,
            interval_secs: number("interval_secs", 10, 1)?,
            delay_secs: number("delay_secs", 60, 0)?,
            admins,
            routes,
            downloader_hosts: list(&text("downloader_hosts", "")?),
            registry_token: text("registry_token", "")?,
            internal_link_hosts: list(&text("internal_link_hosts", "")?),
            answer_plain_text: config::get_parsed_or("answer_plain_text", false)
                .map_err(|e| e.to_string())?,
            max_links_per_message: as_usize(number("max_links_per_message", 10, 1)?),
            max_links_per_minute: u32::try_from(number("max_links_per_minute", 30, 1)?)
                .unwrap_or(u32::MAX),
            max_text_chars: as_usize(number("max_text_chars", 3000, 10)?),
            max_link_chars: as_usize(number("max_link_chars", 1000, 10)?),
            backoff_secs: number("backoff_secs", 30, 1)?,
            backoff_max_secs: number("backoff_max_secs", 3600, 1)?,
            max_attempts: u32::try_from(number("max_attempts", 10, 1)?).unwrap_or(u32::MAX),
            max_dispatch: as_usize(number("max_dispatch", 20, 1)?),
        })
    }

    /// Whether `user` is one of the admins.
    pub fn is_admin(&self, user: i64) -> bool {
        self.admins.contains(&user)
    }

    /// The wait after the `failures`-th failed try: `backoff_secs`, doubled each time, at
    /// most `backoff_max_secs`.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        backoff_ms(self.backoff_secs, self.backoff_max_secs, failures)
    }
}

/// `base * 2^(failures - 1)` seconds, at most `max`, in milliseconds.
pub fn backoff_ms(base: u64, max: u64, failures: u32) -> u64 {
    let doubled = base.saturating_mul(1u64 << failures.saturating_sub(1).min(32));
    doubled.min(max.max(base)).saturating_mul(1000)
}

/// The items of a comma-separated list, trimmed, empty ones dropped.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(String::from)
        .collect()
}

fn valid_quality(quality: &str) -> bool {
    (1..=20).contains(&quality.len())
        && !quality.starts_with('.')
        && quality
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_each_failure_up_to_the_maximum() {
        let waits: Vec<u64> = (1..=6).map(|n| backoff_ms(30, 200, n) / 1000).collect();
        assert_eq!(waits, [30, 60, 120, 200, 200, 200]);
        assert_eq!(backoff_ms(1, 1, 1000), 1000);
    }

    #[test]
    fn lists_and_qualities_are_checked() {
        assert_eq!(list(" a, ,b ,"), ["a", "b"]);
        assert!(valid_quality("720p") && valid_quality("best"));
        assert!(!valid_quality("../x") && !valid_quality("") && !valid_quality("a b"));
    }
}
