//! A group in `botbox dev`: `:group` puts the person in a group with simulated members, where
//! they are an admin; what they type then goes to the group (a button's label presses it).
//! `:as <name> <text>` writes as a member, `:reply <name> <text>` replies to that member's
//! latest message, `:join <name>` makes someone ask to join, `:press <name> <label>` presses a
//! button in that person's private chat with the bot, `:private` goes back.

use anyhow::Context as _;
use fake_bot_api::{FakeBotApi, MemberStatus, TestUser};

/// The simulated group's id and title.
pub(super) const GROUP: i64 = -1_000_000_000_042;
const TITLE: &str = "Dev group";
/// The members who are there from the start.
const MEMBERS: [&str; 2] = ["Sam", "Mo"];

/// Whether the person is in the group, and the people simulated so far.
#[derive(Default)]
pub(super) struct DevGroup {
    active: bool,
    people: Vec<TestUser>,
}

impl DevGroup {
    /// The simulated person called `name` (made on first use, ids from 2001).
    fn person(&mut self, name: &str) -> TestUser {
        if let Some(p) = self
            .people
            .iter()
            .find(|p| p.first_name.eq_ignore_ascii_case(name))
        {
            return p.clone();
        }
        let id = 2001 + i64::try_from(self.people.len()).unwrap_or(0);
        let person = TestUser::new(id, name);
        self.people.push(person.clone());
        person
    }

    /// Handles `line` if it is about the group; `false` when it is not.
    pub(super) fn handle(
        &mut self,
        fake: &FakeBotApi,
        me: &TestUser,
        line: &str,
    ) -> anyhow::Result<bool> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
        match word {
            ":group" => {
                fake.set_member_status(GROUP, me, MemberStatus::Administrator);
                for m in MEMBERS {
                    let member = self.person(m);
                    fake.set_member_status(GROUP, &member, MemberStatus::Member);
                }
                self.active = true;
                println!(
                    "botbox dev: you are an admin of {TITLE} (id {GROUP}) with {}; what you type goes there. \
                     `:as <name> <text>`, `:reply <name> <text>`, `:join <name>`, `:press <name> <label>`, `:private`.",
                    MEMBERS.join(" and ")
                );
            }
            ":private" => {
                self.active = false;
                println!("botbox dev: back in your private chat with the bot");
            }
            ":as" => {
                let member = self.person(name);
                fake.send_text_in_group(GROUP, TITLE, &member, text);
            }
            ":reply" => {
                let member = self.person(name);
                let to = fake
                    .transcript(GROUP)
                    .iter()
                    .rev()
                    .find(|e| e.from_id == member.id && !e.deleted)
                    .map(|e| e.message_id)
                    .with_context(|| format!("{name} has written nothing in {TITLE} yet"))?;
                fake.send_reply(me, GROUP, to, text)?;
            }
            ":join" => {
                let person = self.person(name);
                fake.request_to_join(&person, GROUP, TITLE);
                println!("botbox dev: {name} asks to join {TITLE}");
            }
            ":press" => {
                let person = self.person(name);
                fake.press_inline_label(&person, person.id, text)?;
            }
            _ if self.active && !line.starts_with(':') => {
                let pressable = fake
                    .transcript(GROUP)
                    .iter()
                    .rev()
                    .find(|e| e.from_bot && !e.deleted)
                    .is_some_and(|m| {
                        m.inline_button(line)
                            .is_some_and(|b| b.callback_data.is_some())
                    });
                if pressable {
                    fake.press_inline_label(me, GROUP, line)?;
                } else {
                    fake.send_text_in_group(GROUP, TITLE, me, line);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// How the printer names who a bot message went to: `bot` in the person's own chat,
    /// `bot in Dev group`, `bot → <name>` in someone else's.
    pub(super) fn label(chat_id: i64, me: i64) -> String {
        match chat_id {
            GROUP => format!("bot in {TITLE}"),
            c if c == me => "bot".to_string(),
            c if c < 0 => format!("bot in chat {c}"),
            c => format!("bot → user {c}"),
        }
    }
}
