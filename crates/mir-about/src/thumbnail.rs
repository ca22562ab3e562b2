//! `modelspec.thumbnail`: an image embedded in the header as a data URI
//! (`data:image/png;base64,…`).

use base64::Engine;

/// Why a thumbnail could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ThumbnailError {
    /// The file has no `modelspec.thumbnail`.
    #[error("the file has no embedded thumbnail (modelspec.thumbnail)")]
    Absent,
    /// Not `data:<media type>;base64,<data>`.
    #[error("modelspec.thumbnail is not a base64 data URI (data:image/…;base64,…)")]
    NotDataUri,
    /// The base64 does not decode.
    #[error("modelspec.thumbnail: bad base64: {0}")]
    Base64(String),
    /// It decodes to nothing.
    #[error("modelspec.thumbnail is empty")]
    Empty,
}

/// A decoded thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// The media type the URI declares (`image/png`), if any.
    pub media_type: Option<String>,
    /// The image bytes.
    pub bytes: Vec<u8>,
}

/// The media type of a data URI (`image/png`), without decoding it.
pub fn media_type(uri: &str) -> Option<String> {
    let rest = uri.trim_start().strip_prefix("data:")?;
    let head = rest.split(',').next()?;
    let t = head.split(';').next()?.trim();
    (!t.is_empty() && t.len() < 128).then(|| t.to_ascii_lowercase())
}

/// Decodes a `data:<media type>;base64,<data>` URI (whitespace in the data is ignored).
pub fn decode(uri: &str) -> Result<Thumbnail, ThumbnailError> {
    let rest = uri
        .trim()
        .strip_prefix("data:")
        .ok_or(ThumbnailError::NotDataUri)?;
    let (head, data) = rest.split_once(',').ok_or(ThumbnailError::NotDataUri)?;
    if !head
        .split(';')
        .any(|p| p.trim().eq_ignore_ascii_case("base64"))
    {
        return Err(ThumbnailError::NotDataUri);
    }
    let clean: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&clean)
        .map_err(|e| ThumbnailError::Base64(e.to_string()))?;
    if bytes.is_empty() {
        return Err(ThumbnailError::Empty);
    }
    Ok(Thumbnail {
        media_type: media_type(uri),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects() {
        let png = b"\x89PNG\r\n\x1a\nrest";
        let uri = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(png)
        );
        let t = decode(&uri).unwrap();
        assert_eq!(t.bytes, png);
        assert_eq!(t.media_type.as_deref(), Some("image/png"));
        assert_eq!(decode("http://x/y.png"), Err(ThumbnailError::NotDataUri));
        assert_eq!(
            decode("data:image/png,abc"),
            Err(ThumbnailError::NotDataUri)
        );
        assert!(matches!(
            decode("data:image/png;base64,@@@"),
            Err(ThumbnailError::Base64(_))
        ));
        assert_eq!(decode("data:image/png;base64,"), Err(ThumbnailError::Empty));
    }
}
