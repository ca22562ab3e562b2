//! The tables GGUF files refer to by number: ggml tensor types, llama.cpp file types and GGUF
//! metadata value types.

/// One ggml tensor type: its id, name, block size (elements) and block size in bytes.
struct GgmlType {
    id: u32,
    name: &'static str,
    block: u64,
    bytes: u64,
    /// Whether gguf-py 0.19.0 knows the id (the MIR layer string needs gguf-py to read a file).
    in_gguf_py: bool,
}

const fn t(id: u32, name: &'static str, block: u64, bytes: u64) -> GgmlType {
    GgmlType {
        id,
        name,
        block,
        bytes,
        in_gguf_py: true,
    }
}

/// An id ggml has removed since (runtime-repacked layouts); old files may still carry it.
const fn removed(id: u32, name: &'static str, block: u64, bytes: u64) -> GgmlType {
    GgmlType {
        id,
        name,
        block,
        bytes,
        in_gguf_py: false,
    }
}

/// The ggml type table, as gguf-py 0.19.0 `GGML_QUANT_SIZES` has it, plus the repacked Q4_0 and
/// IQ4_NL layouts that ggml has since removed (ids 31-33 and 36-38; same blocks as their base).
const GGML_TYPES: &[GgmlType] = &[
    t(0, "F32", 1, 4),
    t(1, "F16", 1, 2),
    t(2, "Q4_0", 32, 18),
    t(3, "Q4_1", 32, 20),
    t(6, "Q5_0", 32, 22),
    t(7, "Q5_1", 32, 24),
    t(8, "Q8_0", 32, 34),
    t(9, "Q8_1", 32, 40),
    t(10, "Q2_K", 256, 84),
    t(11, "Q3_K", 256, 110),
    t(12, "Q4_K", 256, 144),
    t(13, "Q5_K", 256, 176),
    t(14, "Q6_K", 256, 210),
    t(15, "Q8_K", 256, 292),
    t(16, "IQ2_XXS", 256, 66),
    t(17, "IQ2_XS", 256, 74),
    t(18, "IQ3_XXS", 256, 98),
    t(19, "IQ1_S", 256, 50),
    t(20, "IQ4_NL", 32, 18),
    t(21, "IQ3_S", 256, 110),
    t(22, "IQ2_S", 256, 82),
    t(23, "IQ4_XS", 256, 136),
    t(24, "I8", 1, 1),
    t(25, "I16", 1, 2),
    t(26, "I32", 1, 4),
    t(27, "I64", 1, 8),
    t(28, "F64", 1, 8),
    t(29, "IQ1_M", 256, 56),
    t(30, "BF16", 1, 2),
    removed(31, "Q4_0_4_4", 32, 18),
    removed(32, "Q4_0_4_8", 32, 18),
    removed(33, "Q4_0_8_8", 32, 18),
    t(34, "TQ1_0", 256, 54),
    t(35, "TQ2_0", 256, 66),
    removed(36, "IQ4_NL_4_4", 32, 18),
    removed(37, "IQ4_NL_4_8", 32, 18),
    removed(38, "IQ4_NL_8_8", 32, 18),
    t(39, "MXFP4", 32, 17),
    t(40, "NVFP4", 64, 36),
    t(41, "Q1_0", 128, 18),
];

fn ggml_type(id: u32) -> Option<&'static GgmlType> {
    GGML_TYPES.iter().find(|t| t.id == id)
}

/// The ggml name of tensor type `id` (`Q4_K`, `BF16`, …), `None` for ids this crate does not know.
///
/// ```
/// assert_eq!(mir_gguf::ggml_type_name(12), Some("Q4_K"));
/// assert_eq!(mir_gguf::ggml_type_name(200), None);
/// ```
pub fn ggml_type_name(id: u32) -> Option<&'static str> {
    ggml_type(id).map(|t| t.name)
}

/// `(elements per block, bytes per block)` of tensor type `id`, `None` for unknown ids.
pub fn ggml_block_size(id: u32) -> Option<(u64, u64)> {
    ggml_type(id).map(|t| (t.block, t.bytes))
}

/// True when gguf-py 0.19.0 (the reader MIR's layer hash depends on) knows type `id`.
pub(crate) fn known_to_gguf_py(id: u32) -> bool {
    ggml_type(id).is_some_and(|t| t.in_gguf_py)
}

