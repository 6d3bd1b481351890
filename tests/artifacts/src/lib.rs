//! Guest components compiled from source for the host's tests: the paths of the `.wasm` files.
//!
//! The build script compiles the guest workspaces (`example-modules/` and `tests/guests/`) for
//! wasm32-wasip2 in release mode, into `<target-dir>/botbox-guests/`, whenever a guest, the SDK
//! or `wit/` changes. It needs `rustup target add wasm32-wasip2` and says so when it is missing.
//!
//! ```
//! let bytes = std::fs::read(botbox_test_artifacts::ECHO)?;
//! assert_eq!(&bytes[..4], b"\0asm");
//! # Ok::<(), std::io::Error>(())
//! ```

/// `example-modules/clicker`: `/start` registers the user and shows a reply keyboard
/// [Click] [Rating]; `Click` answers `Clicks: N`; `Rating` answers `Total: <users>` and the top 15
/// as `i: name - clicks`; unregistered users are told `Please send /start first.`.
pub const CLICKER: &str = include!(concat!(env!("OUT_DIR"), "/clicker.path"));

/// `tests/guests/bad-trap`: `/trap` panics (a wasm trap); `/ok_trap` answers `trap module alive`;
/// `/flaky` panics until the module's KV holds the key `fixed`, then answers `flaky handled`.
pub const BAD_TRAP: &str = include!(concat!(env!("OUT_DIR"), "/bad_trap.path"));

/// `tests/guests/bad-loop`: `/loop` never returns (only a CPU deadline stops it); `/ok_loop`
/// answers `loop module alive`; `/sleep <ms>` waits without computing, then answers
/// `slept <ms>` (only a wall-clock deadline stops a long one).
pub const BAD_LOOP: &str = include!(concat!(env!("OUT_DIR"), "/bad_loop.path"));

/// `tests/guests/bad-alloc`: `/alloc` allocates 1 MiB blocks without bound, touching every page,
/// until an allocation fails (a trap); `/ok_alloc` answers `alloc module alive`.
pub const BAD_ALLOC: &str = include!(concat!(env!("OUT_DIR"), "/bad_alloc.path"));

/// `tests/guests/echo` (wants messages): a plain text message is answered `echo: <text>`;
/// `/edit` sends `v1` and edits it to `v2` by ticket in the same update; `/edits` edits it to
/// `v2` and then `v3`; `/buttons` sends inline
/// buttons A (data `a`) and B (data `b`); a press is answered (answerCallbackQuery) and followed
/// by `pressed: <data>`; a press with the data `e` (forged: no button has it) first edits the
/// pressed message to `edited by echo`.
pub const ECHO: &str = include!(concat!(env!("OUT_DIR"), "/echo.path"));

/// `tests/guests/broadcaster`: `/broadcast <first_chat_id> <count> <text>` queues `<text>` to
/// `count` chats from `first_chat_id` on in one bulk broadcast and answers `queued <count>`;
/// `/report` answers `delivered D failed F queued Q` for the last broadcast; `/spam <n>` sends
/// `spam 1` .. `spam <n>` to the sender's chat. Its manifest declares `outbox_per_minute` when
/// its config sets one.
pub const BROADCASTER: &str = include!(concat!(env!("OUT_DIR"), "/broadcaster.path"));

/// `tests/guests/kv-probe`: checks the KV API from inside the guest and answers one text per
/// command. `/forge` reads, swaps and deletes through forged keys (`../clicker/users`, NUL,
/// non-UTF-8, host table names, the clicker's keys) and checks it sees only its own key `mine`
/// and that empty or oversized keys are `InvalidKey` errors, then leaves `forged` written under
/// each forged key: `forge ok` or `forge FAILED: <what>`. `/fill` writes `k0000`, `k0001`, ...
/// with 100-byte values until a write fails: `filled <n> then <error>`. `/check <n>` answers
/// `check ok <n>` when exactly those keys hold their values. `/batch_over` (`batch ok`) checks
/// that a batch past the quota writes nothing and a valid one applies whole; `/cas` (`cas ok`)
/// checks compare-and-swap and range paging; `/usage` answers
/// `usage <bytes> <keys> <max_bytes> <max_keys>`. Its manifest declares `kv_max_keys` /
/// `kv_max_bytes` when its config sets `max_keys` / `max_bytes`.
pub const KV_PROBE: &str = include!(concat!(env!("OUT_DIR"), "/kv_probe.path"));

