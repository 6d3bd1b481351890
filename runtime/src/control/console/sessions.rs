//! Who is logged in to the console: sessions behind an HttpOnly, SameSite=Strict cookie, each
//! with its own CSRF token, and one-time login codes (`botbox console`).
//!
//! A session ends at logout, after [`IDLE`] without a request, [`MAX_AGE`] after login, when the
//! admin token is rotated, and when the bot stops (sessions live in memory only). A login code
//! is good once, for [`CODE_TTL`]. After [`MAX_FAILURES`] wrong tokens in a minute, logins are
//! refused for the rest of that minute, so the token cannot be guessed at the speed of a loop.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after its login, used or not.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// A login code works this long.
pub const CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// Wrong tokens allowed per minute.
pub const MAX_FAILURES: u32 = 10;
/// The session cookie's name.
pub const COOKIE: &str = "botbox_console";

/// A logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// What every change it asks for must carry.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// Every session and login code.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    codes: Mutex<HashMap<String, Instant>>,
    failures: Mutex<(Option<Instant>, u32)>,
}

impl Sessions {
    /// Starts a session; returns its id (the cookie's value).
    pub fn start(&self) -> String {
        let now = Instant::now();
        let id = random_hex(32);
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, s| alive(s, now));
        sessions.insert(
            id.clone(),
            Session {
                csrf: random_hex(32),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The session of `id`, if it is alive (its idle time restarts).
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        let session = sessions.get_mut(id)?;
        if !alive(session, now) {
            sessions.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of `id`.
    pub fn end(&self, id: &str) {
        self.sessions.lock().remove(id);
    }

    /// Ends every session (the admin token changed).
    pub fn end_all(&self) {
        self.sessions.lock().clear();
        self.codes.lock().clear();
    }

    /// A new one-time login code.
    pub fn new_code(&self) -> String {
        let now = Instant::now();
        let code = random_hex(24);
        let mut codes = self.codes.lock();
        codes.retain(|_, made| now.duration_since(*made) < CODE_TTL);
        codes.insert(code.clone(), now);
        code
    }

    /// Takes a login code: true once, if it is known and fresh.
    pub fn take_code(&self, code: &str) -> bool {
        match self.codes.lock().remove(code) {
            Some(made) => made.elapsed() < CODE_TTL,
            None => false,
        }
    }

    /// Whether a login may be tried now.
    pub fn may_try(&self) -> bool {
        let f = self.failures.lock();
        match f.0 {
            Some(since) if since.elapsed() < Duration::from_secs(60) => f.1 < MAX_FAILURES,
            _ => true,
        }
    }

    /// Counts a wrong token.
    pub fn failed(&self) {
        let mut f = self.failures.lock();
        match f.0 {
            Some(since) if since.elapsed() < Duration::from_secs(60) => f.1 += 1,
            _ => *f = (Some(Instant::now()), 1),
        }
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_seen) < IDLE && now.duration_since(s.created) < MAX_AGE
}

/// `bytes` random bytes in hex.
fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The session cookie's value in a `Cookie` header.
pub fn cookie_value(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_until_it_ends_and_each_has_its_own_csrf_token() {
        let s = Sessions::default();
        let a = s.start();
        let b = s.start();
        assert_ne!(a, b);
        assert_ne!(s.get(&a).unwrap().csrf, s.get(&b).unwrap().csrf);
        s.end(&a);
        assert!(s.get(&a).is_none());
        assert!(s.get(&b).is_some());
        s.end_all();
        assert!(s.get(&b).is_none());
    }

    #[test]
    fn a_login_code_works_once() {
        let s = Sessions::default();
        let code = s.new_code();
        assert!(!s.take_code("not-a-code"));
        assert!(s.take_code(&code));
        assert!(!s.take_code(&code));
    }

    #[test]
    fn logins_stop_after_too_many_wrong_tokens() {
        let s = Sessions::default();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try());
            s.failed();
        }
        assert!(!s.may_try());
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        assert_eq!(cookie_value("a=1; botbox_console=xyz; b=2"), Some("xyz"));
        assert_eq!(cookie_value("botbox_consolex=1"), None);
        assert!(
            same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("ab", "abc")
        );
    }
}
