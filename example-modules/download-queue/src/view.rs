//! What users see: the message about each link with its keyboard, and `/list`.

use botbox_sdk::{InlineButton, InlineKeyboard};

use crate::settings::Settings;
use crate::store::Link;

/// Callback data of a quality button: `q/<id>/<quality>`.
pub fn quality_data(id: u64, quality: &str) -> String {
    format!("q/{id}/{quality}")
}

/// Callback data of the cancel button: `x/<id>`.
pub fn cancel_data(id: u64) -> String {
    format!("x/{id}")
}

/// A button press: change the quality of a link, or cancel it.
#[derive(Debug, PartialEq, Eq)]
pub enum Press<'a> {
    /// Set the link's quality.
    Quality(u64, &'a str),
    /// Cancel the link.
    Cancel(u64),
}

/// Reads callback data drawn by [`keyboard`].
pub fn parse_press(data: &str) -> Option<Press<'_>> {
    let mut parts = data.splitn(3, '/');
    let kind = parts.next()?;
    let id = parts.next()?.parse().ok()?;
    match (kind, parts.next()) {
        ("q", Some(quality)) => Some(Press::Quality(id, quality)),
        ("x", None) => Some(Press::Cancel(id)),
        _ => None,
    }
}

/// The text of the bot's message about `link`.
pub fn link_text(link: &Link) -> String {
    let mut text = format!(
        "#{} {}\nQuality: {}\nGoes to a downloader at {}",
        link.id,
        link.url,
        link.quality,
        clock(link.due_ms)
    );
    if let Some(error) = &link.last_error {
        text.push_str(&format!("\nTry {} failed: {error}", link.attempts));
    }
    text
}

/// The keyboard under it: a button per quality (the current one marked) and Cancel.
pub fn keyboard(link: &Link, settings: &Settings) -> InlineKeyboard {
    let buttons: Vec<InlineButton> = settings
        .qualities
        .iter()
        .map(|quality| {
            let label = if *quality == link.quality {
                format!("• {quality}")
            } else {
                quality.clone()
            };
            InlineButton::callback(label, quality_data(link.id, quality))
        })
        .collect();
    let mut keyboard = InlineKeyboard::new();
    for row in buttons.chunks(3) {
        keyboard = keyboard.row(row.to_vec());
    }
    keyboard.row([InlineButton::callback("Cancel", cancel_data(link.id))])
}

/// One line of `/list`.
pub fn list_line(link: &Link, with_owner: bool) -> String {
    let mut line = format!(
        "#{} {} [{}] at {}",
        link.id,
        link.url,
        link.quality,
        clock(link.due_ms)
    );
    if with_owner {
        line.push_str(&format!(" by {} ({})", link.owner_name, link.owner));
    }
    if let Some(error) = &link.last_error {
        line.push_str(&format!("\n    try {} failed: {error}", link.attempts));
    }
    line
}

/// `HH:MM:SS UTC` of a Unix time in milliseconds.
pub fn clock(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_data_reads_back_and_fits_telegram() {
        let data = quality_data(u64::MAX, "abcdefghijklmnopqrst");
        assert!(data.len() <= 60);
        assert_eq!(
            parse_press(&data),
            Some(Press::Quality(u64::MAX, "abcdefghijklmnopqrst"))
        );
        assert_eq!(parse_press(&cancel_data(7)), Some(Press::Cancel(7)));
        assert_eq!(parse_press("x/7/more"), None);
        assert_eq!(parse_press("q/no/720p"), None);
        assert_eq!(parse_press("other"), None);
    }

    #[test]
    fn times_show_as_utc_clock() {
        assert_eq!(
            clock(((13 * 60 + 5) * 60 + 9) * 1000 + 86_400_000),
            "13:05:09 UTC"
        );
    }
}
