//! The typed summary of a library: one [`FileRow`] per record, totals, duplicate groups,
//! abstentions and misplaced files. Computed from records as JSON values, so it depends only on
//! field names (and works on older records without the optional fields).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::folders::{self, FolderRule};

/// A confidence at or below this does not look identified (a two-way tie is 0.6); the same
/// threshold as `mir scan`'s table.
pub const UNSURE_CONFIDENCE: f64 = 0.6;

/// Kinds whose series names a technique and whose compat part names the base model they attach
/// to (`mir:model.lora.lora:stable-diffusion-xl`, `mir:model.vae.kl:flux-1-dev`).
const ATTACHED_KINDS: &[&str] = &["lora", "controlnet", "adapter", "embedding", "vae"];

/// The label of files without a value for a tally (no ID, no base, no precision).
pub const NONE_LABEL: &str = "(none)";

/// How sure `mir` is about a file (the same words as `mir scan`'s table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// One ID, decided with confidence above [`UNSURE_CONFIDENCE`].
    Identified,
    /// Several candidates, or a confidence at or below [`UNSURE_CONFIDENCE`].
    Ambiguous,
    /// Only the architecture is known (`mir:dev.*`, `….unknown`).
    ArchitectureOnly,
    /// Read, but no ID (or no format at all).
    Unrecognised,
    /// Could not be read.
    Error,
}

impl Status {
    /// The status of a record from what it says: whether it has an error and a format, its ID,
    /// how many candidates it lists, and whether its confidence is at or below
    /// [`UNSURE_CONFIDENCE`]. The one rule behind both the page and `mir scan`'s table.
    pub fn decide(
        error: bool,
        has_format: bool,
        mir: Option<&str>,
        candidates: usize,
        unsure_confidence: bool,
    ) -> Status {
        if error {
            return Status::Error;
        }
        match mir {
            _ if !has_format => Status::Unrecognised,
            None if candidates == 0 => Status::Unrecognised,
            None => Status::Ambiguous,
            Some(id) if is_architecture_only(id) => Status::ArchitectureOnly,
            Some(_) if candidates > 1 || unsure_confidence => Status::Ambiguous,
            Some(_) => Status::Identified,
        }
    }

    /// The word shown on the page.
    pub fn word(self) -> &'static str {
        match self {
            Status::Identified => "ok",
            Status::Ambiguous => "ambiguous",
            Status::ArchitectureOnly => "arch-only",
            Status::Unrecognised => "unknown",
            Status::Error => "error",
        }
    }
}

/// One file of the library, as the page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct FileRow {
    /// The path as the record has it.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Container format, when read.
    pub format: Option<String>,
    /// The MIR ID, when decided.
    pub mir: Option<String>,
    /// The ID's kind (`lora`, `dit`, …), for `mir:model.*` and `mir:dev.*` IDs.
    pub kind: Option<String>,
    /// The model family the file belongs to (see the crate docs).
    pub family: Option<String>,
    /// The base model an adapter needs (from its ID, else from its metadata's `base_model`).
    pub base: Option<String>,
    /// The precision (`F16`, `BF16`, `Q4_K`, …).
    pub precision: Option<String>,
    /// How sure the identification is.
    pub status: Status,
    /// Confidence, 0 to 1.
    pub confidence: Option<f64>,
    /// Which evidence decided.
    pub decided_by: Option<String>,
    /// The evidence lines.
    pub evidence: Vec<String>,
    /// The candidate IDs of an ambiguous file.
    pub candidates: Vec<String>,
    /// Why the file could not be read.
    pub error: Option<String>,
    /// Security or damage findings.
    pub findings: Vec<String>,
    /// `about.title`.
    pub title: Option<String>,
    /// `about.author`.
    pub author: Option<String>,
    /// `about.trigger_words`, else `about.suggested_trigger_words` (kohya's most frequent tags).
    pub trigger_words: Vec<String>,
    /// True when `trigger_words` are only suggested (from training tags), not declared.
    pub triggers_suggested: bool,
    /// `adapter.rank` of a LoRA-like file.
    pub rank: Option<u64>,
    /// `packaging`.
    pub packaging: Vec<String>,
    /// `air.urn`, else `urn:air:<ecosystem>:<type>` from `air`.
    pub air: Option<String>,
    /// `preview`: the path of a preview image beside the file.
    pub preview: Option<String>,
    /// The model's kind when the file is part of a larger model (`diffusers`, `snapshot`,
    /// `shards`); `None` for a file alone.
    pub part_of: Option<String>,
}

