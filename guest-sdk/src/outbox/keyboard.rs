//! Reply and inline keyboard builders.

use super::wit;

/// A reply keyboard: buttons shown in place of the user's keyboard. Pressing one sends its label
/// as an ordinary text message, so the module needs
/// [`Manifest::wants_messages`](crate::Manifest::wants_messages) to see it.
///
/// ```
/// use botbox_sdk::ReplyKeyboard;
///
/// let keyboard = ReplyKeyboard::new().row(["Click", "Rating"]).row(["Help"]).resized();
/// assert_eq!(keyboard.rows(), [vec!["Click", "Rating"], vec!["Help"]]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplyKeyboard {
    rows: Vec<Vec<String>>,
    resize: bool,
    one_time: bool,
}

impl ReplyKeyboard {
    /// An empty keyboard; add rows with [`row`](Self::row).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row of buttons with these labels, left to right.
    pub fn row<I>(mut self, labels: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.rows.push(labels.into_iter().map(Into::into).collect());
        self
    }

    /// Asks clients to size the keyboard to its buttons instead of the default height.
    pub fn resized(mut self) -> Self {
        self.resize = true;
        self
    }

    /// Hides the keyboard after one press.
    pub fn one_time(mut self) -> Self {
        self.one_time = true;
        self
    }

    /// The labels, row by row.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    pub(super) fn into_wit(self) -> wit::ReplyKeyboard {
        wit::ReplyKeyboard {
            rows: self.rows,
            resize: self.resize,
            one_time: self.one_time,
        }
    }
}

/// One button of an [`InlineKeyboard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineButton {
    text: String,
    action: wit::ButtonAction,
}

impl InlineButton {
    /// A button labelled `text` that sends `data` back to this module as a
    /// [`callback`](crate::Update::callback) when pressed. `data` is at most 60 bytes (the host
    /// adds a short routing tag of its own to reach Telegram's 64) and comes back exactly as
    /// given.
    pub fn callback(text: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            action: wit::ButtonAction::Callback(data.into()),
        }
    }

    /// A button labelled `text` that opens `url`.
    pub fn url(text: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            action: wit::ButtonAction::Url(url.into()),
        }
    }

    /// The label.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The callback data, for a callback button.
    pub fn callback_data(&self) -> Option<&str> {
        match &self.action {
            wit::ButtonAction::Callback(data) => Some(data),
            wit::ButtonAction::Url(_) => None,
        }
    }
}

/// Buttons attached under a message.
///
/// ```
/// use botbox_sdk::{InlineButton, InlineKeyboard};
///
/// let keyboard = InlineKeyboard::new()
///     .row([InlineButton::callback("A", "a"), InlineButton::callback("B", "b")])
///     .row([InlineButton::url("Docs", "https://example.org")]);
/// assert_eq!(keyboard.rows()[0][1].callback_data(), Some("b"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InlineKeyboard {
    rows: Vec<Vec<InlineButton>>,
}

impl InlineKeyboard {
    /// An empty keyboard; add rows with [`row`](Self::row).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a row of buttons, left to right.
    pub fn row(mut self, buttons: impl IntoIterator<Item = InlineButton>) -> Self {
        self.rows.push(buttons.into_iter().collect());
        self
    }

    /// The buttons, row by row.
    pub fn rows(&self) -> &[Vec<InlineButton>] {
        &self.rows
    }

    pub(super) fn into_wit(self) -> Vec<Vec<wit::InlineButton>> {
        self.rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|button| wit::InlineButton {
                        text: button.text,
                        action: button.action,
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_keyboard_keeps_rows_and_flags() {
        let keyboard = ReplyKeyboard::new()
            .row(["Click", "Rating"])
            .resized()
            .into_wit();
        assert_eq!(keyboard.rows, [["Click", "Rating"]]);
        assert!(keyboard.resize);
        assert!(!keyboard.one_time);
    }

    #[test]
    fn inline_buttons_carry_their_actions() {
        let rows = InlineKeyboard::new()
            .row([
                InlineButton::callback("A", "a"),
                InlineButton::url("U", "https://x.y"),
            ])
            .into_wit();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0].action, wit::ButtonAction::Callback("a".into()));
        assert_eq!(
            rows[0][1].action,
            wit::ButtonAction::Url("https://x.y".into())
        );
        assert_eq!(rows[0][1].text, "U");
    }
}
