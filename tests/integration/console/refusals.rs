//! What the console refuses, asked for without a browser: changes without the session cookie,
//! without or with a wrong CSRF token, and logins past the limit of wrong tokens.

use super::{TOKEN, running};
use botbox_test_artifacts::CLICKER;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Logs in with the token; returns the session cookie (`name=value`) and its CSRF token.
async fn log_in(base: &str) -> (String, String) {
    let res = client()
        .post(format!("{base}/console/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let page = client()
        .get(format!("{base}/console"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the page carries its CSRF token")
        .to_string();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_without_the_session_cookie_or_its_csrf_token_are_refused_and_change_nothing() {
    let bot = running(&[CLICKER]).await;
    let base = &bot.base;
    let disable = format!("{base}/console/modules/clicker/disable");
    let state = || async {
        bot.rt
            .registry()
            .info("clicker")
            .unwrap()
            .state
            .as_str()
            .to_string()
    };

    let anonymous = client()
        .post(&disable)
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "no cookie");
    let page = client()
        .get(format!("{base}/console/modules"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        303,
        "a page without a session goes to the login"
    );

    let (cookie, csrf) = log_in(base).await;
    let no_token = client()
        .post(&disable)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403, "no CSRF token");
    let wrong_field = client()
        .post(&disable)
        .header("cookie", &cookie)
        .form(&[("csrf", "0".repeat(csrf.len()))])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_field.status(), 403, "a wrong CSRF token in the form");
    let wrong_header = client()
        .post(&disable)
        .header("cookie", &cookie)
        .header("x-csrf-token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong_header.status(),
        403,
        "a wrong CSRF token in the header"
    );
    let upload = client()
        .post(format!("{base}/console/modules"))
        .header("cookie", &cookie)
        .body(std::fs::read(CLICKER).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 403, "an upload without the token");
    assert_eq!(state().await, "running", "nothing changed");

    // The same request with the session's token goes through: the check is what refused.
    let right = client()
        .post(&disable)
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 303);
    assert_eq!(state().await, "disabled");

    // Headers that keep the console out of frames and scripts from elsewhere.
    let page = client()
        .get(format!("{base}/console"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );

    bot.rt.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_link_logs_in_once_and_wrong_tokens_are_limited() {
    let bot = running(&[CLICKER]).await;
    let base = &bot.base;
    let link: serde_json::Value = client()
        .post(format!("{base}/v1/console/link"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = link["path"]
        .as_str()
        .unwrap()
        .split("code=")
        .nth(1)
        .unwrap()
        .to_string();
    let first = client()
        .post(format!("{base}/console/login"))
        .form(&[("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 303, "the link logs in");
    let again = client()
        .post(format!("{base}/console/login"))
        .form(&[("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 401, "but only once");

    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = client()
            .post(format!("{base}/console/login"))
            .form(&[("token", "guess")])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "guessing is slowed down: {statuses:?}"
    );
    let right = client()
        .post(format!("{base}/console/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        right.status(),
        429,
        "even the right token waits out the minute"
    );
    bot.rt.stop().await;
}
