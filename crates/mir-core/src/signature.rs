//! Fingerprints of a [`TensorIndex`]: `key_sig`, `shape_sig` (ours) and the MIR project's
//! `layer_256`/`layer_b3`.
//!
//! # Encoding, version 1 ([`SIG_VERSION`])
//!
//! Both signatures are XXH3-128 (seed 0) over a byte string, printed as 32 lowercase hex digits
//! (the 128-bit value, most significant byte first).
//!
//! * `key_sig` hashes `b"mir.key_sig.v1\0"`, then for every tensor name in ascending byte order:
//!   the name's length as u64 little-endian, then its UTF-8 bytes.
//! * `shape_sig` hashes `b"mir.shape_sig.v1\0"`, then for every tensor in ascending name order: the
//!   name as above, the rank as u64 LE, then each dimension of the logical (PyTorch-order) shape
//!   as u64 LE.
//!
//! Neither includes dtypes, byte offsets, metadata or the container, so an fp16 safetensors file
//! and a Q8_0 GGUF of the same weights under the same names get the same `shape_sig`. The names
//! are hashed exactly as stored (prefixes included); length prefixes make the encoding
//! unambiguous whatever bytes a name holds.
//!
//! `layer_256`/`layer_b3` are SHA-256 and BLAKE3 over the UTF-8 of
//! [`TensorIndex::mir_layer_string`] (SPEC-notes §2.1); formats that cannot reproduce the MIR
//! string leave them out.

use sha2::Digest;
use xxhash_rust::xxh3::Xxh3;

use crate::TensorIndex;

/// The version of the `key_sig`/`shape_sig` encodings. A change to either bumps it.
pub const SIG_VERSION: u32 = 1;

/// The fingerprints of one index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signatures {
    /// XXH3-128 of the sorted tensor names.
    pub key_sig: u128,
    /// XXH3-128 of the sorted (name, shape) pairs.
    pub shape_sig: u128,
    /// The MIR project's SHA-256 layer hash, when the format defines a layer string.
    pub layer_256: Option<String>,
    /// The MIR project's BLAKE3 layer hash, when the format defines a layer string.
    pub layer_b3: Option<String>,
}

impl Signatures {
    /// Computes every fingerprint of `index`.
    pub fn of(index: &TensorIndex) -> Signatures {
        let mut order: Vec<&crate::TensorRecord> = index.tensors.iter().collect();
        order.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        // Both encodings are fed through small fixed buffers into streaming hashers: no buffer the
        // size of the header is built per file (fresh pages cost more than the hashing).
        let mut keys = Chunked::new(b"mir.key_sig.v1\0");
        let mut shapes = Chunked::new(b"mir.shape_sig.v1\0");
        for t in order {
            let len = (t.name.len() as u64).to_le_bytes();
            keys.push(&len);
            keys.push(t.name.as_bytes());
            shapes.push(&len);
            shapes.push(t.name.as_bytes());
            shapes.push(&(t.shape.len() as u64).to_le_bytes());
            for d in &t.shape {
                shapes.push(&d.to_le_bytes());
            }
        }
        let (layer_256, layer_b3) = match (&index.mir_layer_hashes, &index.mir_layer_string) {
            (Some(h), _) => (Some(h.layer_256.clone()), Some(h.layer_b3.clone())),
            (None, Some(s)) => {
                let (a, b) = mir_layer_hashes(s);
                (Some(a), Some(b))
            }
            (None, None) => (None, None),
        };
        Signatures {
            key_sig: keys.finish(),
            shape_sig: shapes.finish(),
            layer_256,
            layer_b3,
        }
    }

    /// `key_sig` as 32 lowercase hex digits.
    pub fn key_sig_hex(&self) -> String {
        format!("{:032x}", self.key_sig)
    }

    /// `shape_sig` as 32 lowercase hex digits.
    pub fn shape_sig_hex(&self) -> String {
        format!("{:032x}", self.shape_sig)
    }
}

/// Bytes gathered in a fixed buffer and fed to a streaming XXH3-128 a chunk at a time: the same
/// digest as `xxh3_128` of their concatenation, without building the concatenation, and without
/// the per-call cost of thousands of tiny `update`s.
struct Chunked {
    buf: [u8; CHUNK],
    len: usize,
    hasher: Xxh3,
}

/// [`Chunked`]'s buffer size.
const CHUNK: usize = 4096;

impl Chunked {
    fn new(prefix: &[u8]) -> Chunked {
        let mut c = Chunked {
            buf: [0; CHUNK],
            len: 0,
            hasher: Xxh3::new(),
        };
        c.push(prefix);
        c
    }

    fn push(&mut self, bytes: &[u8]) {
        if let Some(room) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            room.copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        self.flush();
        match self.buf.get_mut(..bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.hasher.update(bytes),
        }
    }

    fn flush(&mut self) {
        self.hasher
            .update(self.buf.get(..self.len).unwrap_or_default());
        self.len = 0;
    }

    fn finish(mut self) -> u128 {
        self.flush();
        self.hasher.digest128()
    }
}

/// SHA-256 and BLAKE3 (lowercase hex) of a MIR layer string: `(layer_256, layer_b3)`.
pub fn mir_layer_hashes(layer_string: &str) -> (String, String) {
    let sha = sha2::Sha256::digest(layer_string.as_bytes());
    let b3 = blake3::hash(layer_string.as_bytes());
    (to_hex(&sha), b3.to_hex().to_string())
}

/// The MIR layer hashes of one file, lowercase hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerHashes {
    /// SHA-256 of the layer string.
    pub layer_256: String,
    /// BLAKE3 of the layer string.
    pub layer_b3: String,
}

