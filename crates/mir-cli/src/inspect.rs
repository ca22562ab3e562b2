//! `mir inspect`: one file's header in detail.

use std::io::Write;

use mir_core::{Limits, MetaValue};
use mir_scan::about::{About, Adapter, Air};
use mir_scan::{
    ComponentRecord, CoverageRecord, DatabaseRecord, FingerprintRecord, Record, SidecarRecord,
};
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::output::{
    EXIT_UNREADABLE, EXIT_UNRECOGNISED, EXIT_USAGE, file_message, human_size, json_line, term,
    term_path,
};

#[derive(Serialize)]
struct Inspection<'a> {
    path: String,
    format: &'a str,
    size: u64,
    tensors: usize,
    parameters: u64,
    dtypes: Vec<DtypeShare>,
    metadata: serde_json::Map<String, serde_json::Value>,
    first_tensors: Vec<TensorLine<'a>>,
    findings: Vec<String>,
    fingerprint: FingerprintRecord,
    mir: Option<String>,
    candidates: Vec<String>,
    components: Vec<ComponentRecord>,
    evidence: Vec<String>,
    confidence: Option<f32>,
    decided_by: Option<String>,
    precision: Option<String>,
    database: Option<DatabaseRecord>,
    coverage: Option<CoverageRecord>,
    prediction: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    about: About,
    #[serde(skip_serializing_if = "Option::is_none")]
    adapter: Option<Adapter>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    packaging: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sidecars: Vec<SidecarRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preview: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    air: Option<Air>,
}

#[derive(Serialize)]
struct DtypeShare {
    dtype: String,
    parameters: u64,
}

#[derive(Serialize)]
struct TensorLine<'a> {
    name: &'a str,
    dtype: &'a str,
    shape: &'a [u64],
}

fn meta_json(v: &MetaValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        MetaValue::Str(s) => Value::String(s.clone()),
        MetaValue::Int(i) => Value::from(*i),
        MetaValue::UInt(u) => Value::from(*u),
        MetaValue::Float(f) => Value::from(*f),
        MetaValue::Bool(b) => Value::Bool(*b),
        MetaValue::Array(a) => Value::Array(a.iter().map(meta_json).collect()),
        MetaValue::Elided { element, len } => {
            serde_json::json!({ "elided_array": { "element": element, "len": len } })
        }
    }
}

pub(crate) fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let (registry, _plugins) = crate::plugins::registry(&args.plugins, false)?;
    let identifier = crate::identifier(&args.db)?;
    // The one analysis path a scan uses too (sibling config.json included), so a file reads the
    // same alone as in a scan.
    let analyser = mir_scan::Analyser::new(
        registry,
        identifier,
        Limits::default(),
        mir_scan::HashOptions::default(),
    );
    let report = analyser.analyse_path(&args.path, &[]);
    if let Some(e) = &report.error {
        eprintln!(
            "mir: {}",
            file_message(&args.path.to_string_lossy(), &e.message)
        );
        // Findings made before the error (a payload before the damage) go with it.
        for f in &report.findings {
            eprintln!("  ! {}", term(&f.to_record_text()));
        }
        return Ok(EXIT_UNREADABLE);
    }
    let facts = report.facts.as_ref();
    let (Some(index), Some(sigs)) = (
        facts.and_then(|f| f.index.as_ref()),
        facts.and_then(|f| f.signatures.as_ref()),
    ) else {
        eprintln!(
            "mir: {}: no format claims this file (its first bytes match none and its extension is not one a format reads)",
            term_path(&args.path)
        );
        return Ok(EXIT_UNRECOGNISED);
    };
    let size = report.size;
    let id = Record::from_report(&report);
    let limit = if args.all { usize::MAX } else { args.tensors };
    let view = Inspection {
        path: args.path.display().to_string(),
        format: &index.format,
        size,
        tensors: index.tensors.len(),
        parameters: index.parameters(),
        dtypes: index
            .dtype_profile()
            .into_iter()
            .map(|(d, n)| DtypeShare {
                dtype: d.name().to_owned(),
                parameters: n,
            })
            .collect(),
        metadata: index
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), meta_json(v)))
            .collect(),
        first_tensors: index
            .tensors
            .iter()
            .take(limit)
            .map(|t| TensorLine {
                name: &t.name,
                dtype: t.dtype.name(),
                shape: &t.shape,
            })
            .collect(),
        findings: report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.severity.as_str(), f.message))
            .collect(),
        fingerprint: FingerprintRecord::from(sigs),
        mir: id.mir,
        candidates: id.candidates,
        components: id.components,
        evidence: id.evidence,
        confidence: id.confidence,
        decided_by: id.decided_by,
        precision: id.precision,
        database: id.database,
        coverage: id.coverage,
        prediction: id.prediction,
        about: id.about,
        adapter: id.adapter,
        packaging: id.packaging,
        sidecars: id.sidecars,
        preview: id.preview,
        air: id.air,
    };
    if let Some(out) = &args.thumbnail
        && let Err(code) = write_thumbnail(&args.path, out, index)
    {
        return Ok(code);
    }

    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.json {
        json_line(&mut w, &view)?;
    } else {
        print_text(&mut w, &view)?;
    }
    w.flush()?;
    Ok(0)
}