impl FileRow {
    /// The row of one record. Missing or mistyped fields are read as absent.
    pub fn from_record(r: &Value) -> FileRow {
        let s = |key: &str| r.get(key).and_then(Value::as_str).map(str::to_owned);
        let strings = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let about = |name: &str| {
            r.get("about")
                .and_then(|a| a.get(name))
                .and_then(|e| e.get("value"))
        };
        let about_str = |name: &str| about(name).and_then(about_text);
        let mir = s("mir").filter(|m| !m.is_empty());
        let parts = mir.as_deref().map(IdParts::of);
        let kind = parts.as_ref().and_then(|p| p.kind.clone());
        let attached = kind.as_deref().is_some_and(|k| ATTACHED_KINDS.contains(&k));
        let family = parts.as_ref().and_then(|p| {
            if p.dev {
                return None;
            }
            match (&p.compat, attached) {
                (Some(c), true) => Some(c.clone()),
                _ => p.series.clone(),
            }
        });
        let base = parts
            .as_ref()
            .filter(|p| attached && !p.dev)
            .and_then(|p| p.compat.clone())
            .or_else(|| about_str("base_model"));
        let precision = s("precision").map(|p| match p.rsplit_once(':') {
            Some((_, tail)) if !tail.is_empty() => tail.to_owned(),
            _ => p,
        });
        let air = r.get("air").and_then(|a| {
            a.get("urn")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    let eco = a.get("ecosystem").and_then(Value::as_str)?;
                    let ty = a.get("type").and_then(Value::as_str)?;
                    Some(format!("urn:air:{eco}:{ty}"))
                })
        });
        let part_of = r
            .get("model")
            .and_then(|m| m.get("kind"))
            .and_then(Value::as_str)
            .filter(|k| *k != "file")
            .map(str::to_owned);
        let mut row = FileRow {
            path: s("path").unwrap_or_default(),
            size: r.get("size").and_then(Value::as_u64).unwrap_or(0),
            format: s("format"),
            mir,
            kind,
            family,
            base,
            precision,
            status: Status::Identified,
            confidence: r.get("confidence").and_then(Value::as_f64),
            decided_by: s("decided_by"),
            evidence: strings(r.get("evidence")),
            candidates: strings(r.get("candidates")),
            error: s("error"),
            findings: strings(r.get("findings")),
            title: about_str("title"),
            author: about_str("author"),
            trigger_words: Vec::new(),
            triggers_suggested: false,
            rank: r
                .get("adapter")
                .and_then(|a| a.get("rank"))
                .and_then(Value::as_u64),
            packaging: strings(r.get("packaging")),
            air,
            preview: s("preview"),
            part_of,
        };
        let words = |name: &str| -> Vec<String> {
            about(name)
                .map(|v| match v {
                    Value::String(t) => vec![t.clone()],
                    other => strings(Some(other)),
                })
                .unwrap_or_default()
        };
        row.trigger_words = words("trigger_words");
        if row.trigger_words.is_empty() {
            row.trigger_words = words("suggested_trigger_words");
            row.triggers_suggested = !row.trigger_words.is_empty();
        }
        row.status = row.compute_status();
        row
    }

    fn compute_status(&self) -> Status {
        Status::decide(
            self.error.is_some(),
            self.format.is_some(),
            self.mir.as_deref(),
            self.candidates.len(),
            self.confidence.is_some_and(|c| c <= UNSURE_CONFIDENCE),
        )
    }

    /// The file's name (the last part of its path).
    pub fn name(&self) -> &str {
        self.path
            .rsplit(['/', '\\'])
            .find(|p| !p.is_empty())
            .unwrap_or(&self.path)
    }

    /// The folder part of the path (everything before the name), possibly empty.
    pub fn folder(&self) -> &str {
        let name = self.name();
        match self.path.rfind(name) {
            Some(i) => &self.path[..i],
            None => "",
        }
    }
}

