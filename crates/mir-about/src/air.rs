//! civitai's AIR names (`urn:air:<ecosystem>:<type>:civitai:<model>@<version>`) for MIR IDs,
//! from the data table `air.toml` (embedded; documented in `docs/air.md`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::CivitaiIds;

/// The ecosystem and type used when the table has no row.
pub const OTHER: &str = "other";

/// A file's AIR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Air {
    /// The ecosystem (`sd1`, `sdxl`, `flux1`, …, `other`).
    pub ecosystem: String,
    /// The resource type (`checkpoint`, `lora`, `embedding`, `vae`, `controlnet`, `upscaler`,
    /// `other`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The full URN, when a sidecar gives civitai's model (and version) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urn: Option<String>,
}

/// Why an AIR table did not load.
#[derive(Debug, thiserror::Error)]
pub enum AirError {
    /// Not TOML of the expected shape.
    #[error("AIR table: {0}")]
    Toml(#[from] toml::de::Error),
}

/// The mapping table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct AirTable {
    /// MIR base series → AIR ecosystem.
    pub ecosystem: BTreeMap<String, String>,
    /// MIR arch or `arch.series` → AIR type.
    #[serde(rename = "type")]
    pub kind: BTreeMap<String, String>,
}

/// The table's text, embedded.
pub const BUILTIN: &str = include_str!("../air.toml");

impl AirTable {
    /// Parses a table.
    pub fn parse(text: &str) -> Result<AirTable, AirError> {
        Ok(toml::from_str(text)?)
    }

    /// The built-in table (`air.toml`). A test proves it parses.
    pub fn builtin() -> &'static AirTable {
        static T: OnceLock<AirTable> = OnceLock::new();
        T.get_or_init(|| AirTable::parse(BUILTIN).unwrap_or_default())
    }

    /// The AIR of a MIR ID (`mir:model.lora.lora:flux-1-dev` → flux1/lora), with the URN when
    /// `civitai` ids are known. `None` for text that is not a MIR ID.
    pub fn for_mir(&self, mir: &str, civitai: Option<CivitaiIds>) -> Option<Air> {
        let body = mir.strip_prefix("mir:")?;
        let (path, compat) = match body.split_once(':') {
            Some((p, c)) => (p, Some(c).filter(|c| !c.is_empty())),
            None => (body, None),
        };
        let mut parts = path.splitn(3, '.');
        let _domain = parts.next()?;
        let arch = parts.next()?;
        let series = parts.next().unwrap_or("");
        let kind = self
            .kind
            .get(&format!("{arch}.{series}"))
            .or_else(|| self.kind.get(arch))
            .map_or(OTHER, String::as_str);
        let base = match (arch, compat) {
            ("unet" | "dit", _) | (_, None) => series,
            (_, Some(c)) => c,
        };
        let ecosystem = self.ecosystem.get(base).map_or(OTHER, String::as_str);
        let urn = civitai.map(|ids| urn(ecosystem, kind, ids));
        Some(Air {
            ecosystem: ecosystem.to_owned(),
            kind: kind.to_owned(),
            urn,
        })
    }

    /// The MIR bases that map to `ecosystem` (the reverse direction).
    pub fn bases_of(&self, ecosystem: &str) -> Vec<&str> {
        self.ecosystem
            .iter()
            .filter(|(_, e)| e.as_str() == ecosystem)
            .map(|(b, _)| b.as_str())
            .collect()
    }

    /// The MIR arch (or `arch.series`) keys that map to `kind` (the reverse direction).
    pub fn arches_of(&self, kind: &str) -> Vec<&str> {
        self.kind
            .iter()
            .filter(|(_, k)| k.as_str() == kind)
            .map(|(a, _)| a.as_str())
            .collect()
    }
}

