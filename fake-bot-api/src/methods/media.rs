//! The files behind media messages: their kinds, the stored files, and their JSON objects.

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::model::Document;

/// What a file is to Telegram; a `file_id` of one kind cannot be sent as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Photo,
    Video,
    Audio,
    Voice,
    Animation,
    Sticker,
    VideoNote,
    Document,
}

impl MediaKind {
    /// The kind a send method (lower case) sends, e.g. `sendphoto` → `Photo`.
    pub(crate) fn of_method(method: &str) -> Option<Self> {
        Some(match method {
            "sendphoto" => Self::Photo,
            "sendvideo" => Self::Video,
            "sendaudio" => Self::Audio,
            "sendvoice" => Self::Voice,
            "sendanimation" => Self::Animation,
            "sendsticker" => Self::Sticker,
            "sendvideonote" => Self::VideoNote,
            "senddocument" => Self::Document,
            _ => return None,
        })
    }

    /// The kind an `InputMedia` `type` names.
    pub(crate) fn of_input_media(kind: &str) -> Option<Self> {
        Some(match kind {
            "photo" => Self::Photo,
            "video" => Self::Video,
            "audio" => Self::Audio,
            "animation" => Self::Animation,
            "document" => Self::Document,
            _ => return None,
        })
    }

    /// The method parameter and the `Message` field of the file, e.g. `video_note`.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Voice => "voice",
            Self::Animation => "animation",
            Self::Sticker => "sticker",
            Self::VideoNote => "video_note",
            Self::Document => "document",
        }
    }

    /// Whether messages of this kind have a caption (stickers and video notes do not).
    pub(crate) fn has_caption(self) -> bool {
        !matches!(self, Self::Sticker | Self::VideoNote)
    }

    /// TDLib's name of the file type, as in `can't use file of type Photo as Document`.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Voice => "VoiceNote",
            Self::VideoNote => "VideoNote",
            Self::Photo => "Photo",
            Self::Video => "Video",
            Self::Audio => "Audio",
            Self::Animation => "Animation",
            Self::Sticker => "Sticker",
            Self::Document => "Document",
        }
    }

    /// The start of Telegram's file ids of this kind (its first bytes encode the type).
    fn id_prefix(self) -> &'static str {
        match self {
            Self::Photo => "AgACAgIAAxkDAAIB",
            Self::Video => "BAACAgIAAxkDAAIB",
            Self::Audio => "CQACAgIAAxkDAAIB",
            Self::Voice => "AwACAgIAAxkDAAIB",
            Self::Animation => "CgACAgIAAxkDAAIB",
            Self::Sticker => "CAACAgIAAxkDAAIB",
            Self::VideoNote => "DQACAgIAAxkDAAIB",
            Self::Document => "BQACAgIAAxkDAAIB",
        }
    }

    /// The folder of the `file_path` getFile gives, as Telegram names them.
    fn folder(self) -> &'static str {
        match self {
            Self::Photo => "photos",
            Self::Video => "videos",
            Self::Audio => "music",
            Self::Voice => "voice",
            Self::Animation => "animations",
            Self::Sticker => "stickers",
            Self::VideoNote => "video_notes",
            Self::Document => "documents",
        }
    }
}

/// A file the bot uploaded (or a user sent): what getFile and the download serve.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub(crate) document: Document,
    pub(crate) unique_id: String,
    pub(crate) path: String,
    pub(crate) kind: MediaKind,
    /// Read from the image for photos and stickers, else as the sender declared (or 0).
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) duration: u32,
}

impl StoredFile {
    /// A new file numbered `n` (ids and paths derive from it), of `kind`.
    pub(crate) fn new(
        n: usize,
        kind: MediaKind,
        file_name: Option<String>,
        mime_type: Option<String>,
        bytes: Bytes,
    ) -> Self {
        let extension = match kind {
            // Telegram stores every photo as a JPEG it made.
            MediaKind::Photo => ".jpg".to_owned(),
            _ => file_name
                .as_deref()
                .and_then(|name| name.rsplit_once('.'))
                .map(|(_, extension)| format!(".{extension}"))
                .unwrap_or_default(),
        };
        let (width, height) = match kind {
            MediaKind::Photo | MediaKind::Sticker => imagesize::blob_size(&bytes)
                .map(|size| (dimension(size.width), dimension(size.height)))
                // Telegram's stickers are 512 px on their longer side.
                .unwrap_or(if kind == MediaKind::Sticker {
                    (512, 512)
                } else {
                    (0, 0)
                }),
            _ => (0, 0),
        };
        let name = kind.type_name();
        Self {
            document: Document {
                file_id: format!("{}{n:08}Fake{name}", kind.id_prefix()),
                file_name,
                mime_type,
                bytes,
            },
            unique_id: format!("AgAD{n:08}"),
            path: format!("{}/file_{n}{extension}", kind.folder()),
            kind,
            width,
            height,
            duration: 0,
        }
    }
}

fn dimension(pixels: usize) -> u32 {
    u32::try_from(pixels).unwrap_or(u32::MAX)
}

