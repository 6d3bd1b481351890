//! getChatMember, getChatAdministrators and getChatMemberCount.

use fake_bot_api::{MemberStatus, TestUser};
use serde_json::json;
use teloxide_core::{prelude::*, types::UserId};

use super::support::{post_json, start};

const GROUP: i64 = -1_001_234_567_890;

#[tokio::test]
async fn a_member_of_a_group_and_an_unknown_user() {
    let (fake, bot) = start();
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    fake.send_text_in_group(GROUP, "Team", &alice, "hi");
    let member = bot
        .get_chat_member(ChatId(GROUP), UserId(alice.id as u64))
        .await
        .expect("a member");
    assert!(member.is_member());
    assert_eq!(member.user.first_name, "Alice");

    let me = bot
        .get_chat_member(ChatId(GROUP), UserId(fake.bot_id() as u64))
        .await
        .expect("the bot");
    assert!(me.is_administrator());

    let (status, answer) = post_json(
        &fake,
        "getChatMember",
        json!({ "chat_id": GROUP, "user_id": 999_999 }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["description"], "Bad Request: user not found");

    // Bob is known (from his private chat) but not in the group.
    fake.send_text(&bob, "/start");
    let left = bot
        .get_chat_member(ChatId(GROUP), UserId(bob.id as u64))
        .await
        .expect("bob");
    assert!(left.is_left());

    let count = bot
        .get_chat_member_count(ChatId(GROUP))
        .await
        .expect("a count");
    assert_eq!(count, 2, "alice and the bot");
}

#[tokio::test]
async fn administrators_and_private_chats() {
    let (fake, bot) = start();
    let (alice, bob) = (TestUser::alice(), TestUser::bob());
    fake.send_text_in_group(GROUP, "Team", &alice, "hi");
    fake.set_member_status(GROUP, &bob, MemberStatus::Creator);
    let admins = bot
        .get_chat_administrators(ChatId(GROUP))
        .await
        .expect("admins");
    assert_eq!(admins.len(), 2);
    assert!(admins[0].is_owner());
    assert_eq!(admins[0].user.id, UserId(bob.id as u64));
    assert!(admins[1].is_administrator());
    assert_eq!(
        bot.get_chat_member_count(ChatId(GROUP))
            .await
            .expect("count"),
        3
    );

    fake.send_text(&alice, "/start");
    let member = bot
        .get_chat_member(ChatId(alice.id), UserId(alice.id as u64))
        .await
        .expect("alice");
    assert!(member.is_member());
    assert_eq!(
        bot.get_chat_member_count(ChatId(alice.id))
            .await
            .expect("count"),
        2
    );
    let (_, answer) = post_json(
        &fake,
        "getChatAdministrators",
        json!({ "chat_id": alice.id }),
    )
    .await;
    assert_eq!(
        answer["description"],
        "Bad Request: there are no administrators in the private chat"
    );
    let (_, answer) = post_json(&fake, "getChatMember", json!({ "chat_id": alice.id })).await;
    assert_eq!(
        answer["description"],
        "Bad Request: invalid user_id specified"
    );

    fake.set_blocked(&alice, true);
    let me = bot
        .get_chat_member(ChatId(alice.id), UserId(fake.bot_id() as u64))
        .await
        .expect("the bot");
    assert!(me.is_banned(), "a blocked bot is kicked: {me:?}");
}
