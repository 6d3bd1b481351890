//! sendPhoto and the other single-file sends: uploads, resends by file_id, URLs, limits.

use fake_bot_api::TestUser;
use reqwest::multipart::Form;
use serde_json::json;
use teloxide_core::{
    ApiError, RequestError,
    prelude::*,
    types::{InputFile, InputMedia, InputMediaVideo, MediaKind, MessageKind},
};

use super::support::{download, file_part, png, post_json, post_multipart, start, updates};

#[tokio::test]
async fn an_uploaded_photo_has_its_dimensions_and_a_file_id_that_downloads_the_same_bytes() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let image = png(640, 480, 100);
    let sent = bot
        .send_photo(
            ChatId(alice.id),
            InputFile::memory(image.clone()).file_name("cat.png"),
        )
        .caption("A cat")
        .await
        .expect("sent");
    let sizes = sent.photo().expect("a photo");
    let size = sizes.last().expect("one size at least");
    assert_eq!((size.width, size.height), (640, 480));
    assert_eq!(size.file.size as usize, image.len());
    assert_eq!(sent.caption(), Some("A cat"));
    assert_eq!(download(&fake, &size.file.id.0).await, image);

    let photos = fake.photos(alice.id);
    assert_eq!(photos.len(), 1);
    assert_eq!((photos[0].width, photos[0].height), (640, 480));
    assert_eq!(photos[0].caption, "A cat");
    assert_eq!(photos[0].bytes, image);
    let counters = fake.counters();
    assert_eq!(
        (counters.uploads, counters.upload_bytes, counters.sends),
        (1, image.len() as u64, 1)
    );
    let messages = fake.bot_messages(alice.id);
    assert_eq!(messages[0]["photo"][0]["file_id"], json!(size.file.id));
}

#[tokio::test]
async fn a_resend_by_file_id_reuses_the_file_and_counts_as_by_id() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let first = bot
        .send_photo(ChatId(alice.id), InputFile::memory(png(10, 20, 0)))
        .await
        .expect("sent");
    let file_id = first.photo().expect("a photo")[0].file.id.clone();
    let again = bot
        .send_photo(ChatId(alice.id), InputFile::file_id(file_id.clone()))
        .caption("again")
        .await
        .expect("resent");
    let size = &again.photo().expect("a photo")[0];
    assert_eq!(size.file.id, file_id);
    assert_eq!((size.width, size.height), (10, 20));
    let counters = fake.counters();
    assert_eq!((counters.uploads, counters.sent_by_file_id), (1, 1));
    assert_eq!(fake.photos(alice.id).len(), 2);

    // A URL is not fetched but counted apart.
    let (status, answer) = post_json(
        &fake,
        "sendPhoto",
        json!({ "chat_id": alice.id, "photo": "https://example.com/cat.jpg" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(fake.counters().sent_by_url, 1);

    // A photo's id is not a document's.
    let (status, answer) = post_json(
        &fake,
        "sendDocument",
        json!({ "chat_id": alice.id, "document": file_id }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: can't use file of type Photo as Document"
    );
}

#[tokio::test]
async fn an_upload_over_50_mb_is_413_and_a_photo_over_10_mb_is_refused() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .part("document", file_part(vec![0; 51 * 1024 * 1024], "big.bin"));
    let (status, answer) = post_multipart(&fake, "sendDocument", form).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["description"], "Request Entity Too Large");

    let form = Form::new().text("chat_id", alice.id.to_string()).part(
        "photo",
        file_part(png(100, 100, 11 * 1024 * 1024), "big.png"),
    );
    let (status, answer) = post_multipart(&fake, "sendPhoto", form).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: PHOTO_SAVE_FILE_INVALID"
    );

    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .part("photo", file_part(png(9000, 2000, 0), "wide.png"));
    let (status, answer) = post_multipart(&fake, "sendPhoto", form).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: PHOTO_INVALID_DIMENSIONS"
    );
    assert!(fake.bot_messages(alice.id).is_empty());
    assert_eq!(fake.counters().uploads, 0);
}

#[tokio::test]
async fn a_missing_file_is_named_and_attach_finds_its_part() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let (status, answer) = post_json(&fake, "sendPhoto", json!({ "chat_id": alice.id })).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: there is no photo in the request"
    );
    let (_, answer) = post_json(&fake, "sendVideoNote", json!({ "chat_id": alice.id })).await;
    assert_eq!(
        answer["description"],
        "Bad Request: there is no video note in the request"
    );
    let error = bot
        .send_photo(ChatId(alice.id), InputFile::file_id("no-such-id".into()))
        .await
        .expect_err("unknown id");
    assert!(
        matches!(error, RequestError::Api(ApiError::WrongFileIdOrUrl)),
        "{error:?}"
    );

    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .text("photo", "attach://missing")
        .part("present", file_part(png(1, 1, 0), "a.png"));
    let (status, answer) = post_multipart(&fake, "sendPhoto", form).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: there is no photo in the request"
    );
    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .text("photo", "attach://present")
        .part("present", file_part(png(3, 4, 0), "a.png"));
    let (status, answer) = post_multipart(&fake, "sendPhoto", form).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["photo"][0]["width"], 3);

    let (_, answer) = post_json(&fake, "sendPhoto", json!({ "photo": "x" })).await;
    assert_eq!(answer["description"], "Bad Request: chat_id is empty");
}

