//! The MIR ID type: `mir:<domain>.<arch>.<series>[:<compat>]`.
//!
//! # Brief overview
//!
//! A [`MirId`] names a machine-intelligence resource from broad (domain) to narrow (compat).
//! Two spellings exist and both parse:
//!
//! * the URI form that `mir` emits, `mir:model.unet.stable-diffusion-xl:base`;
//! * the database form of the published MIR databases, a dotted key `info.dit.flux-1-dev` with the
//!   compat kept apart (`*` is the database's "base entry" compat and means "no compat").
//!
//! The grammar follows the MIR project's code (darkshapes/nnll, its `mir` package): the domain is the text
//! before the first `.`, the arch the text up to the second `.`, and the series the rest up to `:`,
//! so a series may itself contain dots (`outetts-1.0-0`). A compat may contain `.`, `_`, upper case
//! and `*` (`F8_E4M3`, `shuttle-3.1-aesthetic`). No field may contain `:` or whitespace.
//!
//! IDs that `mir` itself emits for weight files are *canonical*: every field is lowercase ASCII,
//! digits and `-` ([`MirId::is_canonical`]). [`MirId::new`] builds only canonical IDs;
//! [`MirId::parse`] accepts everything the databases contain.
//!
//! ```
//! use mir_id::{Domain, MirId};
//! let id: MirId = "mir:model.lora.hyper:flux-1".parse().unwrap();
//! assert_eq!(id.domain(), Domain::Model);
//! assert_eq!(id.arch(), "lora");
//! assert_eq!(id.series(), "hyper");
//! assert_eq!(id.compat(), Some("flux-1"));
//! assert_eq!(id.to_string(), "mir:model.lora.hyper:flux-1");
//! assert!(id.is_canonical());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;

/// The broadest part of an ID: what kind of resource it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Domain {
    /// Pre-release or unevaluated files, and files whose architecture is known but series is not.
    Dev,
    /// Released weight files.
    Model,
    /// Algorithms and library functions (`ops`, also spelt `operations`).
    Ops,
    /// Static metadata with an ID in the MIR database.
    Info,
}

impl Domain {
    /// The spelling used in IDs (`operations` is written `ops`).
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Dev => "dev",
            Domain::Model => "model",
            Domain::Ops => "ops",
            Domain::Info => "info",
        }
    }
}

impl FromStr for Domain {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "dev" => Ok(Domain::Dev),
            "model" => Ok(Domain::Model),
            "ops" | "operations" => Ok(Domain::Ops),
            "info" => Ok(Domain::Info),
            other => Err(ParseError::UnknownDomain(other.to_owned())),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a MIR ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The string is empty (after an optional `mir:` prefix).
    #[error("empty MIR ID")]
    Empty,
    /// The domain is not one of `dev`, `model`, `ops`/`operations`, `info`.
    #[error("unknown domain {0:?} (expected dev, model, ops or info)")]
    UnknownDomain(String),
    /// Fewer than three dotted fields before the compat.
    #[error("{0:?} has no {1} field (expected domain.arch.series)")]
    MissingField(String, &'static str),
    /// A field is empty, e.g. `model..x`.
    #[error("the {0} field is empty")]
    EmptyField(&'static str),
    /// A field holds a character the grammar does not allow there.
    #[error("the {field} field {value:?} contains {ch:?}, which is not allowed there")]
    BadChar {
        /// Which field.
        field: &'static str,
        /// The field's text.
        value: String,
        /// The first offending character.
        ch: char,
    },
    /// More than one `:` after the `mir:` prefix.
    #[error("more than one ':' separates series and compat")]
    ExtraColon,
}

/// A parsed MIR ID. Cheap to clone; compare and hash by value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MirId {
    domain: Domain,
    arch: String,
    series: String,
    compat: Option<String>,
}

/// Which characters a field may hold.
#[derive(Clone, Copy)]
enum Charset {
    /// `[a-z0-9-]`: what `mir` emits (IDS.md).
    Canonical,
    /// Arch: `[a-z0-9-_]` lowercase (the databases only ever use lowercase arch codes).
    Arch,
    /// Series of a database key: lowercase plus `.`, `_`, `*` (the generator's bugs leave these).
    Series,
    /// Compat: anything printable except `:` and whitespace.
    Compat,
}

fn check_field(field: &'static str, value: &str, charset: Charset) -> Result<(), ParseError> {
    if value.is_empty() {
        return Err(ParseError::EmptyField(field));
    }
    let ok = |c: char| match charset {
        Charset::Canonical => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        Charset::Arch => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_',
        Charset::Series => {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.' | '*' | '+')
        }
        Charset::Compat => !c.is_whitespace() && !c.is_control() && c != ':',
    };
    match value.chars().find(|&c| !ok(c)) {
        Some(ch) => Err(ParseError::BadChar {
            field,
            value: value.to_owned(),
            ch,
        }),
        None => Ok(()),
    }
}

fn is_canonical_field(value: &str) -> bool {
    check_field("", value, Charset::Canonical).is_ok()
}

impl MirId {
    /// Builds a canonical ID (`[a-z0-9-]` in every field), as `mir` emits for weight files.
    pub fn new(
        domain: Domain,
        arch: &str,
        series: &str,
        compat: Option<&str>,
    ) -> Result<Self, ParseError> {
        check_field("arch", arch, Charset::Canonical)?;
        check_field("series", series, Charset::Canonical)?;
        if let Some(c) = compat {
            check_field("compat", c, Charset::Canonical)?;
        }
        Ok(Self::from_parts_unchecked(domain, arch, series, compat))
    }

