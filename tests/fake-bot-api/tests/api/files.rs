//! sendDocument, getFile and downloads.

use fake_bot_api::TestUser;
use teloxide_core::{prelude::*, types::InputFile};

use super::support::start;

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