/// A metadata value as text: strings as they are, numbers and booleans written out; arrays and
/// objects are not text.
fn about_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `mir:dev.dit.unknown`-style IDs: the architecture is known, the model is not.
fn is_architecture_only(id: &str) -> bool {
    let base = id.strip_prefix("mir:").unwrap_or(id);
    let base = base.split(':').next().unwrap_or(base);
    base.starts_with("dev.") || base.ends_with(".unknown")
}

/// The parts of a MIR ID: `mir:<domain>.<kind>.<series>[:<compat>]`.
#[derive(Debug, Default)]
struct IdParts {
    dev: bool,
    kind: Option<String>,
    series: Option<String>,
    compat: Option<String>,
}

impl IdParts {
    fn of(id: &str) -> IdParts {
        let body = id.strip_prefix("mir:").unwrap_or(id);
        let (path, compat) = match body.split_once(':') {
            Some((p, c)) if !c.is_empty() => (p, Some(c.to_owned())),
            Some((p, _)) => (p, None),
            None => (body, None),
        };
        let mut parts = path.splitn(3, '.');
        let domain = parts.next().unwrap_or_default();
        let kind = parts.next().filter(|k| !k.is_empty()).map(str::to_owned);
        let series = parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
        IdParts {
            dev: domain == "dev" || series.as_deref() == Some("unknown"),
            kind: if domain == "model" || domain == "dev" {
                kind
            } else {
                None
            },
            series,
            compat,
        }
    }
}

/// Files and bytes under one label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The label (a family, kind, base or precision; [`NONE_LABEL`] for files without one).
    pub name: String,
    /// Files.
    pub files: usize,
    /// Bytes.
    pub bytes: u64,
}

/// Files with identical content (proven by SHA-256 or BLAKE3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DupeGroup {
    /// The content hash (SHA-256, else BLAKE3).
    pub hash: String,
    /// The size of each copy.
    pub size: u64,
    /// Every path, sorted.
    pub paths: Vec<String>,
    /// What deleting all copies but one would free (hard links counted once).
    pub wasted_bytes: u64,
}

/// Files with the same tensor names and shapes in another precision or container: the same
/// architecture, not proven copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeGroup {
    /// The members as (path, size, format, precision), smallest first.
    pub files: Vec<(String, u64, Option<String>, Option<String>)>,
    /// True when hashes prove that members hold different content.
    pub proven_different: bool,
}

/// The duplicate part of the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Identical-content groups, most wasted first.
    pub identical: Vec<DupeGroup>,
    /// Sum of `wasted_bytes`.
    pub wasted_bytes: u64,
    /// Same-architecture groups (shown, never offered for deletion).
    pub same_shape: Vec<ShapeGroup>,
    /// Files whose content was not compared (no hash).
    pub unhashed: usize,
    /// How the groups were found, for the page.
    pub method: DupeMethod,
}

/// How duplicates were found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DupeMethod {
    /// `mir dupes`' workflow: files whose sizes collide were hashed.
    #[default]
    Hashed,
    /// From the hashes the records carry (`mir scan --json --hash sha256`).
    RecordHashes,
}

impl Duplicates {
    /// From `mir dupes`' report.
    pub fn from_report(report: &mir_index::DupeReport, method: DupeMethod) -> Duplicates {
        let lossy = |p: &PathBuf| p.to_string_lossy().into_owned();
        Duplicates {
            identical: report
                .identical
                .iter()
                .map(|g| DupeGroup {
                    hash: g
                        .sha256
                        .clone()
                        .or_else(|| g.blake3.clone())
                        .unwrap_or_default(),
                    size: g.size,
                    paths: g.paths.iter().map(lossy).collect(),
                    wasted_bytes: g.wasted_bytes,
                })
                .collect(),
            wasted_bytes: report.wasted_bytes,
            same_shape: report
                .same_shape
                .iter()
                .map(|g| ShapeGroup {
                    files: g
                        .files
                        .iter()
                        .map(|m| {
                            (
                                lossy(&m.path),
                                m.size,
                                m.format.clone(),
                                m.precision.clone(),
                            )
                        })
                        .collect(),
                    proven_different: g.proven_different,
                })
                .collect(),
            unhashed: report.unhashed,
            method,
        }
    }