    /// Builds an ID with the database's looser grammar (series may hold `.`, compat upper case,
    /// `_`, `.` and `*`), e.g. `mir:ops.precision.float:F8_E4M3`.
    pub fn new_lenient(
        domain: Domain,
        arch: &str,
        series: &str,
        compat: Option<&str>,
    ) -> Result<Self, ParseError> {
        check_field("arch", arch, Charset::Arch)?;
        check_field("series", series, Charset::Series)?;
        if let Some(c) = compat {
            check_field("compat", c, Charset::Compat)?;
        }
        Ok(Self::from_parts_unchecked(domain, arch, series, compat))
    }

    fn from_parts_unchecked(
        domain: Domain,
        arch: &str,
        series: &str,
        compat: Option<&str>,
    ) -> Self {
        MirId {
            domain,
            arch: arch.to_owned(),
            series: series.to_owned(),
            compat: compat.map(str::to_owned),
        }
    }

    /// Parses `mir:domain.arch.series[:compat]` or the bare `domain.arch.series[:compat]`.
    ///
    /// The database's `*` compat (its base entry) parses as "no compat".
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let body = s.strip_prefix("mir:").unwrap_or(s);
        if body.is_empty() {
            return Err(ParseError::Empty);
        }
        let (key, compat) = match body.split_once(':') {
            Some((_, c)) if c.contains(':') => return Err(ParseError::ExtraColon),
            Some((k, c)) => (k, Some(c)),
            None => (body, None),
        };
        let compat = compat.filter(|c| *c != "*");
        Self::from_db_key(key, compat)
    }

    /// Builds an ID from a database key (`info.dit.flux-1-dev`) and its compat entry
    /// (`None` or `Some("*")` for the base entry).
    pub fn from_db_key(key: &str, compat: Option<&str>) -> Result<Self, ParseError> {
        let mut parts = key.splitn(3, '.');
        let domain = parts.next().unwrap_or_default();
        let arch = parts
            .next()
            .ok_or_else(|| ParseError::MissingField(key.to_owned(), "arch"))?;
        let series = parts
            .next()
            .ok_or_else(|| ParseError::MissingField(key.to_owned(), "series"))?;
        if domain.is_empty() {
            return Err(ParseError::EmptyField("domain"));
        }
        let domain: Domain = domain.parse()?;
        Self::new_lenient(domain, arch, series, compat.filter(|c| *c != "*"))
    }

    /// The domain (`model`, `dev`, `ops`, `info`).
    pub fn domain(&self) -> Domain {
        self.domain
    }
    /// The architecture code (`unet`, `dit`, `lora`, `vae`, `art`, …).
    pub fn arch(&self) -> &str {
        &self.arch
    }
    /// The series (`stable-diffusion-xl`, `flux-1-dev`, …).
    pub fn series(&self) -> &str {
        &self.series
    }
    /// The compat, if the evidence decided one (`base`, `refiner`, `flux-1-dev`, `q4-k-m`, …).
    pub fn compat(&self) -> Option<&str> {
        self.compat.as_deref()
    }

    /// The database key `domain.arch.series`, without the `mir:` prefix or compat.
    pub fn db_key(&self) -> String {
        format!("{}.{}.{}", self.domain, self.arch, self.series)
    }

    /// The same ID with another compat (`None` removes it). The new compat is checked with the
    /// lenient grammar.
    pub fn with_compat(&self, compat: Option<&str>) -> Result<Self, ParseError> {
        Self::new_lenient(self.domain, &self.arch, &self.series, compat)
    }

