//! QR codes in and out of pictures, without any I/O: [`encode`] draws a text's code as a PNG,
//! [`decode`] finds and reads the codes in a JPEG or PNG.

use qrcode::{Color, EcLevel, QrCode};

/// The most bytes of text a code holds at the error correction level used (M, version 40, byte
/// mode). Texts of digits or capitals only fit more, but users write mixed text.
pub const MAX_BYTES: usize = 2331;

/// Modules of white space around a code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// About how wide a picture is made, in pixels: large enough for Telegram's photo compression,
/// which keeps at most 1280 pixels a side.
const TARGET_PIXELS: usize = 640;

/// Why a text could not become a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Nothing to encode.
    Empty,
    /// The text is over the code's capacity: its length in bytes.
    TooLong(usize),
}

/// Why a picture did not give a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are not a JPEG or PNG picture: the decoder's message.
    NotAPicture(String),
    /// No code was found in the picture.
    NoCode,
    /// A code was found but could not be read (damaged, blurred, cut off): the reader's message.
    Unreadable(String),
}

/// The code of `text` as a black-on-white greyscale PNG about [`TARGET_PIXELS`] wide.
pub fn encode(text: &str) -> Result<Vec<u8>, EncodeError> {
    if text.is_empty() {
        return Err(EncodeError::Empty);
    }
    if text.len() > MAX_BYTES {
        return Err(EncodeError::TooLong(text.len()));
    }
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|_| EncodeError::TooLong(text.len()))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 2 * QUIET_ZONE;
    let scale = (TARGET_PIXELS / side).max(2);
    let pixels_side = side * scale;
    let mut pixels = vec![255u8; pixels_side * pixels_side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Light {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * scale..(my + 1) * scale {
            let row = y * pixels_side;
            pixels[row + mx * scale..row + (mx + 1) * scale].fill(0);
        }
    }
    Ok(png_grey(&pixels, pixels_side as u32))
}

/// A square 8-bit greyscale PNG of `side` pixels a side.
fn png_grey(pixels: &[u8], side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder
        .write_header()
        .expect("a PNG header writes to memory");
    writer
        .write_image_data(pixels)
        .expect("the pixels match the header");
    writer.finish().expect("a PNG finishes in memory");
    out
}

/// The texts of the codes found in a JPEG or PNG picture, in the order found (at least one).
pub fn decode(picture: &[u8]) -> Result<Vec<String>, DecodeError> {
    let image = image::load_from_memory(picture)
        .map_err(|error| DecodeError::NotAPicture(error.to_string()))?
        .into_luma8();
    let (width, height) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    if grids.is_empty() {
        return Err(DecodeError::NoCode);
    }
    let mut texts = Vec::new();
    let mut last_error = None;
    for grid in grids {
        match grid.decode() {
            Ok((_, text)) => texts.push(text),
            Err(error) => last_error = Some(error.to_string()),
        }
    }
    match (texts.is_empty(), last_error) {
        (true, Some(error)) => Err(DecodeError::Unreadable(error)),
        (true, None) => Err(DecodeError::NoCode),
        (false, _) => Ok(texts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_comes_back_from_its_code() {
        for text in ["hello", "https://example.com/a?b=c", "Grüße, 世界! 🎲"] {
            let png = encode(text).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            assert_eq!(decode(&png).unwrap(), [text]);
        }
    }

    #[test]
    fn the_longest_text_fits_and_one_byte_more_does_not() {
        let longest = "x".repeat(MAX_BYTES);
        assert_eq!(decode(&encode(&longest).unwrap()).unwrap(), [longest]);
        assert_eq!(
            encode(&"x".repeat(MAX_BYTES + 1)),
            Err(EncodeError::TooLong(MAX_BYTES + 1))
        );
        assert_eq!(encode(""), Err(EncodeError::Empty));
    }

    #[test]
    fn a_code_survives_jpeg() {
        let png = encode("read me after compression").unwrap();
        let image = image::load_from_memory(&png).unwrap();
        let mut jpeg = Vec::new();
        image
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        assert_eq!(decode(&jpeg).unwrap(), ["read me after compression"]);
    }

    #[test]
    fn a_picture_without_a_code_and_bytes_that_are_no_picture_are_told_apart() {
        let blank = png_grey(&[200u8; 64 * 64], 64);
        assert_eq!(decode(&blank), Err(DecodeError::NoCode));
        assert!(matches!(
            decode(b"not a picture"),
            Err(DecodeError::NotAPicture(_))
        ));
    }
}
