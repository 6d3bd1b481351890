//! Small PNG images made on the spot.

/// A `width`×`height` RGB PNG, a checkerboard tinted by `seed` so that images differ.
pub fn png(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let on = (x + y) % 2 == 0;
            let level = if on { 255 } else { seed.wrapping_mul(40) };
            pixels.extend_from_slice(&[level, seed.wrapping_mul(90), 255 - level]);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .expect("a PNG header writes to memory");
    writer
        .write_image_data(&pixels)
        .expect("the pixels match the header");
    writer.finish().expect("a PNG finishes in memory");
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn it_is_a_png() {
        let png = super::png(8, 8, 1);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