/// Takes the sender's declared `width`, `height` and `duration` (send parameters or
/// `InputMedia` fields) for a file whose own are unknown.
pub(crate) fn declare(file: &mut StoredFile, declared: &Map<String, Value>) {
    let number = |key: &str| {
        declared.get(key).and_then(|value| match value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
    };
    let number = |key: &str| number(key).and_then(|n| u32::try_from(n).ok());
    if file.width == 0 {
        file.width = number("width").or(number("length")).unwrap_or(0);
    }
    if file.height == 0 {
        file.height = number("height").or(number("length")).unwrap_or(0);
    }
    if let Some(duration) = number("duration") {
        file.duration = duration;
    }
}

/// The `Message` fields showing `file`: e.g. `{"photo":[PhotoSize]}`, or for an animation
/// also `document`, as Telegram adds for older clients. `declared` gives an audio's
/// `title`/`performer` and a sticker's `emoji`.
pub(crate) fn message_fields(file: &StoredFile, declared: &Map<String, Value>) -> Value {
    let base = || {
        json!({
            "file_id": file.document.file_id,
            "file_unique_id": file.unique_id,
            "file_size": file.document.bytes.len(),
        })
    };
    // Telegram detects the type of videos and audio itself and always names it (teloxide
    // fails to parse a video, animation or audio without `mime_type`).
    let mime_type = file.document.mime_type.as_deref().or(match file.kind {
        MediaKind::Video | MediaKind::Animation => Some("video/mp4"),
        MediaKind::Audio => Some("audio/mpeg"),
        MediaKind::Voice => Some("audio/ogg"),
        _ => None,
    });
    let named = |mut value: Value| {
        if let Some(name) = &file.document.file_name {
            value["file_name"] = json!(name);
        }
        if let Some(mime) = mime_type {
            value["mime_type"] = json!(mime);
        }
        value
    };
    let sized = |mut value: Value| {
        value["width"] = json!(file.width);
        value["height"] = json!(file.height);
        value
    };
    let timed = |mut value: Value| {
        value["duration"] = json!(file.duration);
        value
    };
    let text = |key: &str| declared.get(key).and_then(Value::as_str).map(str::to_owned);
    match file.kind {
        MediaKind::Photo => json!({ "photo": [sized(base())] }),
        MediaKind::Video => json!({ "video": named(timed(sized(base()))) }),
        MediaKind::Animation => json!({
            "animation": named(timed(sized(base()))),
            "document": named(base()),
        }),
        MediaKind::Audio => {
            let mut audio = named(timed(base()));
            for key in ["title", "performer"] {
                if let Some(value) = text(key) {
                    audio[key] = json!(value);
                }
            }
            json!({ "audio": audio })
        }
        MediaKind::Voice => {
            let mut voice = timed(base());
            voice["mime_type"] = json!(mime_type);
            json!({ "voice": voice })
        }
        MediaKind::VideoNote => {
            let mut note = timed(base());
            note["length"] = json!(file.width.max(file.height));
            json!({ "video_note": note })
        }
        MediaKind::Sticker => {
            let mut sticker = sized(base());
            sticker["type"] = json!("regular");
            sticker["is_animated"] = json!(false);
            sticker["is_video"] = json!(false);
            if let Some(emoji) = text("emoji") {
                sticker["emoji"] = json!(emoji);
            }
            json!({ "sticker": sticker })
        }
        MediaKind::Document => json!({ "document": named(base()) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_and_stickers_take_their_size_from_the_image() {
        // A JPEG's start: SOI, then a baseline SOF0 of 300 × 200 (height first).
        let jpeg: &[u8] = &[
            0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0xC8, 0x01, 0x2C, 0x03, 0x01, 0x22,
            0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9,
        ];
        let photo = StoredFile::new(7, MediaKind::Photo, None, None, Bytes::from_static(jpeg));
        assert_eq!((photo.width, photo.height), (300, 200));
        assert_eq!(photo.document.file_id, "AgACAgIAAxkDAAIB00000007FakePhoto");
        assert_eq!(photo.path, "photos/file_7.jpg");

        let unknown = Bytes::from_static(b"not an image");
        let photo = StoredFile::new(8, MediaKind::Photo, None, None, unknown.clone());
        assert_eq!((photo.width, photo.height), (0, 0));
        let sticker = StoredFile::new(9, MediaKind::Sticker, None, None, unknown);
        assert_eq!((sticker.width, sticker.height), (512, 512));
    }

    #[test]
    fn an_animation_message_also_shows_a_document() {
        let mut file = StoredFile::new(
            1,
            MediaKind::Animation,
            Some("a.gif".to_owned()),
            None,
            Bytes::from_static(b"gif"),
        );
        declare(
            &mut file,
            &serde_json::from_str(r#"{"width":"40","height":30,"duration":2}"#).unwrap(),
        );
        let fields = message_fields(&file, &Map::new());
        assert_eq!(fields["animation"]["width"], 40);
        assert_eq!(fields["animation"]["height"], 30);
        assert_eq!(fields["animation"]["duration"], 2);
        assert_eq!(fields["animation"]["mime_type"], "video/mp4");
        assert_eq!(
            fields["document"]["file_id"],
            fields["animation"]["file_id"]
        );
        assert_eq!(file.path, "animations/file_1.gif");
    }
}
