//! qr: QR codes both ways, made and read inside the module.
//!
//! - `/qr <text>`, or any plain text in a private chat, is answered with a photo of the text's
//!   QR code, drawn here and uploaded with the call (sendPhoto with a file part), captioned
//!   `QR code: <text>`.
//! - A photo (or a picture sent as a file) of a QR code, in a private chat or captioned `/qr` in
//!   a group, is downloaded by its file id, decoded here, and answered `QR code says: <text>`
//!   (one line per code when there are several).
//! - Clear answers otherwise: `/qr` alone says how to use it; a text over a code's capacity
//!   (2331 bytes) says so; a picture without a code is answered
//!   `I found no QR code in this picture.`, a code that cannot be read
//!   `I found a QR code but could not read it: ...`.
//!
//! - Inline mode: `@bot hello` in any chat offers the code of "hello" as a photo, uploaded
//!   once and then answered by its file id (see [`inline`]).
//!
//! Everything it does goes through the SDK's `bot_api` (contract 0.1.2); it keeps only the
//! file ids of codes made for inline queries.

pub mod code;
pub mod inline;

use botbox_sdk::bot_api::{self, Call, FilePart};
use botbox_sdk::types::ChatKind;
use botbox_sdk::{Error, Manifest, Module, Update, reply};

use code::{DecodeError, EncodeError};

/// How `/qr` is used.
pub const USAGE: &str = "Send /qr <text> (or just the text) and I answer with its QR code; \
                         send a photo of a QR code and I answer what it says.";

/// The most characters of the text repeated in a photo's caption (Telegram's limit is 1024).
const CAPTION_CHARS: usize = 200;

/// The module.
pub struct Qr;

impl Module for Qr {
    fn init() -> Result<Manifest, Error> {
        Ok(Manifest::new("qr", env!("CARGO_PKG_VERSION"))
            .command(
                "qr",
                "Make a QR code: /qr <text>; or send a photo of one to read it",
            )
            // Plain text to encode and photos to decode arrive as messages.
            .wants_messages()
            .wants_updates(["inline_query", "chosen_inline_result"])
            // An inline query's upload is looked for by a timer.
            .timers())
    }

    fn handle_update(update: &Update) -> Result<(), Error> {
        if let Some(fired) = update.timer() {
            return inline::poll(&fired.payload);
        }
        match update.other() {
            Some("inline_query") => return inline::answer(update),
            Some("chosen_inline_result") => return inline::chosen(),
            _ => {}
        }
        let Some(chat) = update.chat_id() else {
            return Ok(());
        };
        if update.is_command("qr") {
            return match update.command_args() {
                "" => reply(update, USAGE).map(drop).map_err(Error::from),
                text => send_code(update, chat, text),
            };
        }
        if update.command().is_some() {
            return Ok(());
        }
        // In a group, plain text and pictures are the members' conversation (and maybe other
        // modules'): only a picture captioned /qr is for this module there.
        let private = update
            .message()
            .is_some_and(|message| message.chat.kind == ChatKind::Private);
        if !private && !update.caption().is_some_and(|c| c.starts_with("/qr")) {
            return Ok(());
        }
        if let Some(photo) = update.largest_photo() {
            return read_code(update, chat, &photo.file_id);
        }
        if let Some(document) = update.document()
            && document
                .mime_type
                .as_deref()
                .is_some_and(|mime| mime == "image/png" || mime == "image/jpeg")
        {
            return read_code(update, chat, &document.file_id);
        }
        match update.text() {
            // Another module's command, or a message of no text.
            Some(text) if !text.starts_with('/') => send_code(update, chat, text),
            _ => Ok(()),
        }
    }
}

/// Answers `text`'s code as a photo, or why there is none.
fn send_code(update: &Update, chat: i64, text: &str) -> Result<(), Error> {
    let png = match code::encode(text) {
        Ok(png) => png,
        Err(EncodeError::Empty) => {
            reply(update, USAGE)?;
            return Ok(());
        }
        Err(EncodeError::TooLong(bytes)) => {
            reply(update, &too_long(bytes))?;
            return Ok(());
        }
    };
    let photo = FilePart::new("qr", "qr.png", png);
    Call::new("sendPhoto")
        .param("chat_id", chat)
        .param("photo", photo.attach())
        .param("caption", caption(text))
        .file(photo)
        .send()?;
    Ok(())
}

/// Downloads the picture `file_id` and answers the codes in it, or why there are none.
fn read_code(update: &Update, chat: i64, file_id: &str) -> Result<(), Error> {
    // Downloading and decoding take a moment: show that something is happening (not durable,
    // and a refusal of it is no reason to stop).
    let _ = bot_api::send_chat_action(chat, "typing");
    let picture = bot_api::download(file_id)?;
    let answer = match code::decode(&picture) {
        Ok(texts) => answer(&texts),
        Err(DecodeError::NoCode) => "I found no QR code in this picture.".to_owned(),
        Err(DecodeError::Unreadable(why)) => {
            format!("I found a QR code but could not read it: {why}. Try a sharper photo.")
        }
        Err(DecodeError::NotAPicture(why)) => {
            format!("I could not open this picture: {why}. Send a JPEG or PNG.")
        }
    };
    reply(update, &answer)?;
    Ok(())
}

/// What the codes found say, as the answer.
pub fn answer(texts: &[String]) -> String {
    match texts {
        [one] => format!("QR code says: {one}"),
        many => {
            let mut out = format!("{} QR codes say:", many.len());
            for text in many {
                out.push_str("\n- ");
                out.push_str(text);
            }
            out
        }
    }
}

/// The answer to a text over a code's capacity.
pub fn too_long(bytes: usize) -> String {
    format!(
        "That text is too long for a QR code: {bytes} bytes, and a code holds at most {}.",
        code::MAX_BYTES
    )
}

/// A photo's caption: the text, shortened past [`CAPTION_CHARS`].
pub fn caption(text: &str) -> String {
    if text.chars().count() <= CAPTION_CHARS {
        return format!("QR code: {text}");
    }
    let short: String = text.chars().take(CAPTION_CHARS).collect();
    format!("QR code: {short}…")
}

botbox_sdk::export_module!(Qr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_name_the_codes_and_the_limit() {
        assert_eq!(answer(&["hi".into()]), "QR code says: hi");
        assert_eq!(
            answer(&["a".into(), "b".into()]),
            "2 QR codes say:\n- a\n- b"
        );
        assert_eq!(
            too_long(3000),
            "That text is too long for a QR code: 3000 bytes, and a code holds at most 2331."
        );
    }

    #[test]
    fn a_long_caption_is_shortened() {
        assert_eq!(caption("hi"), "QR code: hi");
        let long = caption(&"é".repeat(500));
        assert_eq!(long.chars().count(), "QR code: ".len() + CAPTION_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
