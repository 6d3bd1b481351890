//! What a fake server is started with: identity, rate limits, file size
//! limits and webhook retry timing.

use std::time::Duration;

/// How a [`FakeBotApi`](crate::FakeBotApi) is set up.
///
/// `FakeConfig::default()` gives a bot `@botbox_test_bot` with token `123456:TEST-TOKEN` and
/// limits close to Telegram's.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// The bot token requests must carry; the bot's user id is the number before the colon.
    pub token: String,
    /// The bot's username, without `@`.
    pub bot_username: String,
    /// The bot's first name, as `getMe` and the `from` of its messages show it.
    pub bot_first_name: String,
    /// The outbound rate limits the fake enforces with 429 answers.
    pub limits: Limits,
    /// How webhook deliveries are retried after a failure.
    pub webhook_retry: WebhookRetry,
    /// The `update_id` of the first update (Telegram's ids continue across restarts of a
    /// bot; a runtime with a database from an earlier run needs ids above those it saw).
    pub first_update_id: i64,
    /// The largest file the bot may upload and download.
    pub file_limits: FileLimits,
    /// How long the bot has to answer a pre-checkout query (Telegram: 10 s); a query not
    /// answered by then fails the payment.
    pub pre_checkout_timeout: std::time::Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            token: "123456:TEST-TOKEN".to_owned(),
            bot_username: "botbox_test_bot".to_owned(),
            bot_first_name: "Botbox Test Bot".to_owned(),
            limits: Limits::default(),
            webhook_retry: WebhookRetry::default(),
            first_update_id: 1,
            file_limits: FileLimits::default(),
            pre_checkout_timeout: std::time::Duration::from_secs(10),
        }
    }
}

impl FakeConfig {
    /// The bot's user id: the digits before the colon of the token (0 if there are none).
    pub fn bot_id(&self) -> i64 {
        self.token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0)
    }
}

/// Telegram's file size limits for bots, in bytes.
///
/// A file uploaded with `multipart/form-data` (sendPhoto, sendDocument and the other sends of
/// a file, sendMediaGroup, editMessageMedia) larger than `upload_max` is refused with
/// `413 Request Entity Too Large` (teloxide: `ApiError::RequestEntityTooLarge`), and nothing
/// is sent (photos have Telegram's own, fixed 10 MB limit); `getFile` of a file larger than
/// `download_max` answers `400 Bad Request: file is too big`, and the file cannot be
/// downloaded. Tests set them small to try the limits without big files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimits {
    /// The largest upload (Telegram: 50 MB).
    pub upload_max: usize,
    /// The largest file getFile hands out (Telegram: 20 MB).
    pub download_max: usize,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            upload_max: 50 * 1024 * 1024,
            download_max: 20 * 1024 * 1024,
        }
    }
}

/// Telegram's outbound limits, as the fake enforces them.
///
/// Every send (`sendMessage`, `sendPhoto`, `sendDocument` and the other files, `sendDice`,
/// `sendPoll`, `sendLocation`, `copyMessage`, `forwardMessage`; a `sendMediaGroup` counts
/// once) and edit (`editMessageText`, `editMessageReplyMarkup`, `editMessageCaption`,
/// `editMessageMedia`) that would be accepted is first checked against three sliding windows: the chat's (`chat_burst`
/// calls in any `chat_window`), the group's (chats with a negative id: `group_per_minute` in any
/// minute) and the bot's global one (`global_per_second` in any second, groups included). Edits
/// count like sends. If any window is full the call is answered with 429 and `retry_after` =
/// the whole seconds (at least 1) until the oldest call in the fullest window leaves it, and
/// nothing is delivered. Calls that are refused do not count against the windows, but every
/// 429 counts in [`Counters::too_many_requests`](crate::Counters::too_many_requests).
/// `answerCallbackQuery`, `deleteMessage`, `setMessageReaction` and `stopPoll` are never
/// limited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Messages per chat in any `chat_window` (Telegram: about 1 per second with short bursts).
    pub chat_burst: u32,
    /// The window `chat_burst` applies to.
    pub chat_window: Duration,
    /// Messages per group or supergroup in any minute (Telegram: 20).
    pub group_per_minute: u32,
    /// Messages over all chats in any second (Telegram: about 30).
    pub global_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            chat_burst: 3,
            chat_window: Duration::from_secs(1),
            group_per_minute: 20,
            global_per_second: 30,
        }
    }
}

impl Limits {
    /// Limits so high they are never reached, for `botbox dev` and tests that are not about limits.
    pub fn unlimited() -> Self {
        Self {
            chat_burst: u32::MAX,
            chat_window: Duration::from_secs(1),
            group_per_minute: u32::MAX,
            global_per_second: u32::MAX,
        }
    }
}

/// Backoff between webhook delivery attempts after the receiver failed.
///
/// The delay starts at `initial`, doubles after each failed attempt up to `max`, and returns to
/// `initial` after a success.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookRetry {
    /// The delay after the first failure.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// How long one delivery may take before it counts as failed.
    pub request_timeout: Duration,
}

impl Default for WebhookRetry {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// An error a test forces the next calls of a method to answer with
/// (see [`FakeBotApi::fail_next`](crate::FakeBotApi::fail_next)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    RetryAfter(u32),
    /// A Telegram-shaped error: `{"ok":false,"error_code":code,"description":description}`.
    Api {
        /// The HTTP status and `error_code`.
        code: u16,
        /// The `description`.
        description: String,
    },
    /// Any status with a body sent as given, e.g. the HTML page a proxy answers 502 with.
    Raw {
        /// The HTTP status.
        status: u16,
        /// The body, sent verbatim.
        body: String,
    },
    /// A slow network before Telegram: the request is held this long, then runs and is
    /// answered normally. A client that gives up first (its timeout is shorter) closes the
    /// connection, and the call never runs: nothing is delivered.
    Delay(Duration),
    /// A slow network after Telegram: the call runs at once (a message is delivered), and
    /// only its answer is held this long. A client that gives up first never learns that
    /// the call succeeded, the ambiguous case a retry turns into a duplicate.
    DelayAnswer(Duration),
}

impl Failure {
    /// A Telegram-shaped 5xx (or any) error with the usual reason phrase as description,
    /// e.g. `Failure::status(500)` → `Internal Server Error`, `Failure::status(502)` → `Bad Gateway`.
    pub fn status(code: u16) -> Self {
        let description = axum::http::StatusCode::from_u16(code)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("Error")
            .to_owned();
        Self::Api { code, description }
    }
}
