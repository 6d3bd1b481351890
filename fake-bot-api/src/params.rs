//! A method's parameters, from whichever encoding the client used.
//!
//! Telegram accepts the query string, `application/x-www-form-urlencoded`,
//! `application/json` and `multipart/form-data` (teloxide uses JSON, and multipart for methods
//! that can upload a file, such as `setWebhook` and `sendDocument`). In the form encodings
//! every value is text, and objects and arrays are JSON text, so the accessors below accept a
//! number or a string for numbers, and an object or a JSON string for objects.

mod multipart;

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A file part of a `multipart/form-data` request.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

/// The parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params {
    values: Map<String, Value>,
    files: HashMap<String, Upload>,
}

impl Params {
    /// Parses the query string, then the body (whose values win) by its content type.
    pub(crate) fn parse(
        content_type: Option<&str>,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut params = Self::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        let mime = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        match mime.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => params.values.extend(map),
                _ => return Err(ApiError::bad_request("can't parse JSON object")),
            },
            "multipart/form-data" => {
                let boundary = content_type
                    .and_then(multipart::boundary)
                    .ok_or_else(|| ApiError::bad_request("can't parse multipart/form-data"))?;
                for part in multipart::parse(body, &boundary)
                    .ok_or_else(|| ApiError::bad_request("can't parse multipart/form-data"))?
                {
                    if part.file_name.is_some() {
                        let upload = Upload {
                            file_name: part.file_name,
                            content_type: part.content_type,
                            bytes: part.body,
                        };
                        params.files.insert(part.name, upload);
                    } else {
                        let text = String::from_utf8_lossy(&part.body).into_owned();
                        params.values.insert(part.name, Value::String(text));
                    }
                }
            }
            _ => params.add_form(body),
        }
        Ok(params)
    }

    fn add_form(&mut self, form: &[u8]) {
        for (key, value) in form_urlencoded::parse(form) {
            self.values
                .insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }

    /// Whether the parameter is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.values.contains_key(key) || self.files.contains_key(key)
    }

    /// A string parameter; numbers and booleans are given as their text.
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// An integer parameter given as a number or as decimal text.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("invalid {key} specified"))),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid {key} specified"))),
            Some(_) => Err(ApiError::bad_request(format!("invalid {key} specified"))),
        }
    }

    /// A boolean parameter: `true`, `"true"` or `"1"` (anything else is false).
    pub(crate) fn bool(&self, key: &str) -> bool {
        match self.values.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// An object or array parameter, given as JSON or as JSON text; `None` if absent,
    /// `Err(())` if it is text that is not JSON.
    pub(crate) fn json(&self, key: &str) -> Result<Option<Value>, ()> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }

    /// The uploaded part named `name` (what `attach://<name>` refers to).
    pub(crate) fn attached(&self, name: &str) -> Option<&Upload> {
        self.files.get(name)
    }

    /// A file parameter: an uploaded part named `key`, or the part `attach://<name>` names.
    pub(crate) fn upload(&self, key: &str) -> Option<&Upload> {
        if let Some(upload) = self.files.get(key) {
            return Some(upload);
        }
        let attached = self.str(key)?;
        self.files.get(attached.strip_prefix("attach://")?)
    }
}
