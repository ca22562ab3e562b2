//! Errors that say what a file is: a format that claimed a file by its name alone and could not
//! read it gets to say what the file holds instead (text, a Git LFS pointer, a legacy GGML
//! model), and every error of a format carries the format's name (`gguf: truncated: …`).

use mir_core::Error;

/// A file named like one format that holds something else.
#[derive(Debug, thiserror::Error)]
#[error("not a {format} file: {what}")]
pub struct NotThisFormat {
    /// The format that claimed the file by its name.
    pub format: &'static str,
    /// What the file holds instead.
    pub what: &'static str,
}

/// What `head` (a file's first bytes) is when it is none of the weight formats: a Git LFS
/// pointer, a legacy GGML file, or text. `None` when it may be a weight file.
pub fn foreign_content(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"version https://git-lfs.github.com/spec/") {
        return Some(
            "it is a Git LFS pointer file: the model itself was never downloaded (run `git lfs pull`)",
        );
    }
    // ggml.h's magics before GGUF ('ggml', 'ggmf', 'ggjt', 'ggla', 'ggsn'), stored as a
    // little-endian u32: whisper.cpp and llama.cpp models from before August 2023.
    if let Some(magic) = head.get(..4)
        && [b"lmgg", b"fmgg", b"tjgg", b"algg", b"nsgg"]
            .iter()
            .any(|m| m.as_slice() == magic)
    {
        return Some(
            "it is a legacy GGML file (the format before GGUF, e.g. a whisper.cpp or early llama.cpp model), which mir does not read",
        );
    }
    let text = head.len() >= 8
        && std::str::from_utf8(head).map_or_else(
            // A multi-byte character cut at the end of the head is still text.
            |e| e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
            |_| true,
        )
        && head
            .iter()
            .all(|&b| b >= 0x20 || b == b'\n' || b == b'\r' || b == b'\t');
    text.then_some(TEXT)
}

/// What [`foreign_content`] says of text.
const TEXT: &str = "it holds text";

/// Built-in formats whose files never start with text: a u64 length (safetensors), a magic
/// (GGUF).
const BINARY_HEADED: [&str; 2] = ["safetensors", "gguf"];

/// The error to report for `format` failing to read a file whose first bytes are `head`: a
/// [`NotThisFormat`] when the file is something else altogether, else the error with the format's
/// name in front (formats' own errors already carry it).
pub(crate) fn explain(format: &'static str, head: &[u8], e: Error) -> Error {
    // Text is foreign only to formats whose files start with binary bytes (a protocol-0 pickle
    // is text); and an error that carries findings (a payload before the damage) is kept whole.
    let foreign = foreign_content(head)
        .filter(|what| *what != TEXT || BINARY_HEADED.contains(&format))
        .filter(|_| mir_ckpt::findings_of(&e).is_empty());
    if let Some(what) = foreign {
        return Error::format(format, NotThisFormat { format, what });
    }
    match e {
        e @ Error::Format { .. } => e,
        e @ Error::Io(_) => e,
        other => Error::format(format, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_misnamed_file_holds() {
        let lfs = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a";
        assert!(foreign_content(lfs).unwrap().contains("Git LFS pointer"));
        assert!(
            foreign_content(b"lmgg\x01\0\0\0xxxx")
                .unwrap()
                .contains("legacy GGML")
        );
        assert!(
            foreign_content(b"tjgg\x03\0\0\0xxxx")
                .unwrap()
                .contains("legacy GGML")
        );
        assert_eq!(
            foreign_content(b"hello world, caf\xc3\xa9"),
            Some("it holds text")
        );
        // Weight files are not text.
        assert_eq!(foreign_content(b"GGUF\x03\0\0\0\x01\0\0\0"), None);
        assert_eq!(foreign_content(b"\xa0\0\0\0\0\0\0\0{\"a\":"), None);
        assert_eq!(foreign_content(b"PK\x03\x04\x14\0\0\0"), None);
        assert_eq!(foreign_content(b"\x80\x02}q\0("), None);
        assert_eq!(foreign_content(b"short"), None);
    }

    #[test]
    fn every_error_carries_the_format_name_once() {
        let e = Error::Truncated {
            what: "magic",
            end: 4,
            file_len: 2,
        };
        let out = explain("gguf", b"GG", e);
        assert_eq!(
            out.to_string(),
            "gguf: truncated: the magic needs bytes up to 4 but the file has 2"
        );
        let text = explain("safetensors", b"this is a readme", Error::Unrecognised);
        assert_eq!(
            text.to_string(),
            "safetensors: not a safetensors file: it holds text"
        );
        // A protocol-0 pickle is text: a ckpt error stays the parser's own.
        let p0 = explain("ckpt", b"(dp0\nVa\np1\n", Error::Unrecognised);
        assert_eq!(p0.to_string(), "ckpt: unrecognised format");
    }
}
