//! Any Bot API method over HTTP: the parameters as JSON, or as multipart form fields when files
//! go with them; Telegram's answer read into a result or a [`Failure`] that says what to do next.
//!
//! teloxide-core stays the host's typed client for the methods the host itself calls (getMe,
//! getUpdates, sendMessage, ...); modules' calls go through here, method by name, so a method
//! teloxide-core does not know yet still works.

use std::time::Duration;

use serde_json::{Map, Value};

use super::deadline::within_running_time;

/// A file sent with a call: a form part named `name`, which a parameter names as
/// `attach://name`.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The part's name.
    pub name: String,
    /// The file name Telegram sees.
    pub file_name: String,
    /// The bytes.
    pub bytes: bytes::Bytes,
}

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Flood control: try again after this many seconds.
    #[error("Too Many Requests: retry after {0} s")]
    RetryAfter(u64),
    /// The group became a supergroup with this id.
    #[error("the group moved to the supergroup {0}")]
    Migrated(i64),
    /// Telegram refused the call (`error_code` and `description`).
    #[error("{description} ({code})")]
    Api {
        /// Telegram's error code (400, 403, 413, 500, ...).
        code: u16,
        /// Telegram's description.
        description: String,
    },
    /// No answer: the connection failed, timed out, or the answer was not the Bot API's.
    #[error("{0}")]
    Network(String),
}

impl Failure {
    /// Whether trying again later may succeed (network trouble, Telegram's 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Network(_) => true,
            Failure::Api { code, .. } => *code >= 500,
            Failure::RetryAfter(_) | Failure::Migrated(_) => false,
        }
    }

    /// Whether the user blocked the bot, deleted their account, or the bot left the chat.
    pub fn is_blocked(&self) -> bool {
        match self {
            Failure::Api {
                code: 403,
                description,
            } => {
                let d = description.to_ascii_lowercase();
                ["blocked", "deactivated", "kicked", "not a member"]
                    .iter()
                    .any(|w| d.contains(w))
            }
            _ => false,
        }
    }
}

/// Calls the Bot API at one address with one token.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    api: reqwest::Url,
    token: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Transport")
            .field("api", &self.api.as_str())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport to `bot`'s address with its token, on a client of its own whose requests
    /// are bounded by [`within_running_time`] rather than by reqwest (`deadline.rs`).
    pub fn of(bot: &teloxide_core::Bot) -> Transport {
        Transport {
            client: super::deadline::client(),
            api: bot.api_url(),
            token: bot.token().to_string(),
        }
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, Failure> {
        self.api
            .join(path)
            .map_err(|e| Failure::Network(format!("bad Bot API address: {e}")))
    }

    /// Calls `method` with `params` and `files`, waiting at most `timeout` of the process's
    /// running time (an answer that came while it was frozen is still taken).
    pub async fn call(
        &self,
        method: &str,
        params: &Map<String, Value>,
        files: &[FilePart],
        timeout: Duration,
    ) -> Result<Value, Failure> {
        // `./`: a token holds a `:`, which would read as a URL scheme.
        let url = self.url(&format!("./bot{}/{method}", self.token))?;
        let request = self.client.post(url);
        let request = if files.is_empty() {
            request.json(params)
        } else {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in params {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                form = form.text(name.clone(), text);
            }
            for f in files {
                let part = reqwest::multipart::Part::stream(f.bytes.clone())
                    .file_name(f.file_name.clone());
                form = form.part(f.name.clone(), part);
            }
            request.multipart(form)
        };
        let exchange = async {
            let response = request.send().await.map_err(network)?;
            let status = response.status();
            let body = response.bytes().await.map_err(network)?;
            answer(status.as_u16(), &body)
        };
        within_running_time(timeout, exchange)
            .await
            .unwrap_or_else(|| Err(Failure::Network(format!("no answer in {timeout:?}"))))
    }

    /// Downloads the file at `file_path` (from getFile), refusing more than `max` bytes.
    pub async fn download(
        &self,
        file_path: &str,
        max: u64,
        timeout: Duration,
    ) -> Result<Vec<u8>, Failure> {
        let url = self.url(&format!("./file/bot{}/{file_path}", self.token))?;
        let mut response = self
            .client
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(network)?;
        if !response.status().is_success() {
            return Err(Failure::Api {
                code: response.status().as_u16(),
                description: "the file could not be downloaded".into(),
            });
        }
        let too_large = || Failure::Api {
            code: 413,
            description: format!("the file is larger than {max} bytes"),
        };
        if response.content_length().is_some_and(|n| n > max) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            // Server-controlled size: bounded as it arrives.
            if (bytes.len() + chunk.len()) as u64 > max {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// A reqwest error without its URL: the URL holds the bot token.
fn network(e: reqwest::Error) -> Failure {
    let timeout = e.is_timeout();
    let e = e.without_url();
    if timeout {
        Failure::Network(format!("no answer in time: {e}"))
    } else {
        Failure::Network(e.to_string())
    }
}

/// Reads Telegram's answer `{"ok":…,"result":…}` or `{"ok":false,"error_code":…}`.
fn answer(status: u16, body: &[u8]) -> Result<Value, Failure> {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(body) else {
        return Err(if status >= 400 {
            Failure::Api {
                code: status,
                description: format!("HTTP {status} without a Bot API answer"),
            }
        } else {
            Failure::Network(format!("HTTP {status}: not a Bot API answer"))
        });
    };
    if answer.get("ok") == Some(&Value::Bool(true)) {
        return Ok(answer.remove("result").unwrap_or(Value::Bool(true)));
    }
    let parameters = answer.get("parameters");
    if let Some(secs) = parameters
        .and_then(|p| p.get("retry_after"))
        .and_then(Value::as_u64)
    {
        return Err(Failure::RetryAfter(secs));
    }
    if let Some(chat) = parameters
        .and_then(|p| p.get("migrate_to_chat_id"))
        .and_then(Value::as_i64)
    {
        return Err(Failure::Migrated(chat));
    }
    let code = answer
        .get("error_code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(status);
    let description = answer
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("no description")
        .to_string();
    Err(Failure::Api { code, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_into_results_and_failures_that_say_what_to_do() {
        assert_eq!(
            answer(200, br#"{"ok":true,"result":{"message_id":7}}"#),
            Ok(serde_json::json!({"message_id": 7}))
        );
        assert_eq!(
            answer(429, br#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}"#),
            Err(Failure::RetryAfter(5))
        );
        assert_eq!(
            answer(400, br#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-100123}}"#),
            Err(Failure::Migrated(-100123))
        );
        let blocked = answer(
            403,
            br#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#,
        )
        .unwrap_err();
        assert!(blocked.is_blocked() && !blocked.is_transient());
        let refused = answer(
            400,
            br#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        )
        .unwrap_err();
        assert_eq!(refused.to_string(), "Bad Request: chat not found (400)");
        assert!(!refused.is_transient() && !refused.is_blocked());
        assert!(
            answer(502, b"<html>Bad Gateway</html>")
                .unwrap_err()
                .is_transient()
        );
        assert!(answer(200, b"garbage").unwrap_err().is_transient());
    }
}