    /// From the whole-file hashes in the records themselves (`--from records.jsonl`), grouped by
    /// `mir dupes`' own grouping. Records carry no inode, so hard links listed as separate
    /// records would count as copies; `mir scan` reports a hard link as an alias of one record.
    pub fn from_records(records: &[Value]) -> Duplicates {
        let files: Vec<mir_index::DupeFile> = records
            .iter()
            .filter(|r| r.get("error").is_none_or(Value::is_null))
            .filter_map(|r| {
                let path = r.get("path")?.as_str()?;
                let hash = |k: &str| {
                    r.get("hashes")
                        .and_then(|h| h.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                Some(mir_index::DupeFile {
                    path: PathBuf::from(path),
                    size: r.get("size").and_then(Value::as_u64).unwrap_or(0),
                    format: r.get("format").and_then(Value::as_str).map(str::to_owned),
                    precision: r
                        .get("precision")
                        .and_then(Value::as_str)
                        .map(|p| p.rsplit(':').next().unwrap_or(p).to_owned()),
                    shape_sig: r
                        .get("fingerprint")
                        .and_then(|f| f.get("shape_sig"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    sha256: hash("sha256").or_else(|| hash("file_256")),
                    blake3: hash("blake3"),
                    tensors: r.get("tensors").and_then(Value::as_u64),
                    ..mir_index::DupeFile::default()
                })
            })
            .collect();
        Duplicates::from_report(&mir_index::find_dupes(&files), DupeMethod::RecordHashes)
    }
}

/// A file in a folder meant for other kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misplaced {
    /// Index into [`Summary::files`].
    pub file: usize,
    /// The folder it sits in (as named on disk).
    pub folder: String,
    /// The apps whose layout names that folder.
    pub apps: Vec<&'static str>,
    /// The kinds that folder is meant for.
    pub meant_for: Vec<&'static str>,
    /// Folders meant for the file's kind.
    pub belongs_in: Vec<&'static str>,
}

/// Everything the page shows, computed once from the records.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Every file, in record order.
    pub files: Vec<FileRow>,
    /// Sum of the files' sizes.
    pub total_bytes: u64,
    /// Files and bytes per family, most bytes first.
    pub by_family: Vec<Tally>,
    /// Per kind, most files first.
    pub by_kind: Vec<Tally>,
    /// Per base model, most files first.
    pub by_base: Vec<Tally>,
    /// Per precision, most files first.
    pub by_precision: Vec<Tally>,
    /// Per status word.
    pub by_status: Vec<Tally>,
    /// Duplicate groups.
    pub duplicates: Duplicates,
    /// Indices of files `mir` abstained on (no ID, architecture only, ambiguous, unreadable).
    pub abstained: Vec<usize>,
    /// Files in a folder meant for another kind.
    pub misplaced: Vec<Misplaced>,
}

impl Summary {
    /// The summary of `records` (file records of `mir scan --json`) with `duplicates`.
    pub fn new(records: &[Value], duplicates: Duplicates) -> Summary {
        let files: Vec<FileRow> = records.iter().map(FileRow::from_record).collect();
        let total_bytes = files.iter().map(|f| f.size).fold(0u64, u64::saturating_add);
        let tally = |key: &dyn Fn(&FileRow) -> Option<String>, by_bytes: bool| {
            let mut map: BTreeMap<String, Tally> = BTreeMap::new();
            for f in &files {
                let name = key(f).unwrap_or_else(|| NONE_LABEL.to_owned());
                let t = map.entry(name.clone()).or_insert(Tally {
                    name,
                    files: 0,
                    bytes: 0,
                });
                t.files += 1;
                t.bytes = t.bytes.saturating_add(f.size);
            }
            let mut v: Vec<Tally> = map.into_values().collect();
            if by_bytes {
                v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
            } else {
                v.sort_by(|a, b| b.files.cmp(&a.files).then_with(|| a.name.cmp(&b.name)));
            }
            v
        };
        let by_family = tally(&|f| f.family.clone(), true);
        let by_kind = tally(&|f| f.kind.clone(), false);
        let by_base = tally(&|f| f.base.clone(), false);
        let by_precision = tally(&|f| f.precision.clone(), false);
        let by_status = tally(&|f| Some(f.status.word().to_owned()), false);
        let abstained = files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.status != Status::Identified)
            .map(|(i, _)| i)
            .collect();
        let misplaced = files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| misplaced(i, f))
            .collect();
        Summary {
            files,
            total_bytes,
            by_family,
            by_kind,
            by_base,
            by_precision,
            by_status,
            duplicates,
            abstained,
            misplaced,
        }
    }