/// The short name of a llama.cpp `general.file_type` (`LLAMA_FTYPE_*` without `MOSTLY_`):
/// `F32`, `F16`, `Q4_K_M`, `BF16`, …; `None` for values llama.cpp never assigned or removed.
///
/// ```
/// assert_eq!(mir_gguf::file_type_name(15), Some("Q4_K_M"));
/// assert_eq!(mir_gguf::file_type_name(1), Some("F16"));
/// ```
pub fn file_type_name(ftype: u32) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        4 => "Q4_1_SOME_F16",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        33 => "Q4_0_4_4",
        34 => "Q4_0_4_8",
        35 => "Q4_0_8_8",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        _ => return None,
    })
}

/// The type of a GGUF metadata value, by its on-disk id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// 0: u8.
    U8,
    /// 1: i8.
    I8,
    /// 2: u16.
    U16,
    /// 3: i16.
    I16,
    /// 4: u32.
    U32,
    /// 5: i32.
    I32,
    /// 6: f32.
    F32,
    /// 7: bool (one byte).
    Bool,
    /// 8: length-prefixed UTF-8 string.
    String,
    /// 9: array (element type, count, elements), possibly nested.
    Array,
    /// 10: u64.
    U64,
    /// 11: i64.
    I64,
    /// 12: f64.
    F64,
}

impl ValueType {
    /// The type for an on-disk id, `None` for ids the spec does not define.
    pub fn from_id(id: u32) -> Option<ValueType> {
        Some(match id {
            0 => ValueType::U8,
            1 => ValueType::I8,
            2 => ValueType::U16,
            3 => ValueType::I16,
            4 => ValueType::U32,
            5 => ValueType::I32,
            6 => ValueType::F32,
            7 => ValueType::Bool,
            8 => ValueType::String,
            9 => ValueType::Array,
            10 => ValueType::U64,
            11 => ValueType::I64,
            12 => ValueType::F64,
            _ => return None,
        })
    }

    /// Lowercase name used in [`mir_core::MetaValue::Elided`] (`u8`, `string`, `array`, …).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::U8 => "u8",
            ValueType::I8 => "i8",
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::F32 => "f32",
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Array => "array",
            ValueType::U64 => "u64",
            ValueType::I64 => "i64",
            ValueType::F64 => "f64",
        }
    }

    /// The size of a fixed-size value, `None` for strings and arrays.
    pub(crate) fn fixed_size(self) -> Option<u64> {
        Some(match self {
            ValueType::U8 | ValueType::I8 | ValueType::Bool => 1,
            ValueType::U16 | ValueType::I16 => 2,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 4,
            ValueType::U64 | ValueType::I64 | ValueType::F64 => 8,
            ValueType::String | ValueType::Array => return None,
        })
    }

    /// The fewest bytes one value of this type can take (`len_size` is 4 in v1, else 8).
    pub(crate) fn min_size(self, len_size: u64) -> u64 {
        match self {
            ValueType::String => len_size,
            ValueType::Array => len_size.saturating_add(4),
            other => other.fixed_size().unwrap_or(1),
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for (i, a) in GGML_TYPES.iter().enumerate() {
            assert!(a.block > 0 && a.bytes > 0, "{}", a.name);
            for b in GGML_TYPES.iter().skip(i + 1) {
                assert_ne!(a.id, b.id);
                assert_ne!(a.name, b.name);
            }
        }
        assert_eq!(ggml_type_name(30), Some("BF16"));
        assert_eq!(ggml_type_name(40), Some("NVFP4"));
        assert_eq!(ggml_type_name(41), Some("Q1_0"));
        assert_eq!(ggml_type_name(4), None);
        assert_eq!(ggml_type_name(42), None);
        assert_eq!(ggml_block_size(12), Some((256, 144)));
        assert!(known_to_gguf_py(41) && !known_to_gguf_py(31) && !known_to_gguf_py(99));
    }

    #[test]
    fn file_types_follow_llama_cpp() {
        let expected = [
            (0, "F32"),
            (1, "F16"),
            (2, "Q4_0"),
            (7, "Q8_0"),
            (15, "Q4_K_M"),
            (17, "Q5_K_M"),
            (18, "Q6_K"),
            (32, "BF16"),
        ];
        for (id, name) in expected {
            assert_eq!(file_type_name(id), Some(name));
        }
        assert_eq!(file_type_name(5), None);
        assert_eq!(file_type_name(1024), None);
    }

    #[test]
    fn value_type_ids_round_trip() {
        for id in 0..=12 {
            let v = ValueType::from_id(id).unwrap();
            assert!(!v.name().is_empty());
        }
        assert_eq!(ValueType::from_id(13), None);
        assert_eq!(ValueType::String.min_size(8), 8);
        assert_eq!(ValueType::Array.min_size(4), 8);
    }
}
