//! sendMediaGroup.

use fake_bot_api::TestUser;
use reqwest::multipart::Form;
use serde_json::json;
use teloxide_core::{
    prelude::*,
    types::{InputFile, InputMedia, InputMediaPhoto, InputMediaVideo},
};

use super::support::{file_part, png, post_json, post_multipart, start};

#[tokio::test]
async fn an_album_of_three_shares_a_media_group_id() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let media = json!([
        { "type": "photo", "media": "attach://one", "caption": "<b>first</b>", "parse_mode": "HTML" },
        { "type": "photo", "media": "attach://two" },
        { "type": "video", "media": "https://example.com/clip.mp4", "width": 64, "height": 48 },
    ]);
    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .text("media", media.to_string())
        .part("one", file_part(png(30, 40, 0), "one.png"))
        .part("two", file_part(png(50, 60, 0), "two.png"));
    let (status, answer) = post_multipart(&fake, "sendMediaGroup", form).await;
    assert_eq!(status, 200, "{answer}");
    let messages = answer["result"].as_array().expect("an array of messages");
    assert_eq!(messages.len(), 3);
    let group = &messages[0]["media_group_id"];
    assert!(group.is_string());
    assert!(messages.iter().all(|m| &m["media_group_id"] == group));
    assert_eq!(messages[0]["caption"], "first");
    assert_eq!(messages[0]["caption_entities"][0]["type"], "bold");
    assert!(messages[1].get("caption").is_none());
    assert_eq!(messages[1]["photo"][0]["width"], 50);
    assert_eq!(messages[2]["video"]["width"], 64);

    let photos = fake.photos(alice.id);
    assert_eq!(photos.len(), 2);
    assert_eq!((photos[0].width, photos[0].height), (30, 40));
    let counters = fake.counters();
    assert_eq!(
        (counters.uploads, counters.sent_by_url, counters.sends),
        (2, 1, 3)
    );
}

#[tokio::test]
async fn teloxide_sends_albums_and_parses_the_answer() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let messages = bot
        .send_media_group(
            ChatId(alice.id),
            [
                InputMedia::Photo(
                    InputMediaPhoto::new(InputFile::memory(png(5, 5, 0)).file_name("a.png"))
                        .caption("album"),
                ),
                InputMedia::Video(InputMediaVideo::new(
                    InputFile::memory(&b"video"[..]).file_name("b.mp4"),
                )),
            ],
        )
        .await
        .expect("sent");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].media_group_id(), messages[1].media_group_id());
    assert_eq!(messages[0].caption(), Some("album"));
}

#[tokio::test]
async fn albums_are_checked_like_telegram_checks_them() {
    let (fake, _bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let send = |media: serde_json::Value| {
        let fake = fake.clone();
        async move {
            post_json(
                &fake,
                "sendMediaGroup",
                json!({ "chat_id": alice.id, "media": media }),
            )
            .await
        }
    };
    let url = "https://example.com/a.jpg";
    let (status, answer) = send(json!([{ "type": "photo", "media": url }])).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["description"],
        "Bad Request: media must include 2-10 items"
    );
    let eleven: Vec<_> = (0..11)
        .map(|_| json!({ "type": "photo", "media": url }))
        .collect();
    let (status, _) = send(json!(eleven)).await;
    assert_eq!(status, 400);
    let (_, answer) = send(json!([
        { "type": "photo", "media": url },
        { "type": "photo", "media": "attach://nothing" },
    ]))
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: can't parse InputMedia: media not found"
    );
    let (_, answer) = send(json!([
        { "type": "photo", "media": url },
        { "type": "document", "media": url },
    ]))
    .await;
    assert_eq!(answer["error_code"], 400);
    let (_, answer) = send(json!([
        { "type": "animation", "media": url },
        { "type": "photo", "media": url },
    ]))
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup"
    );
    let (_, answer) = post_json(&fake, "sendMediaGroup", json!({ "chat_id": alice.id })).await;
    assert_eq!(
        answer["description"],
        "Bad Request: parameter \"media\" is required"
    );
    assert!(fake.bot_messages(alice.id).is_empty());
}

#[tokio::test]
async fn files_of_an_album_with_a_resend_keep_distinct_ids() {
    let (fake, bot) = start();
    let alice = TestUser::alice();
    fake.open_chat(&alice);
    let first = bot
        .send_photo(ChatId(alice.id), InputFile::memory(png(1, 1, 0)))
        .await
        .expect("sent");
    let known = first.photo().expect("a photo")[0].file.id.0.clone();
    let media = json!([
        { "type": "photo", "media": "attach://a" },
        { "type": "photo", "media": known },
        { "type": "photo", "media": "attach://b" },
    ]);
    let form = Form::new()
        .text("chat_id", alice.id.to_string())
        .text("media", media.to_string())
        .part("a", file_part(png(2, 2, 0), "a.png"))
        .part("b", file_part(png(3, 3, 0), "b.png"));
    let (status, answer) = post_multipart(&fake, "sendMediaGroup", form).await;
    assert_eq!(status, 200, "{answer}");
    bot.send_photo(ChatId(alice.id), InputFile::memory(png(4, 4, 0)))
        .await
        .expect("sent");
    let photos = fake.photos(alice.id);
    let sizes: Vec<_> = photos.iter().map(|p| p.width).collect();
    assert_eq!(sizes, [1, 2, 1, 3, 4]);
    let mut ids: Vec<_> = photos.iter().map(|p| p.file_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "one file sent twice, four files in all");
    let counters = fake.counters();
    assert_eq!((counters.uploads, counters.sent_by_file_id), (4, 1));
}