    /// Files identified with one ID.
    pub fn identified(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.status == Status::Identified)
            .count()
    }
}

/// Whether file `i` sits in a folder meant for other kinds. Judged only for files with a
/// `mir:model.*` ID that are not a part of a larger model (a diffusers folder or a Hugging Face
/// snapshot keeps its `unet/`, `vae/`, `text_encoder/` together, wherever the model is), and
/// only under a folder the table names.
fn misplaced(i: usize, f: &FileRow) -> Option<Misplaced> {
    if f.error.is_some() || matches!(f.part_of.as_deref(), Some("diffusers" | "snapshot")) {
        return None;
    }
    let kind = f.kind.as_deref()?;
    if f.mir.as_deref().is_some_and(is_architecture_only)
        || !f.mir.as_deref()?.starts_with("mir:model.")
    {
        return None;
    }
    let (folder, rules) = folders::folder_of(&f.path)?;
    if rules.iter().any(|r| r.kinds.contains(&kind)) {
        return None;
    }
    let mut apps: Vec<&'static str> = rules.iter().map(|r: &&FolderRule| r.app).collect();
    apps.dedup();
    let mut meant_for: Vec<&'static str> =
        rules.iter().flat_map(|r| r.kinds.iter().copied()).collect();
    meant_for.sort_unstable();
    meant_for.dedup();
    Some(Misplaced {
        file: i,
        folder,
        apps,
        meant_for,
        belongs_in: folders::folders_for(kind),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(path: &str, mir: Option<&str>, size: u64) -> Value {
        json!({"path": path, "format": "safetensors", "size": size, "mir": mir,
               "candidates": [], "evidence": ["layout"], "precision": "mir:ops.precision.float:F16",
               "confidence": 0.95, "error": null})
    }

    #[test]
    fn rows_read_kind_family_base_precision() {
        let r = FileRow::from_record(&rec(
            "a/x.safetensors",
            Some("mir:model.lora.lora:stable-diffusion-xl"),
            1,
        ));
        assert_eq!(r.kind.as_deref(), Some("lora"));
        assert_eq!(r.family.as_deref(), Some("stable-diffusion-xl"));
        assert_eq!(r.base.as_deref(), Some("stable-diffusion-xl"));
        assert_eq!(r.precision.as_deref(), Some("F16"));
        assert_eq!(r.status, Status::Identified);
        assert_eq!(r.name(), "x.safetensors");
        assert_eq!(r.folder(), "a/");
        let r = FileRow::from_record(&rec(
            "m.safetensors",
            Some("mir:model.unet.stable-diffusion-xl:inpaint"),
            1,
        ));
        assert_eq!(r.family.as_deref(), Some("stable-diffusion-xl"));
        assert_eq!(r.base, None, "a variant is not a base");
        let r = FileRow::from_record(&rec("m.safetensors", Some("mir:dev.dit.unknown"), 1));
        assert_eq!(r.kind.as_deref(), Some("dit"));
        assert_eq!(r.family, None, "an unknown model has no family");
        assert_eq!(r.status, Status::ArchitectureOnly);
    }

    #[test]
    fn optional_fields_are_read_when_present_and_not_needed() {
        let mut v = rec("l.safetensors", Some("mir:model.lora.lora"), 5);
        v["about"] = json!({
            "title": {"value": "My <b>LoRA</b>", "source": "modelspec.title"},
            "trigger_words": {"value": ["foo", "bar"], "source": "ss_tag_frequency"},
            "base_model": {"value": "SDXL 1.0", "source": "civitai.info:baseModel"}
        });
        v["air"] = json!({"ecosystem": "sdxl", "type": "lora"});
        v["packaging"] = json!(["scaled-fp8"]);
        v["adapter"] = json!({"rank": 16, "alpha": 8.0, "targets": ["unet"]});
        v["preview"] = json!("l.preview.png");
        let r = FileRow::from_record(&v);
        assert_eq!(r.title.as_deref(), Some("My <b>LoRA</b>"));
        assert_eq!(r.trigger_words, vec!["foo", "bar"]);
        assert!(!r.triggers_suggested);
        assert_eq!(r.rank, Some(16));
        assert_eq!(
            r.base.as_deref(),
            Some("SDXL 1.0"),
            "declared base when the ID has none"
        );
        assert_eq!(r.air.as_deref(), Some("urn:air:sdxl:lora"));
        assert_eq!(r.packaging, vec!["scaled-fp8"]);
        assert_eq!(r.preview.as_deref(), Some("l.preview.png"));
        v["about"] =
            json!({"suggested_trigger_words": {"value": ["tag1"], "source": "ss_tag_frequency"}});
        let r = FileRow::from_record(&v);
        assert_eq!(r.trigger_words, vec!["tag1"]);
        assert!(r.triggers_suggested);
        // Mistyped optional fields are ignored, not errors.
        v["about"] = json!("nonsense");
        v["packaging"] = json!(3);
        let r = FileRow::from_record(&v);
        assert_eq!(r.title, None);
        assert!(r.packaging.is_empty());
    }

    #[test]
    fn statuses_match_the_scan_table() {
        let mut v = rec("a", Some("mir:model.dit.flux-1-dev"), 1);
        v["candidates"] = json!([
            "mir:model.dit.flux-1-dev",
            "mir:model.dit.flux-1-kontext-dev"
        ]);
        assert_eq!(FileRow::from_record(&v).status, Status::Ambiguous);
        let mut v = rec("a", None, 1);
        assert_eq!(FileRow::from_record(&v).status, Status::Unrecognised);
        v["error"] = json!("truncated header");
        assert_eq!(FileRow::from_record(&v).status, Status::Error);
        let mut v = rec("a", Some("mir:model.dit.flux-1-dev"), 1);
        v["confidence"] = json!(0.6);
        assert_eq!(FileRow::from_record(&v).status, Status::Ambiguous);
    }

    #[test]
    fn totals_and_wasted_space() {
        let mut a = rec(
            "lib/loras/a.safetensors",
            Some("mir:model.lora.lora:stable-diffusion-xl"),
            100,
        );
        a["hashes"] = json!({"sha256": "aa"});
        let mut b = rec(
            "lib/loras/copy.safetensors",
            Some("mir:model.lora.lora:stable-diffusion-xl"),
            100,
        );
        b["hashes"] = json!({"sha256": "aa"});
        let mut c = rec(
            "lib/checkpoints/big.safetensors",
            Some("mir:model.dit.flux-1-dev"),
            1000,
        );
        c["hashes"] = json!({"sha256": "cc"});
        let d = rec("lib/x.safetensors", None, 7);
        let records = vec![a, b, c, d];
        let s = Summary::new(&records, Duplicates::from_records(&records));
        assert_eq!(s.total_bytes, 1207);
        assert_eq!(
            s.by_family[0],
            Tally {
                name: "flux-1-dev".into(),
                files: 1,
                bytes: 1000
            }
        );
        assert_eq!(
            s.by_family[1],
            Tally {
                name: "stable-diffusion-xl".into(),
                files: 2,
                bytes: 200
            }
        );
        assert_eq!(s.by_family[2].name, NONE_LABEL);
        assert_eq!(
            s.by_kind[0],
            Tally {
                name: "lora".into(),
                files: 2,
                bytes: 200
            }
        );
        assert_eq!(s.by_precision[0].files, 4);
        assert_eq!(s.duplicates.identical.len(), 1);
        assert_eq!(s.duplicates.wasted_bytes, 100);
        assert_eq!(
            s.duplicates.identical[0].paths,
            vec!["lib/loras/a.safetensors", "lib/loras/copy.safetensors"]
        );
        assert_eq!(s.duplicates.unhashed, 1);
        assert_eq!(s.abstained, vec![3]);
        assert_eq!(s.identified(), 3);
        assert!(s.misplaced.is_empty(), "{:?}", s.misplaced);
    }

    #[test]
    fn same_size_without_hashes_is_never_a_duplicate() {
        // Equal sizes and even equal layouts prove nothing: no group, nothing wasted.
        let mut a = rec(
            "a.safetensors",
            Some("mir:model.lora.lora:stable-diffusion-xl"),
            100,
        );
        a["fingerprint"] = json!({"shape_sig": "s1", "key_sig": "k"});
        let mut b = a.clone();
        b["path"] = json!("b.safetensors");
        let records = vec![a, b];
        let d = Duplicates::from_records(&records);
        assert!(d.identical.is_empty());
        assert_eq!(d.wasted_bytes, 0);
        assert_eq!(d.unhashed, 2);
        // Different hashes: not copies either.
        let mut a = records[0].clone();
        a["hashes"] = json!({"sha256": "1"});
        let mut b = records[1].clone();
        b["hashes"] = json!({"sha256": "2"});
        assert_eq!(Duplicates::from_records(&[a, b]).wasted_bytes, 0);
    }

    #[test]
    fn misplaced_files() {
        let records = vec![
            rec(
                "m/checkpoints/lora.safetensors",
                Some("mir:model.lora.lora:stable-diffusion-xl"),
                1,
            ),
            rec(
                "m/checkpoints/ok.safetensors",
                Some("mir:model.unet.stable-diffusion-xl"),
                1,
            ),
            rec(
                "m/loras/sub/ok.safetensors",
                Some("mir:model.lora.lora:flux-1-dev"),
                1,
            ),
            rec(
                "m/loras/vae.safetensors",
                Some("mir:model.vae.kl:stable-diffusion-xl"),
                1,
            ),
            // Not judged: no ID, an unknown architecture, no known folder.
            rec("m/loras/what.safetensors", None, 1),
            rec("m/loras/dev.safetensors", Some("mir:dev.dit.unknown"), 1),
            rec(
                "elsewhere/lora.safetensors",
                Some("mir:model.unet.stable-diffusion-xl"),
                1,
            ),
        ];
        let mut diffusers = rec(
            "m/checkpoints/pipe/vae/diffusion_pytorch_model.safetensors",
            Some("mir:model.vae.kl:stable-diffusion-xl"),
            1,
        );
        diffusers["model"] =
            json!({"path": "m/checkpoints/pipe", "kind": "diffusers", "component": "vae"});
        let mut records = records;
        records.push(diffusers);
        let s = Summary::new(&records, Duplicates::default());
        let got: Vec<(usize, &str)> = s
            .misplaced
            .iter()
            .map(|m| (m.file, m.folder.as_str()))
            .collect();
        assert_eq!(got, vec![(0, "checkpoints"), (3, "loras")]);
        let m = &s.misplaced[0];
        assert_eq!(m.apps, vec!["ComfyUI"]);
        assert_eq!(m.meant_for, vec!["dit", "unet"]);
        assert!(m.belongs_in.contains(&"loras"), "{:?}", m.belongs_in);
        assert!(!m.belongs_in.contains(&"checkpoints"));
    }
}