#[tokio::test]
async fn every_kind_of_media_parses_as_telegram_sends_it() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let chat = ChatId(alice.id);
    let file = |name: &str| InputFile::memory(&b"media bytes"[..]).file_name(name.to_owned());

    let video = bot
        .send_video(chat, file("v.mp4"))
        .width(320)
        .height(240)
        .duration(7)
        .caption("clip")
        .await
        .expect("video");
    let v = video.video().expect("a video");
    assert_eq!((v.width, v.height, v.duration.seconds()), (320, 240, 7));
    assert_eq!(video.caption(), Some("clip"));

    let audio = bot
        .send_audio(chat, file("a.mp3"))
        .title("Song")
        .performer("Band")
        .await
        .expect("audio");
    let a = audio.audio().expect("an audio");
    assert_eq!(a.title.as_deref(), Some("Song"));
    assert_eq!(a.performer.as_deref(), Some("Band"));

    let voice = bot.send_voice(chat, file("v.ogg")).await.expect("voice");
    assert!(voice.voice().is_some());
    let animation = bot
        .send_animation(chat, file("a.gif"))
        .await
        .expect("animation");
    assert!(animation.animation().is_some());
    let sticker = bot
        .send_sticker(chat, file("s.webp"))
        .await
        .expect("sticker");
    assert!(sticker.sticker().is_some());
    let note = bot
        .send_video_note(chat, file("n.mp4"))
        .length(240)
        .await
        .expect("video note");
    assert_eq!(note.video_note().expect("a video note").length, 240);
    assert_eq!(fake.counters().uploads, 6);
    assert_eq!(fake.bot_messages(alice.id).len(), 6);

    // Stickers and video notes have no caption.
    let (_, answer) = post_json(
        &fake,
        "sendSticker",
        json!({
            "chat_id": alice.id,
            "sticker": sticker.sticker().expect("a sticker").file.id,
            "caption": "ignored",
        }),
    )
    .await;
    assert!(answer["result"].get("caption").is_none(), "{answer}");
}

#[tokio::test]
async fn a_users_photo_reaches_the_bot_and_downloads() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    let image = png(800, 600, 50);
    fake.send_photo(&alice, image.clone(), "look");
    let updates = updates(&bot).await;
    let MessageKind::Common(common) = &super::support::message_of(&updates[0]).kind else {
        panic!("a common message");
    };
    let MediaKind::Photo(photo) = &common.media_kind else {
        panic!("a photo message");
    };
    assert_eq!(photo.caption.as_deref(), Some("look"));
    let size = photo.photo.last().expect("a size");
    assert_eq!((size.width, size.height), (800, 600));
    assert_eq!(download(&fake, &size.file.id.0).await, image);
    assert_eq!(
        fake.counters().uploads,
        0,
        "the user's file is not the bot's upload"
    );
}

#[tokio::test]
async fn edit_message_media_replaces_a_photo_with_a_video() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let sent = bot
        .send_photo(ChatId(alice.id), InputFile::memory(png(8, 8, 0)))
        .caption("before")
        .await
        .expect("sent");
    let edited = bot
        .edit_message_media(
            ChatId(alice.id),
            sent.id,
            InputMedia::Video(
                InputMediaVideo::new(InputFile::memory(&b"clip"[..]).file_name("c.mp4"))
                    .caption("after"),
            ),
        )
        .await
        .expect("edited");
    assert!(edited.photo().is_none());
    assert_eq!(edited.video().expect("a video").file.size, 4);
    assert_eq!(edited.caption(), Some("after"));
    assert!(fake.photos(alice.id).is_empty());
    assert_eq!(fake.counters().uploads, 2);
}

#[tokio::test]
async fn given_caption_entities_are_echoed_unless_a_parse_mode_wins() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let entities = json!([{ "type": "italic", "offset": 0, "length": 4 }]);
    let (_, answer) = post_json(
        &fake,
        "sendDocument",
        json!({
            "chat_id": alice.id,
            "document": "https://example.com/a.txt",
            "caption": "note",
            "caption_entities": entities,
            "protect_content": true,
        }),
    )
    .await;
    assert_eq!(answer["result"]["caption_entities"], entities);
    assert_eq!(answer["result"]["has_protected_content"], true);
    let (_, answer) = post_json(
        &fake,
        "sendPhoto",
        json!({
            "chat_id": alice.id,
            "photo": "https://example.com/a.jpg",
            "caption": "<b>bold</b>",
            "parse_mode": "HTML",
            "caption_entities": entities,
        }),
    )
    .await;
    assert_eq!(answer["result"]["caption"], "bold");
    assert_eq!(answer["result"]["caption_entities"][0]["type"], "bold");
}
