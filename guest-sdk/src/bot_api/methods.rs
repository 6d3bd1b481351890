//! Typed shortcuts for calls modules make often: photos, dice, chat actions, chat members.
//! Everything else goes through [`Call`] with the method's name.

// The functions here are `#[inline]` so that they are compiled only into modules that call
// them: compiled into the SDK, even unused, they changed how the code modules do use was
// optimised, and a module that sends only text grew by a few hundred bytes.

use serde::Serialize;

use super::{Call, ChatMember, Error, FilePart};
use crate::outbox::Ticket;

/// A photo to send: uploaded bytes, a file id Telegram gave before, or a URL Telegram fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Photo {
    /// Bytes to upload (JPEG, PNG, WebP; up to 10 MB), with the file name Telegram sees.
    Bytes {
        /// The file name, e.g. `qr.png`.
        file_name: String,
        /// The image's bytes.
        bytes: Vec<u8>,
    },
    /// A photo already on Telegram's servers, by file id.
    FileId(String),
    /// An HTTP URL Telegram downloads the photo from.
    Url(String),
}

impl Photo {
    /// A PNG image to upload, as `image.png`.
    #[inline]
    pub fn png(bytes: Vec<u8>) -> Self {
        Self::Bytes {
            file_name: "image.png".into(),
            bytes,
        }
    }

    /// A JPEG image to upload, as `image.jpg`.
    #[inline]
    pub fn jpeg(bytes: Vec<u8>) -> Self {
        Self::Bytes {
            file_name: "image.jpg".into(),
            bytes,
        }
    }
}

impl Call {
    /// A sendPhoto of `photo` to `chat_id`, to add a caption or other parameters to:
    /// `Call::send_photo(chat, Photo::png(bytes)).param("caption", "Here").send()?`. Uploaded
    /// bytes go as the file part `photo`.
    #[inline]
    pub fn send_photo(chat_id: i64, photo: Photo) -> Self {
        let call = Self::new("sendPhoto").param("chat_id", chat_id);
        match photo {
            Photo::Bytes { file_name, bytes } => {
                let part = FilePart::new("photo", file_name, bytes);
                call.param("photo", part.attach()).file(part)
            }
            Photo::FileId(id) | Photo::Url(id) => call.param("photo", id),
        }
    }
}

/// Sends `photo` to `chat_id` (queued like a message); see [`Call::send_photo`] for a caption.
#[inline]
pub fn send_photo(chat_id: i64, photo: Photo) -> Result<Ticket, Error> {
    Call::send_photo(chat_id, photo).send()?.ticket()
}

/// Sends an animated die drawn as `emoji` (🎲 🎯 🏀 ⚽ 🎳 🎰) to `chat_id`. Telegram picks the
/// value: once delivered, [`status`](super::status) has it in the sent message's
/// [`dice`](super::SentMessage::dice).
#[inline]
pub fn send_dice(chat_id: i64, emoji: &str) -> Result<Ticket, Error> {
    #[derive(Serialize)]
    struct Params<'a> {
        chat_id: i64,
        emoji: &'a str,
    }
    Call::new("sendDice")
        .params(&Params { chat_id, emoji })
        .send()?
        .ticket()
}

/// Shows `action` (`typing`, `upload_photo`, `upload_document`, `record_voice`, ...) in
/// `chat_id` for about 5 seconds, or until the bot's next message there. Sent at once, not
/// durably; the host sends the same action in the same chat at most every few seconds.
#[inline]
pub fn send_chat_action(chat_id: i64, action: &str) -> Result<(), Error> {
    Call::new("sendChatAction")
        .param("chat_id", chat_id)
        .param("action", action)
        .send()
        .map(drop)
}

/// Reads what `user_id` is in `chat_id` (creator, administrator, member, left, ...), now.
#[inline]
pub fn get_chat_member(chat_id: i64, user_id: i64) -> Result<ChatMember, Error> {
    Call::new("getChatMember")
        .param("chat_id", chat_id)
        .param("user_id", user_id)
        .send()?
        .result()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uploaded_photo_is_a_file_part_named_photo() {
        let call = Call::send_photo(42, Photo::png(vec![0x89, b'P']));
        assert_eq!(call.method(), "sendPhoto");
        assert_eq!(
            call.params_json().unwrap(),
            r#"{"chat_id":42,"photo":"attach://photo"}"#
        );
    }

    #[test]
    fn a_file_id_or_url_is_a_plain_parameter() {
        let call = Call::send_photo(42, Photo::FileId("AgAD".into())).param("caption", "c");
        assert_eq!(
            call.params_json().unwrap(),
            r#"{"caption":"c","chat_id":42,"photo":"AgAD"}"#
        );
        let call = Call::send_photo(1, Photo::Url("https://example.com/a.jpg".into()));
        assert!(
            call.params_json()
                .unwrap()
                .contains("https://example.com/a.jpg")
        );
    }
}
