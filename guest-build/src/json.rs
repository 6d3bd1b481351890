//! Just enough JSON to read cargo's `--message-format=json` lines, so this crate needs no
//! dependencies (it is built before anything else in a cold `cargo test`).

use std::fmt;

/// A JSON value. Numbers are kept as their text; nothing here needs their value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Where and why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    offset: usize,
    expected: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid JSON at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

/// Parses one complete JSON text.
pub(crate) fn parse(text: &str) -> Result<Value, Error> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos == text.len() {
        Ok(value)
    } else {
        Err(parser.error("the end"))
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, expected: &'static str) -> Error {
        Error {
            offset: self.pos,
            expected,
        }
    }

    fn skip_whitespace(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace)
        {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.bytes.get(self.pos) == Some(&byte);
        self.pos += usize::from(found);
        found
    }

    fn keyword(&mut self, word: &str, value: Value) -> Result<Value, Error> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("a value"))
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        self.skip_whitespace();
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.keyword("true", Value::Bool(true)),
            Some(b'f') => self.keyword("false", Value::Bool(false)),
            Some(b'n') => self.keyword("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b"+-.eE0123456789".contains(b))
                {
                    self.pos += 1;
                }
                Ok(Value::Number(
                    String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned(),
                ))
            }
            _ => Err(self.error("a value")),
        }
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.pos += 1;
        let mut members = Vec::new();
        if self.eat(b'}') {
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            if !self.eat(b':') {
                return Err(self.error("`:`"));
            }
            members.push((key, self.value()?));
            if self.eat(b'}') {
                return Ok(Value::Object(members));
            }
            if !self.eat(b',') {
                return Err(self.error("`,` or `}`"));
            }
        }
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        if self.eat(b']') {
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            if self.eat(b']') {
                return Ok(Value::Array(items));
            }
            if !self.eat(b',') {
                return Err(self.error("`,` or `]`"));
            }
        }
    }

    fn string(&mut self) -> Result<String, Error> {
        if self.bytes.get(self.pos) != Some(&b'"') {
            return Err(self.error("a string"));
        }
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            match *self.bytes.get(self.pos).ok_or_else(|| self.error("`\"`"))? {
                b'"' => {
                    self.pos += 1;
                    return String::from_utf8(text).map_err(|_| self.error("UTF-8"));
                }
                b'\\' => {
                    let escape = *self
                        .bytes
                        .get(self.pos + 1)
                        .ok_or_else(|| self.error("an escape"))?;
                    self.pos += 2;
                    let decoded = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("an escape")),
                    };
                    text.extend_from_slice(decoded.encode_utf8(&mut [0; 4]).as_bytes());
                }
                byte => {
                    text.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    /// Decodes the `XXXX` of `\uXXXX` (and a following low surrogate, if it starts a pair).
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let high = self.hex4()?;
        if !(0xD800..0xDC00).contains(&high) {
            return char::from_u32(high).ok_or_else(|| self.error("a code point"));
        }
        if !self.bytes[self.pos..].starts_with(b"\\u") {
            return Err(self.error("a low surrogate"));
        }
        self.pos += 2;
        let low = self.hex4()?;
        let code = 0x10000 + ((high - 0xD800) << 10) + low.wrapping_sub(0xDC00);
        char::from_u32(code).ok_or_else(|| self.error("a code point"))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("4 hex digits"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("4 hex digits"))?;
        let value = u32::from_str_radix(text, 16).map_err(|_| self.error("4 hex digits"))?;
        self.pos += 4;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_parse() {
        let value =
            parse(r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": {}, "f": []} "#)
                .unwrap();
        let items = value.get("a").and_then(Value::as_array).unwrap();
        assert_eq!(items[1], Value::Number("-2.5e3".into()));
        assert_eq!(items[4], Value::Null);
        assert_eq!(
            value
                .get("b")
                .and_then(|b| b.get("c"))
                .and_then(Value::as_str),
            Some("d")
        );
        assert_eq!(value.get("f").and_then(Value::as_array), Some(&[][..]));
    }

    #[test]
    fn string_escapes_decode() {
        let value = parse(r#""C:\\dir\\a b\"\n\u00e9\ud83d\ude00/\/""#).unwrap();
        assert_eq!(value.as_str(), Some("C:\\dir\\a b\"\né😀//"));
    }

    #[test]
    fn broken_texts_fail() {
        for text in [
            "",
            "{",
            r#"{"a" 1}"#,
            "[1 2]",
            r#""abc"#,
            "tru",
            "{} x",
            r#""\x""#,
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