    /// The same ID in another domain (e.g. a database `info` entry named as a `model` file).
    pub fn with_domain(&self, domain: Domain) -> Self {
        MirId {
            domain,
            ..self.clone()
        }
    }

    /// True when every field is lowercase ASCII, digits and `-` (the IDs `mir` emits for files).
    pub fn is_canonical(&self) -> bool {
        is_canonical_field(&self.arch)
            && is_canonical_field(&self.series)
            && self.compat.as_deref().is_none_or(is_canonical_field)
    }
}

impl FromStr for MirId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        MirId::parse(s)
    }
}

impl fmt::Display for MirId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mir:{}.{}.{}", self.domain, self.arch, self.series)?;
        if let Some(c) = &self.compat {
            write!(f, ":{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_uri_and_db_forms() {
        let a = MirId::parse("mir:model.unet.stable-diffusion-xl:base").unwrap();
        let b = MirId::parse("model.unet.stable-diffusion-xl:base").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.db_key(), "model.unet.stable-diffusion-xl");
        let star = MirId::parse("info.dit.flux-1-dev:*").unwrap();
        assert_eq!(star.compat(), None);
        assert_eq!(star.to_string(), "mir:info.dit.flux-1-dev");
    }

    #[test]
    fn series_may_hold_dots_and_compat_upper_case() {
        let id = MirId::from_db_key("info.artm.outetts-1.0-0", Some("*")).unwrap();
        assert_eq!(id.arch(), "artm");
        assert_eq!(id.series(), "outetts-1.0-0");
        assert!(!id.is_canonical());
        let p = MirId::parse("mir:ops.precision.float:F8_E4M3").unwrap();
        assert_eq!(p.compat(), Some("F8_E4M3"));
        assert!(!p.is_canonical());
        assert_eq!(
            MirId::parse("operations.precision.bfloat:B16")
                .unwrap()
                .domain(),
            Domain::Ops
        );
    }

    #[test]
    fn rejects_bad_ids_with_specific_errors() {
        assert_eq!(MirId::parse("mir:"), Err(ParseError::Empty));
        assert!(matches!(
            MirId::parse("mir:nope.unet.x"),
            Err(ParseError::UnknownDomain(d)) if d == "nope"
        ));
        assert!(matches!(
            MirId::parse("model.unet"),
            Err(ParseError::MissingField(_, "series"))
        ));
        assert_eq!(
            MirId::parse("model..x"),
            Err(ParseError::EmptyField("arch"))
        );
        assert_eq!(MirId::parse("model.a.b:c:d"), Err(ParseError::ExtraColon));
        assert!(matches!(
            MirId::parse("model.unet.Stable"),
            Err(ParseError::BadChar {
                field: "series",
                ch: 'S',
                ..
            })
        ));
        assert!(matches!(
            MirId::new(Domain::Model, "unet", "sd", Some("F16")),
            Err(ParseError::BadChar {
                field: "compat",
                ..
            })
        ));
        assert!(matches!(
            MirId::parse("model.unet.x:a b"),
            Err(ParseError::BadChar {
                field: "compat",
                ch: ' ',
                ..
            })
        ));
    }

    fn canonical_field() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9-]{0,20}"
    }

    fn domain() -> impl Strategy<Value = Domain> {
        prop_oneof![
            Just(Domain::Dev),
            Just(Domain::Model),
            Just(Domain::Ops),
            Just(Domain::Info)
        ]
    }

    proptest! {
        #[test]
        fn canonical_round_trip(d in domain(), a in canonical_field(), s in canonical_field(),
                                c in proptest::option::of(canonical_field())) {
            let id = MirId::new(d, &a, &s, c.as_deref()).unwrap();
            prop_assert!(id.is_canonical());
            let text = id.to_string();
            let back = MirId::parse(&text).unwrap();
            prop_assert_eq!(&back, &id);
            prop_assert_eq!(back.to_string(), text);
        }

        #[test]
        fn lenient_round_trip(d in domain(), a in "[a-z][a-z0-9_]{0,8}",
                              s in "[a-z0-9][a-z0-9.*_-]{0,20}",
                              c in proptest::option::of("[A-Za-z0-9][A-Za-z0-9._*-]{0,12}")) {
            prop_assume!(c.as_deref() != Some("*"));
            let id = MirId::new_lenient(d, &a, &s, c.as_deref()).unwrap();
            let back: MirId = id.to_string().parse().unwrap();
            prop_assert_eq!(back, id);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = MirId::parse(&s);
        }
    }
}