/// `tests/guests/clicker-v2`: the example clicker as version `2.0.0` (same name, KV layout and
/// commands), answering `Clicks (v2): N` instead of `Clicks: N`.
pub const CLICKER_V2: &str = include!(concat!(env!("OUT_DIR"), "/clicker_v2.path"));

/// `tests/guests/clicker-v3`: the example clicker as version `3.0.0`, answering
/// `Clicks (v3): N`, whose manifest also asks for an HTTP host (`api.example.com`), timers and
/// edited messages: a swap to it awaits the operator's approval.
pub const CLICKER_V3: &str = include!(concat!(env!("OUT_DIR"), "/clicker_v3.path"));

/// `tests/guests/clicker-broken`: a version of `clicker` whose `init` panics; a swap to it must
/// be refused.
pub const CLICKER_BROKEN: &str = include!(concat!(env!("OUT_DIR"), "/clicker_broken.path"));

/// `tests/guests/timer-probe` (declares timers): `/remind <ms> <text>` schedules a timer and
/// answers `scheduled <id>`; when it fires the chat gets `fired: <text> (late: yes|no)` (late:
/// more than 2 s after it was due); `/cancel <id>` answers `cancelled true|false`; `/many <n>`
/// schedules n timers an hour away and answers `scheduled <k>[, then <error>]`; `/fail <ms>`
/// schedules a timer whose handling returns an error; refused calls answer `error: <error>`.
pub const TIMER_PROBE: &str = include!(concat!(env!("OUT_DIR"), "/timer_probe.path"));

/// `tests/guests/http-probe` (declares the outgoing host `127.0.0.1:*`; serves HTTP and gRPC):
/// `POST /note/<chat>` stores KV `note/<chat>`, sends `note: <text>` and answers 201 `noted`;
/// `GET /kv/<key>` answers the value (404 when absent); `GET /mount` answers `<x-botbox-mount>
/// <path>`; `GET /trap` panics; gRPC `/probe.Probe/Echo` (`Note {chat = 1, text = 2}`) stores
/// `grpc/<chat>`, sends `grpc: <text>` and echoes; `/probe.Probe/Fail` answers NOT_FOUND `no such
/// note`. Commands: `/get <url>` answers `<status> <body>`; `/grpc <url> <text>` calls Echo at
/// `<url>` and answers `grpc <text>`; failures answer `error: <error>`.
pub const HTTP_PROBE: &str = include!(concat!(env!("OUT_DIR"), "/http_probe.path"));

/// `tests/guests/hostile`: tries to break out of its sandbox and answers what it got. `/files`
/// (`files: denied`), `/env` (`env: <n> vars, <n> args`), `/net <port>` (`net: denied (...)`),
/// `/token` (`token: not found (...)`), `/escape <user id>...` (`escape: saw nothing of clicker
/// (...)`, reads and then overwrites keys named like the clicker's), `/bigvalue` (a 2 MiB value,
/// then fills its 16 KiB KV quota: `bigvalue: <error>; filled <n> then <error>; usage <b> of <max>
/// bytes`), `/flood` (up to 1000 `flood <i>` messages in one update; `/report` answers `flood: <n>
/// accepted, then <error>`), `/bigtext` (`bigtext: send <error>; broadcast <error>`), `/logflood`
/// (100,000 lines to stdout and stderr, then `logflood: wrote 100000 lines`); `/recurse`,
/// `/recurse_frames`, `/panic`, `/spin` and `/bomb` trap (host stack limit, Rust's in-memory stack,
/// panic, CPU deadline, memory); `/ping` answers `hostile alive`.
pub const HOSTILE: &str = include!(concat!(env!("OUT_DIR"), "/hostile.path"));