/// `urn:air:<ecosystem>:<type>:civitai:<model>[@<version>]`.
pub fn urn(ecosystem: &str, kind: &str, ids: CivitaiIds) -> String {
    match ids.version_id {
        Some(v) => format!("urn:air:{ecosystem}:{kind}:civitai:{}@{v}", ids.model_id),
        None => format!("urn:air:{ecosystem}:{kind}:civitai:{}", ids.model_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn air(id: &str) -> (String, String) {
        let a = AirTable::builtin().for_mir(id, None).unwrap();
        (a.ecosystem, a.kind)
    }

    #[test]
    fn builtin_table_parses_and_maps() {
        let t = AirTable::parse(BUILTIN).unwrap();
        assert_eq!(&t, AirTable::builtin());
        let p = |e: &str, k: &str| (e.to_owned(), k.to_owned());
        assert_eq!(
            air("mir:model.unet.stable-diffusion-v1"),
            p("sd1", "checkpoint")
        );
        assert_eq!(
            air("mir:model.unet.stable-diffusion-xl:refiner"),
            p("sdxl", "checkpoint")
        );
        assert_eq!(air("mir:model.dit.flux-1-dev"), p("flux1", "checkpoint"));
        assert_eq!(air("mir:model.lora.lora:flux-1-dev"), p("flux1", "lora"));
        assert_eq!(
            air("mir:model.vae.kl:stable-diffusion-xl"),
            p("sdxl", "vae")
        );
        assert_eq!(
            air("mir:model.embedding.textual-inversion:stable-diffusion-2"),
            p("sd2", "embedding")
        );
        assert_eq!(
            air("mir:model.controlnet.controlnet:stable-diffusion-3"),
            p("sd3", "controlnet")
        );
        assert_eq!(air("mir:model.gan.esrgan:x4"), p("other", "upscaler"));
        // An AnimateDiff motion module is a LoRA-arch file but not a civitai LoRA.
        assert_eq!(
            air("mir:model.lora.animatediff:stable-diffusion-v1"),
            p("sd1", "other")
        );
        assert_eq!(air("mir:dev.dit.unknown"), p("other", "checkpoint"));
        assert_eq!(air("mir:model.art.llama"), p("other", "other"));
        // Must NOT be named as another ecosystem.
        assert_ne!(air("mir:model.unet.stable-diffusion-2").0, "sd1");
        assert!(AirTable::builtin().for_mir("not an id", None).is_none());
    }

    #[test]
    fn one_to_one_rows_round_trip() {
        let t = AirTable::builtin();
        let mut checked = 0;
        for eco in t.ecosystem.values() {
            let bases = t.bases_of(eco);
            if let [base] = bases.as_slice() {
                // ecosystem -> the one base -> a denoiser of that base -> the ecosystem again
                let back = t.for_mir(&format!("mir:model.unet.{base}"), None).unwrap();
                assert_eq!(&back.ecosystem, eco);
                checked += 1;
            }
        }
        assert!(checked >= 4, "sd1, sd2, sdxl, sd3 are one-to-one");
        for kind in ["lora", "embedding", "vae", "controlnet", "upscaler"] {
            let arches = t.arches_of(kind);
            assert_eq!(arches.len(), 1, "{kind}");
            let key = arches[0];
            let id = match key.split_once('.') {
                Some((a, s)) => format!("mir:model.{a}.{s}:stable-diffusion-xl"),
                None => format!("mir:model.{key}.x:stable-diffusion-xl"),
            };
            assert_eq!(t.for_mir(&id, None).unwrap().kind, kind, "{id}");
        }
        assert_eq!(t.arches_of("checkpoint"), vec!["dit", "unet"]);
    }

    #[test]
    fn docs_list_every_row() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/air.md"),
        )
        .unwrap();
        let t = AirTable::builtin();
        let rows = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("| `{k}` | `{v}` |"))
                .collect::<Vec<_>>()
        };
        let mut want = rows(&t.ecosystem);
        want.extend(rows(&t.kind));
        for row in &want {
            assert!(doc.contains(row.as_str()), "docs/air.md lacks {row}");
        }
        let listed = doc.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(
            listed,
            want.len(),
            "docs/air.md lists rows air.toml does not have"
        );
    }

    #[test]
    fn urn_with_ids() {
        let a = AirTable::builtin()
            .for_mir(
                "mir:model.lora.lora:stable-diffusion-xl",
                Some(CivitaiIds {
                    model_id: 123,
                    version_id: Some(456),
                }),
            )
            .unwrap();
        assert_eq!(a.urn.as_deref(), Some("urn:air:sdxl:lora:civitai:123@456"));
        assert_eq!(
            urn(
                "sd1",
                "checkpoint",
                CivitaiIds {
                    model_id: 9,
                    version_id: None
                }
            ),
            "urn:air:sd1:checkpoint:civitai:9"
        );
    }
}