/// `--thumbnail OUT`: decodes `modelspec.thumbnail` and writes it to `out`, never to the input.
fn write_thumbnail(
    input: &std::path::Path,
    out: &std::path::Path,
    index: &mir_core::TensorIndex,
) -> Result<(), u8> {
    use mir_scan::about::thumbnail::{ThumbnailError, decode};
    let uri = index
        .metadata
        .get("modelspec.thumbnail")
        .and_then(MetaValue::as_str);
    let thumb = uri.ok_or(ThumbnailError::Absent).and_then(decode);
    let thumb = match thumb {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "mir: {}",
                file_message(&input.to_string_lossy(), &e.to_string())
            );
            return Err(EXIT_UNRECOGNISED);
        }
    };
    if same_file(input, out) {
        eprintln!(
            "mir: --thumbnail {}: that is the model file itself; it is never written",
            term_path(out)
        );
        return Err(EXIT_USAGE);
    }
    if let Err(e) = std::fs::write(out, &thumb.bytes) {
        eprintln!("mir: --thumbnail {}: {e}", term_path(out));
        return Err(EXIT_UNREADABLE);
    }
    eprintln!(
        "mir: wrote the thumbnail ({}, {} bytes) to {}",
        term(thumb.media_type.as_deref().unwrap_or("unknown type")),
        thumb.bytes.len(),
        term_path(out)
    );
    Ok(())
}

/// True when `b` names the file `a` is (the same path, or an existing file with the same
/// device and inode: a hard link or symlink to it).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) if x == y => return true,
        _ => {}
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