/// `example-modules/coroutine-dialogue` (config `timeout_secs`, default 300): `/sum` asks
/// `Send me the first number.`, then `Now send the second number.`, and answers `a + b = s`; a
/// non-number is answered `That is not a whole number. Please send a number like 42.`; after
/// `timeout_secs` of silence: `You did not answer for N seconds, so I stopped waiting. Send
/// /sum ...`. `/profile` asks a name, an age, a language (inline buttons `Rust`, `Python`,
/// `Go`, `Other`) and a city, then answers `Saved. Your profile:` + the profile and `You
/// answered in N s.`; `/myprofile` shows it; `/cancel` answers `Cancelled. ...`. A dialogue
/// whose code changed incompatibly is answered `The bot was updated and cannot go on with this
/// conversation. ...`.
pub const COROUTINE_DIALOGUE: &str = include!(concat!(env!("OUT_DIR"), "/coroutine_dialogue.path"));

/// `tests/guests/coroutine-dialogue-v2`: the example coroutine-dialogue as a compatible version
/// `2.0.0` (same dialogues and versions), answering sums as `a + b = s (v2)`; an answer `trap`
/// makes the step trap.
pub const COROUTINE_DIALOGUE_V2: &str =
    include!(concat!(env!("OUT_DIR"), "/coroutine_dialogue_v2.path"));

/// `tests/guests/coroutine-dialogue-v3`: the example coroutine-dialogue as version `3.0.0` whose
/// `/sum` dialogue has version 2, so sums started with the example diverge.
pub const COROUTINE_DIALOGUE_V3: &str =
    include!(concat!(env!("OUT_DIR"), "/coroutine_dialogue_v3.path"));

/// `tests/guests/contract-v0-1-0`: built against the frozen `botbox:bot@0.1.0` contract
/// (`wit/released/`), without the SDK; `/ping` answers `pong N (contract 0.1.0)`, N counted in KV
/// under `pings`.
pub const CONTRACT_V0_1_0: &str = include!(concat!(env!("OUT_DIR"), "/contract_v0_1_0.path"));

/// `tests/guests/contract-v0-1-1`: built against the frozen `botbox:bot@0.1.1` contract (world
/// `module`, `wit/released/`), without the SDK; module name `old-module-11`; `/ping11` answers
/// `pong N (contract 0.1.1)`, N counted in KV under `pings`.
pub const CONTRACT_V0_1_1: &str = include!(concat!(env!("OUT_DIR"), "/contract_v0_1_1.path"));

/// `tests/guests/contract-v0-1-2`: built against the frozen `botbox:bot@0.1.2` contract (world
/// `module`, `wit/released/`), without the SDK; module name `old-module-12`; `/ping12` answers
/// `pong N (contract 0.1.2)`, N counted in KV under `pings`.
pub const CONTRACT_V0_1_2: &str = include!(concat!(env!("OUT_DIR"), "/contract_v0_1_2.path"));

/// `tests/guests/api-probe` (wants messages; contract 0.1.2's `bot-api`): each command makes one
/// Bot API call and answers in plain text; a refusal is answered `error: <rule>: <error>`, the
/// rule as the WIT names it (`not-allowed`, `invalid-parameter`, `not-own-message`,
/// `unknown-method`, `quota-exceeded`, `unknown-ticket`, `telegram`, `unavailable`) and the error
/// as the SDK words it (`not allowed: <host's text>`, ...). `/photo`: sendPhoto of an 8x8 PNG
/// (file part `p`, caption `probe photo`) → `queued <ticket>`; `/bigphoto`: sendDocument with a
/// 60,000,000-byte file part (zeros) → a refusal; `/album`: sendMediaGroup of 3 PNGs
/// (`attach://a`, `b`, `c`) → `queued <ticket>`; `/member`: getChatMember(chat, sender) →
/// `member status: <status>`; `/webhook`: setWebhook `https://evil.example/` → refusal;
/// `/status <ticket>` → `status: queued`, `status: done <result json>` or `status: failed
/// <why>`; `/edit <ticket> <text>`: editMessageCaption acting on the ticket → `queued <ticket>`;
/// `/editid <message_id> <text>`: editMessageCaption of that message id in the chat; `/dice`:
/// sendDice 🎲 → `queued <ticket>`; `/typing`: sendChatAction typing → `sent`; a document with
/// the caption `/download` → `downloaded <len> bytes`; `/unknown`: sendTeleportation → refusal;
/// `/badparam`: sendMessage with `txt` for `text` → refusal; `/bcast <n>`: one broadcast of a
/// sendPhoto (an 8x8 PNG) to chats 1001..=1000+n → `broadcast <n> tickets`.
pub const API_PROBE: &str = include!(concat!(env!("OUT_DIR"), "/api_probe.path"));

