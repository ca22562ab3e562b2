//! Preview images embedded as `data:` URIs: only PNG, JPEG, WebP and GIF (told by their magic
//! bytes, never by the file name; SVG can hold script and is never embedded), each at most
//! [`PreviewLimits::max_each`] bytes and all together at most [`PreviewLimits::max_total`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use base64::Engine as _;

/// How much preview data a page may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviewLimits {
    /// Largest preview embedded, in bytes (larger ones are listed, not shown).
    pub max_each: u64,
    /// Largest sum of embedded previews, in bytes.
    pub max_total: u64,
}

impl Default for PreviewLimits {
    /// 512 KiB each, 32 MiB in all.
    fn default() -> Self {
        PreviewLimits {
            max_each: 512 * 1024,
            max_total: 32 * 1024 * 1024,
        }
    }
}

/// The image type of `bytes` by its magic number, as a MIME type.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

/// Reads one preview: `Ok(data URI)`, or why it is not embedded.
pub fn load(path: &Path, max_each: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    if meta.len() > max_each {
        return Err(format!(
            "{}: {} bytes, larger than the {} bytes a preview may have",
            path.display(),
            meta.len(),
            max_each
        ));
    }
    // Read at most `max_each + 1` bytes whatever the metadata said (the file may grow).
    let mut bytes = Vec::new();
    file.take(max_each.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() as u64 > max_each {
        return Err(format!("{}: grew past the preview limit", path.display()));
    }
    let mime = image_type(&bytes).ok_or_else(|| {
        format!(
            "{}: not a PNG, JPEG, WebP or GIF image; not embedded",
            path.display()
        )
    })?;
    Ok(format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    ))
}

/// Loads the previews of `paths` (each once, in order) within `limits`: the data URIs by path,
/// and one warning per preview left out.
pub fn load_all<'a>(
    paths: impl IntoIterator<Item = &'a str>,
    limits: PreviewLimits,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    let mut total = 0u64;
    for p in paths {
        if out.contains_key(p) {
            continue;
        }
        match load(Path::new(p), limits.max_each) {
            Ok(uri) => {
                let len = uri.len() as u64;
                if total.saturating_add(len) > limits.max_total {
                    warnings.push(format!(
                        "{p}: previews already take {total} bytes of the page; not embedded"
                    ));
                    continue;
                }
                total += len;
                out.insert(p.to_owned(), uri);
            }
            Err(e) => warnings.push(e),
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_image_magic_is_embedded_and_size_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nrest").unwrap();
        let svg = dir.path().join("b.png");
        std::fs::write(&svg, b"<svg onload=alert(1)>").unwrap();
        let big = dir.path().join("c.jpg");
        std::fs::write(&big, [0xff, 0xd8, 0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(
            load(&png, 100)
                .unwrap()
                .starts_with("data:image/png;base64,")
        );
        assert!(load(&svg, 100).unwrap_err().contains("not a PNG"));
        assert!(load(&big, 5).unwrap_err().contains("larger than"));
        assert!(load(&dir.path().join("none.png"), 5).is_err());
        let p = png.to_str().unwrap();
        let s = svg.to_str().unwrap();
        let (got, warnings) = load_all(
            [p, s, p],
            PreviewLimits {
                max_each: 100,
                max_total: 1000,
            },
        );
        assert_eq!(got.len(), 1);
        assert_eq!(warnings.len(), 1);
        let (got, warnings) = load_all(
            [p],
            PreviewLimits {
                max_each: 100,
                max_total: 10,
            },
        );
        assert!(got.is_empty());
        assert!(warnings[0].contains("previews already take"));
    }
}
