//! sendDocument, editMessageMedia, getFile, downloads and the file size limits.

use fake_bot_api::{FakeConfig, FileLimits, Limits, TestUser};
use serde_json::json;
use teloxide_core::{
    ApiError, RequestError,
    net::Download,
    prelude::*,
    types::{InputFile, InputMedia, InputMediaDocument},
};

use super::support::{post_json, start, start_with};

#[tokio::test]
async fn a_sent_document_can_be_fetched_back() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.send_text(&alice, "report please");
    let sent = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(&b"total: 42\n"[..]).file_name("report.txt"),
        )
        .caption("Your report")
        .await
        .expect("sent");
    let document = sent.document().expect("a document");
    assert_eq!(document.file_name.as_deref(), Some("report.txt"));
    assert_eq!(sent.caption(), Some("Your report"));

    let file = bot
        .get_file(document.file.id.clone())
        .await
        .expect("getFile");
    let url = format!("{}file/bot{}/{}", fake.api_url(), fake.token(), file.path);
    let bytes = reqwest::get(url)
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[..], b"total: 42\n");

    let entry = fake
        .last_bot_message(alice.id)
        .expect("the document message");
    assert_eq!(entry.text, "Your report");
    assert_eq!(entry.document.map(|d| d.bytes.len()), Some(10));
}

#[tokio::test]
async fn edit_message_media_replaces_the_document_and_get_file_serves_the_new_bytes() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let sent = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(&b"old"[..]).file_name("old.txt"),
        )
        .caption("v1")
        .await
        .expect("sent");
    let old_id = sent.document().expect("a document").file.id.clone();

    let edited = bot
        .edit_message_media(
            ChatId(alice.id),
            sent.id,
            InputMedia::Document(
                InputMediaDocument::new(
                    InputFile::memory(&b"brand new content"[..]).file_name("new.txt"),
                )
                .caption("v2"),
            ),
        )
        .await
        .expect("edited");
    assert_eq!(edited.id, sent.id);
    assert_eq!(edited.caption(), Some("v2"));
    assert!(edited.edit_date().is_some());
    let document = edited.document().expect("a document");
    assert_eq!(document.file_name.as_deref(), Some("new.txt"));
    assert_ne!(document.file.id, old_id);
    assert_eq!(document.file.size, 17);

    let file = bot
        .get_file(document.file.id.clone())
        .await
        .expect("getFile");
    let mut bytes = Vec::new();
    bot.download_file(&file.path, &mut bytes)
        .await
        .expect("download");
    assert_eq!(bytes, b"brand new content");

    let entry = fake.last_bot_message(alice.id).expect("the message");
    assert_eq!(entry.text, "v2");
    assert_eq!(entry.edits, 1);
    let documents = fake.documents(alice.id);
    assert_eq!(documents.len(), 1);
    assert_eq!(&documents[0].bytes[..], b"brand new content");

    // A file_id works too: back to the old file, without a caption.
    let edited = bot
        .edit_message_media(
            ChatId(alice.id),
            sent.id,
            InputMedia::Document(InputMediaDocument::new(InputFile::file_id(old_id.clone()))),
        )
        .await
        .expect("edited");
    assert_eq!(edited.document().expect("a document").file.id, old_id);
    assert_eq!(edited.caption(), None);

    // A text message has no media to replace.
    let text = bot
        .send_message(ChatId(alice.id), "plain")
        .await
        .expect("sent");
    let error = bot
        .edit_message_media(
            ChatId(alice.id),
            text.id,
            InputMedia::Document(InputMediaDocument::new(InputFile::file_id(old_id))),
        )
        .await
        .expect_err("no media");
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d == "Bad Request: there is no media in the message to edit"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_and_nothing_is_sent() {
    let (fake, bot) = start_with(FakeConfig {
        limits: Limits::unlimited(),
        file_limits: FileLimits {
            upload_max: 1000,
            download_max: 500,
        },
        ..FakeConfig::default()
    });
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let error = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(vec![7_u8; 1001]).file_name("big.bin"),
        )
        .await
        .expect_err("too big");
    assert!(
        matches!(error, RequestError::Api(ApiError::RequestEntityTooLarge)),
        "{error:?}"
    );
    assert!(fake.transcript(alice.id).is_empty());

    let sent = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(vec![7_u8; 1000]).file_name("fits.bin"),
        )
        .await
        .expect("at the limit");
    let error = bot
        .edit_message_media(
            ChatId(alice.id),
            sent.id,
            InputMedia::Document(InputMediaDocument::new(
                InputFile::memory(vec![8_u8; 1001]).file_name("big.bin"),
            )),
        )
        .await
        .expect_err("too big");
    assert!(
        matches!(error, RequestError::Api(ApiError::RequestEntityTooLarge)),
        "{error:?}"
    );
    assert_eq!(fake.documents(alice.id)[0].bytes.len(), 1000);

    // A request body far over the limit gets the same Telegram-shaped answer.
    let error = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(vec![7_u8; 3 * 1024 * 1024]).file_name("huge.bin"),
        )
        .await
        .expect_err("too big");
    assert!(
        matches!(error, RequestError::Api(ApiError::RequestEntityTooLarge)),
        "{error:?}"
    );
}

#[tokio::test]
async fn get_file_over_the_download_limit_is_refused() {
    let (fake, bot) = start_with(FakeConfig {
        limits: Limits::unlimited(),
        file_limits: FileLimits {
            upload_max: 1000,
            download_max: 500,
        },
        ..FakeConfig::default()
    });
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let big = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(vec![1_u8; 501]).file_name("big.bin"),
        )
        .await
        .expect("uploads may be bigger than downloads");
    let error = bot
        .get_file(big.document().expect("a document").file.id.clone())
        .await
        .expect_err("too big to download");
    assert!(
        matches!(&error, RequestError::Api(ApiError::Unknown(d)) if d == "Bad Request: file is too big"),
        "{error:?}"
    );
    let (status, body) = post_json(
        &fake,
        "getFile",
        json!({ "file_id": big.document().expect("a document").file.id }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({ "ok": false, "error_code": 400, "description": "Bad Request: file is too big" })
    );

    let small = bot
        .send_document(
            ChatId(alice.id),
            InputFile::memory(vec![1_u8; 500]).file_name("small.bin"),
        )
        .await
        .expect("sent");
    bot.get_file(small.document().expect("a document").file.id.clone())
        .await
        .expect("at the limit");
}
