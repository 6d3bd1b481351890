//! Downloading one link into `<dir>/<quality>/<file name>`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;

use crate::guard::Allowed;

/// A finished download: where the file is, relative to the downloads folder, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// `<quality>/<file name>`.
    pub path: String,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// Downloads `link` with `client` (see [`crate::guard::client`]) into `dir/<quality>/`, at
/// most `max_bytes`, within `total` (redirects, waiting and the body together). A link whose
/// host is inside this network is refused unless `allowed`. The file is written as
/// `.<name>.part` and renamed when complete, so a file under its own name is always whole; an
/// existing file of the same name is kept and the new one gets a numbered name.
///
/// Errors are messages for the user who queued the link (the module records them).
pub async fn download(
    client: &reqwest::Client,
    allowed: &Allowed,
    link: &str,
    dir: &Path,
    quality: &str,
    max_bytes: u64,
    total: Duration,
) -> Result<Downloaded, String> {
    let quality = folder_name(quality)?;
    let url: reqwest::Url = link
        .parse()
        .map_err(|e| format!("{link:?} is not a link: {e}"))?;
    allowed
        .check_url(&url)
        .map_err(|why| format!("refused: {why}"))?;
    let deadline = tokio::time::Instant::now() + total;
    let too_long = || {
        format!(
            "gave up after {} seconds, the time allowed for one download",
            total.as_secs()
        )
    };
    let response = tokio::time::timeout_at(deadline, client.get(url).send())
        .await
        .map_err(|_| too_long())?
        .map_err(|e| format!("cannot fetch: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    if response.content_length().is_some_and(|len| len > max_bytes) {
        return Err(format!("the file is larger than {max_bytes} bytes"));
    }
    let folder = dir.join(quality);
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let name = file_name(response.url());
    let part = folder.join(format!(".{name}.part"));
    let mut file = tokio::fs::File::create(&part)
        .await
        .map_err(|e| format!("cannot create {}: {e}", part.display()))?;
    let mut bytes = 0u64;
    let mut body = response.bytes_stream();
    loop {
        let written = async {
            let Some(chunk) = tokio::time::timeout_at(deadline, body.next())
                .await
                .map_err(|_| too_long())?
            else {
                return Ok(false);
            };
            let chunk = chunk.map_err(|e| format!("download broke off: {}", error_chain(&e)))?;
            bytes += chunk.len() as u64;
            if bytes > max_bytes {
                return Err(format!("the file is larger than {max_bytes} bytes"));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
            Ok(true)
        }
        .await;
        match written {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                drop(file);
                let _ = tokio::fs::remove_file(&part).await;
                return Err(error);
            }
        }
    }
    file.sync_all()
        .await
        .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    drop(file);
    let target = free_name(&folder, &name).await;
    tokio::fs::rename(&part, &target)
        .await
        .map_err(|e| format!("cannot rename {}: {e}", part.display()))?;
    let file = target.file_name().unwrap_or_default().to_string_lossy();
    Ok(Downloaded {
        path: format!("{quality}/{file}"),
        bytes,
    })
}

/// The quality as a folder name: 1-32 of `A-Za-z0-9._-`, not starting with a dot.
pub fn folder_name(quality: &str) -> Result<&str, String> {
    let valid = (1..=32).contains(&quality.len())
        && !quality.starts_with('.')
        && quality
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if valid {
        Ok(quality)
    } else {
        Err(format!("quality {quality:?} is not a valid folder name"))
    }
}

/// The file name for a URL: its last path segment with anything but `A-Za-z0-9._-` replaced,
/// at most 100 characters; `download` when that leaves nothing.
pub fn file_name(url: &reqwest::Url) -> String {
    let segment = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or("");
    let segment = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    let cleaned: String = segment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "download".into()
    } else {
        cleaned.into()
    }
}

/// `folder/name`, or `folder/stem-2.ext`, `-3`, ... when the name is taken.
async fn free_name(folder: &Path, name: &str) -> PathBuf {
    let first = folder.join(name);
    if !tokio::fs::try_exists(&first).await.unwrap_or(false) {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 2.. {
        let candidate = folder.join(format!("{stem}-{n}{ext}"));
        if !tokio::fs::try_exists(&candidate).await.unwrap_or(false) {
            return candidate;
        }
    }
    unreachable!("some numbered name is free")
}

/// An error with its causes, `a: b: c`, as reqwest's own message omits them.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_last_path_segment_and_stay_in_the_folder() {
        let name = |url: &str| file_name(&url.parse().unwrap());
        assert_eq!(name("http://h/a/clip.mp4?x=1"), "clip.mp4");
        assert_eq!(
            name("http://h/a/my%20clip%2F..%2Fx.mp4"),
            "my_clip_.._x.mp4"
        );
        assert_eq!(name("http://h/..."), "download");
        assert_eq!(name("http://h/"), "download");
        assert!(folder_name("../etc").is_err());
        assert!(folder_name("").is_err());
        assert_eq!(folder_name("720p"), Ok("720p"));
    }
}
