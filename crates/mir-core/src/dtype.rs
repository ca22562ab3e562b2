//! Element types of tensors, across formats.

use std::fmt;

/// The element type of a tensor, spelt as safetensors spells it where safetensors has it.
///
/// Block-quantised types (GGUF `Q4_K`, `IQ2_XS`, …) and types no parser knows are kept by name,
/// so a new type never makes a file unreadable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Dtype {
    /// Boolean, one byte.
    Bool,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 32-bit integer.
    U32,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 64-bit integer.
    U64,
    /// Signed 64-bit integer.
    I64,
    /// IEEE half precision.
    F16,
    /// bfloat16.
    BF16,
    /// IEEE single precision.
    F32,
    /// IEEE double precision.
    F64,
    /// float8 e4m3 (torch `float8_e4m3fn`).
    F8E4M3,
    /// float8 e5m2.
    F8E5M2,
    /// float8 e4m3 fnuz.
    F8E4M3Fnuz,
    /// float8 e5m2 fnuz.
    F8E5M2Fnuz,
    /// float8 e8m0 (scales).
    F8E8M0,
    /// 4-bit float (e2m1).
    F4,
    /// 6-bit float e2m3.
    F6E2M3,
    /// 6-bit float e3m2.
    F6E3M2,
    /// Complex of two f32.
    C64,
    /// Complex of two f64.
    C128,
    /// A block-quantised type, by its format's name (e.g. GGUF `Q4_K`).
    Quant(Box<str>),
    /// A type the parser did not know, by the name or number the file used.
    Other(Box<str>),
}

impl Dtype {
    /// The safetensors spelling (`F16`, `BF16`, `F8_E4M3`, …), or the quant/other name.
    pub fn name(&self) -> &str {
        match self {
            Dtype::Bool => "BOOL",
            Dtype::U8 => "U8",
            Dtype::I8 => "I8",
            Dtype::U16 => "U16",
            Dtype::I16 => "I16",
            Dtype::U32 => "U32",
            Dtype::I32 => "I32",
            Dtype::U64 => "U64",
            Dtype::I64 => "I64",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::F8E4M3 => "F8_E4M3",
            Dtype::F8E5M2 => "F8_E5M2",
            Dtype::F8E4M3Fnuz => "F8_E4M3FNUZ",
            Dtype::F8E5M2Fnuz => "F8_E5M2FNUZ",
            Dtype::F8E8M0 => "F8_E8M0",
            Dtype::F4 => "F4",
            Dtype::F6E2M3 => "F6_E2M3",
            Dtype::F6E3M2 => "F6_E3M2",
            Dtype::C64 => "C64",
            Dtype::C128 => "C128",
            Dtype::Quant(n) | Dtype::Other(n) => n,
        }
    }

    /// Parses a safetensors dtype string; unknown strings become [`Dtype::Other`].
    pub fn from_safetensors(s: &str) -> Dtype {
        match s {
            "BOOL" => Dtype::Bool,
            "U8" => Dtype::U8,
            "I8" => Dtype::I8,
            "U16" => Dtype::U16,
            "I16" => Dtype::I16,
            "U32" => Dtype::U32,
            "I32" => Dtype::I32,
            "U64" => Dtype::U64,
            "I64" => Dtype::I64,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "F32" => Dtype::F32,
            "F64" => Dtype::F64,
            "F8_E4M3" => Dtype::F8E4M3,
            "F8_E5M2" => Dtype::F8E5M2,
            "F8_E4M3FNUZ" => Dtype::F8E4M3Fnuz,
            "F8_E5M2FNUZ" => Dtype::F8E5M2Fnuz,
            "F8_E8M0" => Dtype::F8E8M0,
            "F4" => Dtype::F4,
            "F6_E2M3" => Dtype::F6E2M3,
            "F6_E3M2" => Dtype::F6E3M2,
            "C64" => Dtype::C64,
            "C128" => Dtype::C128,
            other => Dtype::Other(other.into()),
        }
    }

    /// Bits per element for element-wise types; `None` for block-quantised and unknown types.
    pub fn bits(&self) -> Option<u32> {
        Some(match self {
            Dtype::F4 => 4,
            Dtype::F6E2M3 | Dtype::F6E3M2 => 6,
            Dtype::Bool
            | Dtype::U8
            | Dtype::I8
            | Dtype::F8E4M3
            | Dtype::F8E5M2
            | Dtype::F8E4M3Fnuz
            | Dtype::F8E5M2Fnuz
            | Dtype::F8E8M0 => 8,
            Dtype::U16 | Dtype::I16 | Dtype::F16 | Dtype::BF16 => 16,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 32,
            Dtype::U64 | Dtype::I64 | Dtype::F64 | Dtype::C64 => 64,
            Dtype::C128 => 128,
            Dtype::Quant(_) | Dtype::Other(_) => return None,
        })
    }

    /// The MIR database's precision entry for this type, as `(series, compat)` of
    /// `ops.precision.<series>:<compat>` (SPEC-notes §1.5), e.g. `F16` → `("float", "F16")`.
    pub fn mir_precision(&self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Dtype::F16 => ("float", "F16"),
            Dtype::F32 => ("float", "F32"),
            Dtype::F64 => ("float", "F64"),
            Dtype::BF16 => ("bfloat", "B16"),
            Dtype::F8E4M3 => ("float", "F8_E4M3"),
            Dtype::F8E5M2 => ("float", "F8_E5M2"),
            Dtype::F8E4M3Fnuz => ("float", "F8_E4M3FNUZ"),
            Dtype::F8E5M2Fnuz => ("float", "F8_E5M2FNUZ"),
            Dtype::F8E8M0 => ("float", "F8_E8M0FNU"),
            Dtype::F4 => ("float", "F8_E2M1"),
            Dtype::I8 => ("int", "I8"),
            Dtype::I16 => ("int", "I16"),
            Dtype::I32 => ("int", "I32"),
            Dtype::I64 => ("int", "I64"),
            Dtype::U8 => ("uint", "U8"),
            Dtype::U16 => ("uint", "U16"),
            Dtype::U32 => ("uint", "U32"),
            Dtype::U64 => ("uint", "U64"),
            Dtype::Bool => ("bool", "Bbool"),
            Dtype::C64 => ("complex", "C64"),
            Dtype::C128 => ("complex", "C128"),
            Dtype::F6E2M3 | Dtype::F6E3M2 | Dtype::Quant(_) | Dtype::Other(_) => return None,
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_names_round_trip() {
        for name in [
            "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64", "F16", "BF16", "F32",
            "F64", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0", "F4", "F6_E2M3",
            "F6_E3M2", "C64", "C128",
        ] {
            let d = Dtype::from_safetensors(name);
            assert!(!matches!(d, Dtype::Other(_)), "{name} should be known");
            assert_eq!(d.name(), name);
        }
        assert_eq!(
            Dtype::from_safetensors("F8_E4M3FN"),
            Dtype::Other("F8_E4M3FN".into())
        );
    }

    #[test]
    fn precision_entries_follow_the_database() {
        assert_eq!(Dtype::BF16.mir_precision(), Some(("bfloat", "B16")));
        assert_eq!(Dtype::F16.mir_precision(), Some(("float", "F16")));
        assert_eq!(Dtype::Quant("Q4_K".into()).mir_precision(), None);
    }
}