/// SHA-256 and BLAKE3 fed together, for a layer string produced piece by piece (so it never has
/// to exist whole in memory). Same result as [`mir_layer_hashes`] on the concatenation.
#[derive(Clone, Default)]
pub struct LayerHasher {
    sha: sha2::Sha256,
    b3: blake3::Hasher,
}

impl LayerHasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the layer string.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.b3.update(bytes);
    }

    /// The two hashes of everything fed.
    pub fn finish(self) -> LayerHashes {
        LayerHashes {
            layer_256: to_hex(&self.sha.finalize()),
            layer_b3: self.b3.finalize().to_hex().to_string(),
        }
    }
}

impl std::fmt::Debug for LayerHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayerHasher")
    }
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dtype, TensorRecord};

    fn index(tensors: &[(&str, Dtype, &[u64])]) -> TensorIndex {
        let mut i = TensorIndex::new("t");
        for (n, d, s) in tensors {
            i.tensors.push(TensorRecord::new(*n, d.clone(), s.to_vec()));
        }
        i
    }

    #[test]
    fn layer_hasher_in_pieces_equals_the_whole_string() {
        let s = "{'a': {'dtype': 'F16', 'shape': [1], 'data_offsets': [0, 2]}}";
        let mut h = LayerHasher::new();
        for piece in s.as_bytes().chunks(7) {
            h.update(piece);
        }
        let (a, b) = mir_layer_hashes(s);
        assert_eq!(
            h.finish(),
            LayerHashes {
                layer_256: a,
                layer_b3: b
            }
        );
        let mut i = TensorIndex::new("t");
        i.mir_layer_string = Some("ignored".into());
        i.mir_layer_hashes = Some(LayerHashes {
            layer_256: "x".into(),
            layer_b3: "y".into(),
        });
        let sigs = Signatures::of(&i);
        assert_eq!(
            (sigs.layer_256.as_deref(), sigs.layer_b3.as_deref()),
            (Some("x"), Some("y"))
        );
    }

    #[test]
    fn independent_of_order_dtype_and_container() {
        let a = index(&[("a", Dtype::F16, &[2, 2]), ("b", Dtype::F32, &[2])]);
        let mut b = index(&[
            ("b", Dtype::Quant("Q8_0".into()), &[2]),
            ("a", Dtype::BF16, &[2, 2]),
        ]);
        b.format = "gguf".into();
        assert_eq!(Signatures::of(&a), Signatures::of(&b));
    }

    #[test]
    fn shapes_and_names_matter() {
        let a = Signatures::of(&index(&[("a", Dtype::F16, &[2, 2])]));
        let b = Signatures::of(&index(&[("a", Dtype::F16, &[4])]));
        let c = Signatures::of(&index(&[("b", Dtype::F16, &[2, 2])]));
        assert_eq!(a.key_sig, b.key_sig);
        assert_ne!(a.shape_sig, b.shape_sig);
        assert_ne!(a.key_sig, c.key_sig);
        // Length prefixes keep ["ab"] and ["a", "b"] apart.
        let d = Signatures::of(&index(&[("ab", Dtype::F16, &[])]));
        let e = Signatures::of(&index(&[("a", Dtype::F16, &[]), ("b", Dtype::F16, &[])]));
        assert_ne!(d.key_sig, e.key_sig);
    }

    #[test]
    fn encoding_matches_the_documented_bytes() {
        // Builds the v1 byte strings exactly as the module docs describe them, independently of
        // the streaming code, so a change to the encoding fails here (bump SIG_VERSION instead).
        let s = Signatures::of(&index(&[
            ("b.bias", Dtype::F32, &[2]),
            ("a.weight", Dtype::F16, &[2, 2]),
        ]));
        let mut k = b"mir.key_sig.v1\0".to_vec();
        let mut h = b"mir.shape_sig.v1\0".to_vec();
        for (name, shape) in [("a.weight", &[2u64, 2][..]), ("b.bias", &[2u64][..])] {
            for buf in [&mut k, &mut h] {
                buf.extend_from_slice(&(name.len() as u64).to_le_bytes());
                buf.extend_from_slice(name.as_bytes());
            }
            h.extend_from_slice(&(shape.len() as u64).to_le_bytes());
            for d in shape {
                h.extend_from_slice(&d.to_le_bytes());
            }
        }
        assert_eq!(s.key_sig, xxhash_rust::xxh3::xxh3_128(&k));
        assert_eq!(s.shape_sig, xxhash_rust::xxh3::xxh3_128(&h));
        assert_eq!(
            s.key_sig_hex(),
            format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&k))
        );
    }

    #[test]
    fn chunked_hashing_equals_one_shot_across_buffer_edges() {
        // Names around and beyond the buffer size, so every flush path runs.
        let mut data = Vec::new();
        let mut chunked = Chunked::new(b"prefix");
        data.extend_from_slice(b"prefix");
        for (i, len) in [1usize, CHUNK - 7, 3, CHUNK, 5, 3 * CHUNK + 1, CHUNK - 1, 1]
            .into_iter()
            .enumerate()
        {
            let piece: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            chunked.push(&piece);
            data.extend_from_slice(&piece);
        }
        assert_eq!(chunked.finish(), xxhash_rust::xxh3::xxh3_128(&data));
        assert_eq!(Chunked::new(b"").finish(), xxhash_rust::xxh3::xxh3_128(b""));
    }

    #[test]
    fn sentinel_hashes_of_none() {
        let (sha, b3) = mir_layer_hashes("None");
        assert_eq!(
            sha,
            "dc937b59892604f5a86ac96936cd7ff09e25f18ae6b758e8014a24c7fa039e91"
        );
        assert_eq!(
            b3,
            "b52807536902cabbf84f99e4fa2f8713fb4ef77e739f06367ee0d486e3222faa"
        );
    }
}