/// `example-modules/qr` (wants messages; `bot-api`): `/qr <text>`, and plain text in a private
/// chat, are answered with a photo of the text's QR code (sendPhoto with the file part `qr`,
/// caption `QR code: <text>`); a photo of a QR code (private chat, or captioned `/qr`) is
/// downloaded and answered `QR code says: <text>`, a photo without one `I found no QR code in
/// this picture.` (see the module's README for the other answers).
pub const QR: &str = include!(concat!(env!("OUT_DIR"), "/qr.path"));

/// `example-modules/shop`: `/shop` lists a catalogue with Buy buttons (`Buy Sticker pack for 25
/// ⭐`, ...); a press sends a Stars invoice (payload: the item id), approved at checkout; a
/// payment is answered `Thank you! <item> is yours for <n> ⭐. Receipt: <charge id>`;
/// operators' `/sales` answers `Sold: <n> for <stars> ⭐. Refunded: ...` (see its README).
pub const SHOP: &str = include!(concat!(env!("OUT_DIR"), "/shop.path"));

/// `example-modules/guard` (wants `chat_join_request`; timers; needs the `members` grant): a
/// join request is answered in the requester's chat (`You asked to join <title>. Press the
/// button within 5 minutes...`, button `I'm a person, let me in`); a press approves
/// (`Welcome to <title>!`), 5 minutes without one decline (`Time is up: ...`); `/mute 10m` and
/// `/ban` by admins in reply to a message (`Muted <name> for 10m.`, `Banned <name>.`, or
/// `I could not ban <name>: <why>`).
pub const GUARD: &str = include!(concat!(env!("OUT_DIR"), "/guard.path"));

/// `example-modules/download-queue`: a queue of links handed to downloader services over gRPC
/// (see the module's `//!` header and README for its commands, settings and answers).
pub const DOWNLOAD_QUEUE: &str = include!(concat!(env!("OUT_DIR"), "/download_queue.path"));

/// `example-modules/reminder`: `/remind <n><s|m|h|d> <text>` answers `OK, in <n><unit>: <text>`
/// and, when it is due, sends `Reminder: <text>`.
pub const REMINDER: &str = include!(concat!(env!("OUT_DIR"), "/reminder.path"));

#[cfg(test)]
mod tests {
    #[test]
    fn every_component_exists_and_is_a_component() {
        for path in [
            super::CLICKER,
            super::CONTRACT_V0_1_0,
            super::CONTRACT_V0_1_1,
            super::CONTRACT_V0_1_2,
            super::API_PROBE,
            super::QR,
            super::BAD_TRAP,
            super::BAD_LOOP,
            super::BAD_ALLOC,
            super::ECHO,
            super::BROADCASTER,
            super::KV_PROBE,
            super::CLICKER_V2,
            super::CLICKER_V3,
            super::CLICKER_BROKEN,
            super::TIMER_PROBE,
            super::HOSTILE,
            super::COROUTINE_DIALOGUE,
            super::COROUTINE_DIALOGUE_V2,
            super::COROUTINE_DIALOGUE_V3,
            super::DOWNLOAD_QUEUE,
            super::REMINDER,
        ] {
            let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{path}: {error}"));
            // The preamble of a component: magic, then version 0x0d and layer 1 (a core module
            // has layer 0).
            assert_eq!(
                bytes[..8],
                *b"\0asm\x0d\0\x01\0",
                "{path} is not a component"
            );
        }
    }
}
