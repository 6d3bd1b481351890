//! A real browser for the console tests: Debian's chromium, headless, driven through
//! chromedriver (WebDriver) with `fantoccini`. Screenshots and page figures go to
//! `<target>/tmp/console-screenshots/`, for a reviewer to look at.

use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};

/// Where screenshots and page figures are written.
pub fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots directory");
    dir
}

/// chromedriver and the browser session it drives; both end when this is dropped or closed.
pub struct Browser {
    pub client: Client,
    /// The console's base URL, `http://127.0.0.1:<port>`.
    pub base: String,
    driver: tokio::process::Child,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless chromium session.
    pub async fn start(base: &str) -> Browser {
        let driver_bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver is not installed: `apt-get install chromium chromium-driver` \
                     (scripts/test.sh installs them when it runs as root with apt)"
                )
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{url}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            }),
        );
        // Both rustls providers are linked into the test binary: say which one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = ClientBuilder::rustls()
            .expect("TLS for the WebDriver client")
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a chromium session (is chromium installed?)");
        Browser {
            client,
            base: base.to_string(),
            driver,
        }
    }

    /// Opens `path` of the console.
    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("navigate");
    }

    /// The element `css` (waits for it up to 30 s).
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no {css} on {:?}: {e}", self.path().await),
        }
    }

    /// Every element `css`, now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.expect("find")
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Waits until the text of `css` contains `wanted`.
    pub async fn wait_for_text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = el.text().await
                && t.contains(wanted)
            {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never said {wanted:?} on {:?}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current path (and query).
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Logs in with the admin token through the login form.
    pub async fn log_in(&self, token: &str) {
        self.open("/console/login").await;
        self.find("#token").await.send_keys(token).await.unwrap();
        self.find("#login").await.click().await.unwrap();
        self.find("main h1").await;
        assert_eq!(
            self.path().await,
            "/console",
            "logged in lands on the overview"
        );
    }

    /// Clicks the submit button inside the form posting to `action`, accepting its
    /// confirmation if it asks one.
    pub async fn press(&self, action: &str) {
        let css = format!("form[action=\"{action}\"] button");
        self.find(&css).await.click().await.unwrap();
        // A confirmation, if the form asks one: accepted.
        let _ = self.client.accept_alert().await;
    }

    /// Writes a screenshot of the page as `<name>.png`, and the page's weight and time to
    /// first render as a line of `pages.jsonl`; returns the figures.
    pub async fn shoot(&self, name: &str) -> serde_json::Value {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = shots_dir();
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
        let figures = self
            .client
            .execute(
                r#"const n = performance.getEntriesByType("navigation")[0];
                   const r = performance.getEntriesByType("resource");
                   const fcp = performance.getEntriesByName("first-contentful-paint")[0];
                   return {
                     html_bytes: n.decodedBodySize,
                     total_bytes: n.decodedBodySize + r.reduce((a, x) => a + x.decodedBodySize, 0),
                     requests: 1 + r.length,
                     first_paint_ms: fcp ? Math.round(fcp.startTime) : null,
                     dom_ready_ms: Math.round(n.domContentLoadedEventEnd),
                   };"#,
                vec![],
            )
            .await
            .expect("page figures");
        let line = serde_json::json!({ "page": name, "figures": figures });
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("pages.jsonl"))
            .unwrap();
        writeln!(f, "{line}").unwrap();
        println!("{line}");
        figures
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }
}
