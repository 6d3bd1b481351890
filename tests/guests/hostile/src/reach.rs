//! Attempts to reach outside the sandbox through WASI: files, the environment, the network, and
//! the bot token wherever it might be.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};

use botbox_sdk::{Update, config};

/// Files a module would read to learn about the machine or the bot.
const FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/hostname",
    "/proc/self/environ",
    "/proc/self/cmdline",
    "botbox.toml",
    "/botbox.toml",
    "../botbox.toml",
    "data/admin.token",
    "../data/admin.token",
];

/// `/files`: reads, lists, creates and deletes files.
pub fn files() -> String {
    let mut got = Vec::new();
    for path in FILES {
        if let Ok(bytes) = std::fs::read(path) {
            got.push(format!("read {path} ({} bytes)", bytes.len()));
        }
    }
    for dir in ["/", ".", "..", "/tmp"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            got.push(format!("listed {dir} ({} entries)", entries.count()));
        }
    }
    for path in ["/tmp/hostile", "hostile.txt", "/hostile.txt"] {
        if let Ok(mut file) = std::fs::File::create(path) {
            let written = file.write_all(b"hostile").is_ok();
            got.push(format!("created {path} (written: {written})"));
        }
    }
    if std::fs::remove_file("/etc/passwd").is_ok() {
        got.push("deleted /etc/passwd".to_owned());
    }
    if got.is_empty() {
        "files: denied".to_owned()
    } else {
        format!("files: GOT {}", got.join(", "))
    }
}

/// `/env`: what the process environment holds.
pub fn env() -> String {
    format!(
        "env: {} vars, {} args",
        std::env::vars_os().count(),
        std::env::args_os().count()
    )
}

/// `/net <port>`: TCP to 127.0.0.1, UDP to it, and a name lookup.
pub fn net(port: u16) -> String {
    let mut got = Vec::new();
    let tcp = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(mut stream) => {
            let _ = stream.write_all(b"hostile");
            got.push("tcp connected".to_owned());
            String::new()
        }
        Err(error) => error.to_string(),
    };
    if let Ok(socket) = UdpSocket::bind("0.0.0.0:0") {
        match socket.send_to(b"hostile", ("127.0.0.1", port)) {
            Ok(_) => got.push("udp sent".to_owned()),
            Err(_) => got.push("udp bound".to_owned()),
        }
    }
    if let Ok(addrs) = ("localhost", port).to_socket_addrs() {
        got.push(format!("resolved localhost ({} addresses)", addrs.count()));
    }
    if got.is_empty() {
        format!("net: denied (tcp: {tcp})")
    } else {
        format!("net: GOT {}", got.join(", "))
    }
}

/// `/token`: searches every text the module can reach for something shaped like a bot token.
pub fn token(update: &Update) -> String {
    let mut places: Vec<(String, String)> = Vec::new();
    for (key, value) in std::env::vars_os() {
        places.push((
            format!("env {}", key.to_string_lossy()),
            value.to_string_lossy().into_owned(),
        ));
    }
    for (i, arg) in std::env::args_os().enumerate() {
        places.push((format!("arg {i}"), arg.to_string_lossy().into_owned()));
    }
    for path in FILES {
        if let Ok(bytes) = std::fs::read(path) {
            places.push((
                format!("file {path}"),
                String::from_utf8_lossy(&bytes).into(),
            ));
        }
    }
    for key in config::keys() {
        // Tables and arrays are refused by the host: the key name is still searched.
        let value = config::get(&key).ok().flatten().unwrap_or_default();
        places.push((format!("config {key}"), format!("{key}={value}")));
    }
    places.push(("the update".to_owned(), update.raw_json().to_owned()));
    let found: Vec<&str> = places
        .iter()
        .filter(|(_, text)| looks_like_a_token(text))
        .map(|(place, _)| place.as_str())
        .collect();
    if found.is_empty() {
        format!("token: not found ({} places searched)", places.len())
    } else {
        format!("token: FOUND in {}", found.join(", "))
    }
}

/// Whether `text` holds `<digits>:<at least 8 of A-Z a-z 0-9 _ ->`, the shape of a bot token.
fn looks_like_a_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(colon, &b)| {
        if b != b':' || colon == 0 || !bytes[colon - 1].is_ascii_digit() {
            return false;
        }
        let secret = bytes[colon + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-')
            .count();
        secret >= 8
    })
}
