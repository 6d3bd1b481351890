//! Inline mode in `botbox dev`: a line `@<bot> query` is typed as an inline query, the bot's
//! results are shown numbered, and `:pick N` chooses one (the `chosen_inline_result` update).

use anyhow::Context as _;
use fake_bot_api::{FakeBotApi, InlineAnswer, TestUser};
use serde_json::Value;

/// Handles `line` if it is an inline query or a pick; `false` when it is neither.
pub(super) fn handle(fake: &FakeBotApi, user: &TestUser, line: &str) -> anyhow::Result<bool> {
    let bot = format!("@{}", fake.bot_username());
    if let Some(rest) = line.strip_prefix(&bot)
        && (rest.is_empty() || rest.starts_with(char::is_whitespace))
    {
        fake.send_inline_query(user, rest.trim());
        return Ok(true);
    }
    let Some(n) = line.strip_prefix(":pick") else {
        return Ok(false);
    };
    let n: usize = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .context(":pick takes the number of a result: `:pick 1`")?;
    let answer = fake
        .view(|v| {
            v.inline_answers()
                .iter()
                .rev()
                .find(|a| a.user_id == user.id)
                .cloned()
        })
        .context("no inline results to pick from yet: type `@bot <query>` first")?;
    let result = answer.results.get(n - 1).with_context(|| {
        format!(
            "there are {} results; `:pick {n}` names none",
            answer.results.len()
        )
    })?;
    let id = result["id"].as_str().unwrap_or_default();
    fake.choose_inline_result(user, &answer.query_id, id)?;
    println!("you sent via {bot}: {}", describe(result));
    Ok(true)
}

/// The bot's inline results, one numbered line each.
pub(super) fn show(answer: &InlineAnswer) -> String {
    if answer.results.is_empty() {
        return format!("bot (inline, {:?}): no results", answer.query);
    }
    let mut text = format!("bot (inline results for {:?}):", answer.query);
    for (i, r) in answer.results.iter().enumerate() {
        text.push_str(&format!("\n  {}. {}", i + 1, describe(r)));
    }
    text.push_str("\n  (`:pick N` sends one)");
    text
}

/// One result in words: its type and what the user would see of it.
fn describe(result: &Value) -> String {
    let kind = result["type"].as_str().unwrap_or("?");
    let shown = ["title", "caption", "description"]
        .iter()
        .find_map(|f| result[*f].as_str())
        .or_else(|| result["input_message_content"]["message_text"].as_str())
        .unwrap_or("");
    let text = crate::text::cut(&shown.replace('\n', " "), 80);
    if text.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {text}")
    }
}
