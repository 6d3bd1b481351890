//! The files of an update's message (photos, documents), read from its raw JSON: the parsed
//! [`Message`](crate::types::Message) of the contract carries text and caption only.

// The functions here are `#[inline]` so that they are compiled only into modules that call
// them: compiled into the SDK, even unused, they changed how the code modules do use was
// optimised, and a module that sends only text grew by a few hundred bytes.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Update;
use crate::bot_api::{Document, PhotoSize};

/// The media fields of a message in an update's raw JSON.
#[derive(Deserialize)]
struct Media {
    #[serde(default)]
    photo: Vec<PhotoSize>,
    #[serde(default)]
    document: Option<Document>,
}

impl Update {
    /// The sizes of the photo in the new or edited message, smallest first (Telegram sends
    /// several); empty when the message has no photo. Download one with
    /// [`bot_api::download`](crate::bot_api::download) and its `file_id`.
    #[inline]
    pub fn photo(&self) -> Vec<PhotoSize> {
        self.message_field::<Media>()
            .map(|media| media.photo)
            .unwrap_or_default()
    }

    /// The largest size of the photo in the new or edited message, if it has one.
    #[inline]
    pub fn largest_photo(&self) -> Option<PhotoSize> {
        self.photo()
            .into_iter()
            .max_by_key(|size| u64::from(size.width) * u64::from(size.height))
    }

    /// The document (a file sent as a file) in the new or edited message, if it has one.
    #[inline]
    pub fn document(&self) -> Option<Document> {
        self.message_field::<Media>()
            .and_then(|media| media.document)
    }

    /// The caption of a new or edited media message.
    #[inline]
    pub fn caption(&self) -> Option<&str> {
        match self.kind() {
            crate::types::UpdateKind::Message(message)
            | crate::types::UpdateKind::EditedMessage(message) => message.caption.as_deref(),
            _ => None,
        }
    }

    /// The update's `message` or `edited_message` object in the raw JSON, decoded as `T`.
    #[inline]
    fn message_field<T: DeserializeOwned>(&self) -> Option<T> {
        let mut raw: serde_json::Value = serde_json::from_str(self.raw_json()).ok()?;
        let message = match raw.get_mut("message") {
            Some(message) => message.take(),
            None => raw.get_mut("edited_message")?.take(),
        };
        serde_json::from_value(message).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::botbox::bot::types as wit;
    use crate::types::UpdateKind;
    use crate::update::tests::message;

    fn with_raw(raw: &str) -> Update {
        let mut message = message(42, "");
        message.text = None;
        message.caption = Some("/download".into());
        Update::from_wit(wit::Update {
            update_id: 1,
            kind: UpdateKind::Message(message),
            raw_json: raw.into(),
            command: None,
            command_args: String::new(),
        })
    }

    #[test]
    fn a_photo_message_has_its_sizes_and_the_largest_is_found() {
        let update = with_raw(
            r#"{"update_id":1,"message":{"message_id":7,"chat":{"id":42,"type":"private"},
                "date":1,"photo":[
                {"file_id":"small","file_unique_id":"s","width":90,"height":60,"file_size":1000},
                {"file_id":"big","file_unique_id":"b","width":1280,"height":853},
                {"file_id":"mid","file_unique_id":"m","width":320,"height":213}]}}"#,
        );
        assert_eq!(update.photo().len(), 3);
        assert_eq!(
            update.largest_photo().map(|p| p.file_id),
            Some("big".into())
        );
        assert_eq!(update.document(), None);
    }

    #[test]
    fn an_edited_document_message_has_its_document() {
        let update = with_raw(
            r#"{"update_id":1,"edited_message":{"message_id":7,"chat":{"id":42},"date":1,
                "caption":"/download","document":{"file_id":"doc","file_unique_id":"d",
                "file_name":"a.bin","mime_type":"application/octet-stream","file_size":3}}}"#,
        );
        let document = update.document().unwrap();
        assert_eq!(document.file_id, "doc");
        assert_eq!(document.file_name.as_deref(), Some("a.bin"));
        assert_eq!(update.caption(), Some("/download"));
        assert!(update.photo().is_empty());
    }

    #[test]
    fn text_and_timer_updates_have_no_media() {
        assert!(with_raw("{}").photo().is_empty());
        assert_eq!(with_raw("not json").largest_photo(), None);
    }
}