fn print_text<W: Write>(w: &mut W, v: &Inspection<'_>) -> anyhow::Result<()> {
    writeln!(w, "path        {}", term(&v.path))?;
    writeln!(w, "format      {}", term(v.format))?;
    writeln!(w, "size        {} ({} bytes)", human_size(v.size), v.size)?;
    writeln!(w, "tensors     {}", v.tensors)?;
    writeln!(w, "parameters  {}", v.parameters)?;
    writeln!(
        w,
        "mir         {}",
        term(v.mir.as_deref().unwrap_or("(none)"))
    )?;
    if !v.candidates.is_empty() {
        writeln!(w, "candidates  {}", term(&v.candidates.join(", ")))?;
    }
    for c in &v.components {
        writeln!(w, "component   {} under {}", term(&c.mir), term(&c.prefix))?;
    }
    if let Some(p) = &v.precision {
        writeln!(w, "precision   {}", term(p))?;
    }
    if let (Some(k), Some(c)) = (&v.decided_by, v.confidence) {
        writeln!(w, "decided by  {} (confidence {c:.2})", term(k))?;
    }
    if let Some(p) = &v.prediction {
        writeln!(w, "prediction  {p}")?;
    }
    if let Some(c) = &v.coverage {
        writeln!(
            w,
            "coverage    {:.1}% of tensors, {:.1}% of parameters explained{}",
            c.tensors * 100.0,
            c.parameters * 100.0,
            if c.unexplained.is_empty() {
                String::new()
            } else {
                format!("; not in the family: {}", c.unexplained.join(", "))
            }
        )?;
    }
    if let Some(db) = &v.database {
        writeln!(
            w,
            "database    {}:{} by {}{}{}",
            term(&db.key),
            term(&db.compat),
            term(&db.field),
            db.repo
                .as_deref()
                .map(|r| format!(", repo {}", term(r)))
                .unwrap_or_default(),
            if db.trusted {
                ""
            } else {
                " (layer hash only: not trusted for this kind)"
            }
        )?;
    }
    if let Some(a) = &v.air {
        writeln!(
            w,
            "air         {}:{}{}",
            term(&a.ecosystem),
            term(&a.kind),
            a.urn
                .as_deref()
                .map(|u| format!(" ({})", term(u)))
                .unwrap_or_default()
        )?;
    }
    if !v.packaging.is_empty() {
        writeln!(w, "packaging   {}", term(&v.packaging.join(", ")))?;
    }
    if let Some(a) = &v.adapter {
        writeln!(
            w,
            "adapter     {} rank {} alpha {} targets {}",
            term(&a.algo),
            a.rank.map_or("?".into(), |r| r.to_string()),
            a.alpha.map_or("?".into(), |r| r.to_string()),
            term(&a.targets.join(", "))
        )?;
    }
    if !v.about.is_empty() {
        writeln!(w, "about")?;
        for (k, e) in &v.about {
            let text = match &e.value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let shown: String = text.chars().take(100).collect();
            let more = if text.chars().count() > 100 {
                "…"
            } else {
                ""
            };
            writeln!(
                w,
                "  {} = {}{more}  [{}]",
                term(k),
                term(&shown),
                term(&e.source)
            )?;
        }
    }
    for s in &v.sidecars {
        writeln!(w, "sidecar     {} {}", term(&s.kind), term(&s.path))?;
    }
    if !v.evidence.is_empty() {
        writeln!(w, "evidence")?;
        for e in &v.evidence {
            writeln!(w, "  {}", term(e))?;
        }
    }
    writeln!(w, "dtypes")?;
    let dtypes: Vec<String> = v
        .dtypes
        .iter()
        .map(|d| term(&d.dtype).into_owned())
        .collect();
    let dwidth = column_width(dtypes.iter().map(String::as_str), 8, 24);
    for (d, name) in v.dtypes.iter().zip(&dtypes) {
        let share = if v.parameters > 0 {
            d.parameters as f64 * 100.0 / v.parameters as f64
        } else {
            0.0
        };
        writeln!(
            w,
            "  {name:<dwidth$} {:>14} params  {share:5.1}%",
            d.parameters
        )?;
    }
    writeln!(w, "fingerprints")?;
    writeln!(w, "  key_sig     {}", v.fingerprint.key_sig)?;
    writeln!(w, "  shape_sig   {}", v.fingerprint.shape_sig)?;
    writeln!(
        w,
        "  layer_256   {}",
        v.fingerprint.layer_256.as_deref().unwrap_or("-")
    )?;
    writeln!(
        w,
        "  layer_b3    {}",
        v.fingerprint.layer_b3.as_deref().unwrap_or("-")
    )?;
    if !v.findings.is_empty() {
        writeln!(w, "findings")?;
        for f in &v.findings {
            writeln!(w, "  {}", term(f))?;
        }
    }
    writeln!(
        w,
        "metadata    {} entr{}",
        v.metadata.len(),
        if v.metadata.len() == 1 { "y" } else { "ies" }
    )?;
    for (k, val) in &v.metadata {
        let text = match val {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        // Long values are cut (by characters, before escaping, so an escape is never split).
        let shown: String = text.chars().take(100).collect();
        let more = if text.chars().count() > 100 {
            "…"
        } else {
            ""
        };
        writeln!(w, "  {} = {}{more}", term(k), term(&shown))?;
    }
    if !v.first_tensors.is_empty() {
        writeln!(
            w,
            "tensors (first {} of {})",
            v.first_tensors.len(),
            v.tensors
        )?;
        // The name goes last, so a long one never pushes the other columns out of line.
        let dtypes: Vec<String> = v
            .first_tensors
            .iter()
            .map(|t| term(t.dtype).into_owned())
            .collect();
        let shapes: Vec<String> = v
            .first_tensors
            .iter()
            .map(|t| format!("{:?}", t.shape))
            .collect();
        let dwidth = column_width(dtypes.iter().map(String::as_str), 5, 16);
        let swidth = column_width(shapes.iter().map(String::as_str), 5, 40);
        writeln!(w, "  {:<dwidth$}  {:<swidth$}  NAME", "DTYPE", "SHAPE")?;
        for ((t, dtype), shape) in v.first_tensors.iter().zip(&dtypes).zip(&shapes) {
            writeln!(w, "  {dtype:<dwidth$}  {shape:<swidth$}  {}", term(t.name))?;
        }
    }
    Ok(())
}

/// The widest of `cells` (in characters), within `min..=max`.
fn column_width<'a>(cells: impl Iterator<Item = &'a str>, min: usize, max: usize) -> usize {
    cells
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(min, max)
}
