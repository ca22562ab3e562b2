//! The names of the hashes `mir` computes, as users type them and as JSON fields spell them.

use std::fmt;
use std::str::FromStr;

use crate::HashError;

/// One hash `mir` can compute over a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HashAlgo {
    /// SHA-256 of the whole file, 64 lowercase hex digits (the HF LFS oid, civitai "SHA256").
    Sha256,
    /// A1111's old hash: SHA-256 of the 64 KiB at offset 1 MiB, first 8 hex digits.
    AutoV1,
    /// A1111's and civitai's short hash: the first 10 hex digits of the whole-file SHA-256.
    AutoV2,
    /// SHA-256 of the bytes after a safetensors header (offset `8 + N`), 64 hex digits; equal to
    /// `modelspec.hash_sha256` without `0x` and to kohya's `sshs_model_hash`.
    AutoV3,
    /// BLAKE3 of the whole file, 64 hex digits (`b3sum`, InvokeAI, ComfyUI asset hashes).
    Blake3,
    /// CRC-32 (IEEE, as zlib and civitai) of the whole file, 8 hex digits.
    Crc32,
    /// The MIR project's `file_256`: SHA-256 of the whole file (shares the [`HashAlgo::Sha256`]
    /// computation).
    File256,
}

impl HashAlgo {
    /// Every hash, in the order of the [`crate::FileHashes`] fields.
    pub const ALL: [HashAlgo; 7] = [
        HashAlgo::Sha256,
        HashAlgo::AutoV1,
        HashAlgo::AutoV2,
        HashAlgo::AutoV3,
        HashAlgo::Blake3,
        HashAlgo::Crc32,
        HashAlgo::File256,
    ];

    /// The name users type and JSON fields use: `sha256`, `autov1`, `autov2`, `autov3`,
    /// `blake3`, `crc32`, `file_256`.
    pub fn as_str(self) -> &'static str {
        match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::AutoV1 => "autov1",
            HashAlgo::AutoV2 => "autov2",
            HashAlgo::AutoV3 => "autov3",
            HashAlgo::Blake3 => "blake3",
            HashAlgo::Crc32 => "crc32",
            HashAlgo::File256 => "file_256",
        }
    }

    /// Parses a comma-separated list such as `sha256,blake3` or `all` (case-insensitive, spaces
    /// around names ignored, duplicates removed, result in [`HashAlgo::ALL`] order).
    pub fn parse_list(list: &str) -> Result<Vec<HashAlgo>, HashError> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim) {
            if name.eq_ignore_ascii_case("all") {
                out.extend(HashAlgo::ALL);
            } else {
                out.push(name.parse()?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl FromStr for HashAlgo {
    type Err = HashError;

    /// Parses one name; `all` is accepted only by [`HashAlgo::parse_list`].
    fn from_str(name: &str) -> Result<HashAlgo, HashError> {
        HashAlgo::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| HashError::UnknownAlgo {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in HashAlgo::ALL {
            assert_eq!(a.as_str().parse::<HashAlgo>().ok(), Some(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!("SHA256".parse::<HashAlgo>().ok(), Some(HashAlgo::Sha256));
    }

    #[test]
    fn lists_and_all() {
        let l = HashAlgo::parse_list("blake3, sha256,blake3").expect("valid list");
        assert_eq!(l, vec![HashAlgo::Sha256, HashAlgo::Blake3]);
        assert_eq!(
            HashAlgo::parse_list("all").expect("all"),
            HashAlgo::ALL.to_vec()
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        let e = "md5".parse::<HashAlgo>().expect_err("md5 is not offered");
        assert!(matches!(e, HashError::UnknownAlgo { ref name } if name == "md5"));
        assert!(e.to_string().contains("file_256"));
        assert!("all".parse::<HashAlgo>().is_err());
        assert!(HashAlgo::parse_list("sha256,").is_err());
    }
}
