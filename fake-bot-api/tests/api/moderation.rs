//! Join requests decided once, bans, unbans and restrictions, refused outside groups.

use fake_bot_api::{FakeBotApi, FakeConfig, JoinDecision, Limits, MemberStatus, TestUser};
use serde_json::json;

use super::support::post_json;

const GROUP: i64 = -100_555;

#[tokio::test]
async fn a_join_request_is_decided_once_and_members_are_banned_and_restricted_in_groups_only() {
    let fake = FakeBotApi::start(FakeConfig {
        limits: Limits::unlimited(),
        ..FakeConfig::default()
    })
    .unwrap();
    let alice = TestUser::alice();
    fake.request_to_join(&alice, GROUP, "Crabs");
    let asked = json!({"timeout": 0, "allowed_updates": ["chat_join_request", "chat_member", "my_chat_member"]});
    let (_, updates) = post_json(&fake, "getUpdates", asked).await;
    let request = &updates["result"][0]["chat_join_request"];
    assert_eq!(request["chat"]["id"], GROUP);
    assert_eq!(request["user_chat_id"], alice.id);
    assert_eq!(
        fake.join_decision(GROUP, alice.id),
        Some(JoinDecision::Pending)
    );

    let who = json!({"chat_id": GROUP, "user_id": alice.id});
    let (status, _) = post_json(&fake, "approveChatJoinRequest", who.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        fake.join_decision(GROUP, alice.id),
        Some(JoinDecision::Approved)
    );
    assert_eq!(
        fake.member_status(GROUP, alice.id),
        Some(MemberStatus::Member)
    );
    // Telegram tells bots that ask: Alice went from left to member.
    let next = updates["result"][0]["update_id"].as_i64().unwrap() + 1;
    let (_, joined) = post_json(&fake, "getUpdates", json!({"timeout": 0, "offset": next})).await;
    let change = &joined["result"][0]["chat_member"];
    assert_eq!(change["old_chat_member"]["status"], "left", "{joined}");
    assert_eq!(change["new_chat_member"]["status"], "member");
    assert_eq!(change["new_chat_member"]["user"]["id"], alice.id);
    let (status, again) = post_json(&fake, "declineChatJoinRequest", who.clone()).await;
    assert_eq!(
        (status, again["description"].as_str()),
        (400, Some("Bad Request: HIDE_REQUESTER_MISSING"))
    );

    let muted = json!({"chat_id": GROUP, "user_id": alice.id,
        "permissions": {"can_send_messages": false}, "until_date": 1_900_000_000});
    assert_eq!(post_json(&fake, "restrictChatMember", muted).await.0, 200);
    let r = fake.restriction(GROUP, alice.id).expect("restricted");
    assert_eq!(
        (r.permissions["can_send_messages"].clone(), r.until_date),
        (json!(false), 1_900_000_000)
    );
    assert_eq!(post_json(&fake, "banChatMember", who.clone()).await.0, 200);
    assert_eq!(
        fake.member_status(GROUP, alice.id),
        Some(MemberStatus::Kicked)
    );
    assert_eq!(post_json(&fake, "unbanChatMember", who).await.0, 200);
    assert_eq!(
        fake.member_status(GROUP, alice.id),
        Some(MemberStatus::Left)
    );
    let private = json!({"chat_id": alice.id, "user_id": alice.id});
    assert_eq!(post_json(&fake, "banChatMember", private).await.0, 400);
    assert_eq!(fake.moderation_actions().len(), 4);

    fake.add_bot_to_group(&TestUser::bob(), -100_777, "New", true);
    let (_, added) = post_json(
        &fake,
        "getUpdates",
        json!({"timeout": 0, "allowed_updates": ["my_chat_member"]}),
    )
    .await;
    let last = added["result"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["my_chat_member"]["new_chat_member"]["status"], "administrator",
        "{added}"
    );
}
