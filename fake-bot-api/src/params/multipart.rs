//! A small `multipart/form-data` parser (RFC 7578), enough for what HTTP clients send.

use bytes::Bytes;

/// One part of the body.
pub(super) struct Part {
    pub(super) name: String,
    pub(super) file_name: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) body: Bytes,
}

/// The `boundary` parameter of a `Content-Type` header.
pub(super) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Splits `body` into its parts; `None` if it is not well formed.
pub(super) fn parse(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let headers_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..headers_end]).ok()?;
        rest = &rest[headers_end + 4..];
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())?;
        let content = Bytes::copy_from_slice(&rest[..end]);
        rest = &rest[end + 2 + delimiter.len()..];

        let mut part = Part {
            name: String::new(),
            file_name: None,
            content_type: None,
            body: content,
        };
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                part.name = disposition_param(value, "name")?;
                part.file_name = disposition_param(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            }
        }
        parts.push(part);
    }
}

fn disposition_param(value: &str, wanted: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(wanted)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_and_file_parts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"url\"\r\n\r\nhttp://a/\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\
            Content-Type: text/plain\r\n\r\nhello\r\nworld\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").expect("well formed");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "url");
        assert_eq!(&parts[0].body[..], b"http://a/");
        assert_eq!(parts[1].file_name.as_deref(), Some("a.txt"));
        assert_eq!(&parts[1].body[..], b"hello\r\nworld");
        assert_eq!(
            boundary("multipart/form-data; boundary=XyZ").as_deref(),
            Some("XyZ")
        );
    }
}
