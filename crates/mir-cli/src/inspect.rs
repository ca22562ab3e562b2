//! `mir inspect`: one file's header in detail.

use std::io::Write;

use mir_core::{Limits, MetaValue};
use mir_scan::{ComponentRecord, CoverageRecord, DatabaseRecord, FingerprintRecord, Record};
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::output::{human_size, json_line};

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
    let identifier = crate::identifier(args.mir_db.as_deref())?;
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
        // Findings made before the error (a payload before the damage) go with it.
        let findings: String = report
            .findings
            .iter()
            .map(|f| format!("\n  ! {}", f.to_record_text()))
            .collect();
        anyhow::bail!("{}: {}{findings}", args.path.display(), e.message);
    }
    let facts = report.facts.as_ref();
    let (Some(index), Some(sigs)) = (
        facts.and_then(|f| f.index.as_ref()),
        facts.and_then(|f| f.signatures.as_ref()),
    ) else {
        anyhow::bail!("{}: unrecognised format", args.path.display());
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
    };

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

fn print_text<W: Write>(w: &mut W, v: &Inspection<'_>) -> anyhow::Result<()> {
    writeln!(w, "path        {}", v.path)?;
    writeln!(w, "format      {}", v.format)?;
    writeln!(w, "size        {} ({} bytes)", human_size(v.size), v.size)?;
    writeln!(w, "tensors     {}", v.tensors)?;
    writeln!(w, "parameters  {}", v.parameters)?;
    writeln!(w, "mir         {}", v.mir.as_deref().unwrap_or("(none)"))?;
    if !v.candidates.is_empty() {
        writeln!(w, "candidates  {}", v.candidates.join(", "))?;
    }
    for c in &v.components {
        writeln!(w, "component   {} under {}", c.mir, c.prefix)?;
    }
    if let Some(p) = &v.precision {
        writeln!(w, "precision   {p}")?;
    }
    if let (Some(k), Some(c)) = (&v.decided_by, v.confidence) {
        writeln!(w, "decided by  {k} (confidence {c:.2})")?;
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
            db.key,
            db.compat,
            db.field,
            db.repo
                .as_deref()
                .map(|r| format!(", repo {r}"))
                .unwrap_or_default(),
            if db.trusted {
                ""
            } else {
                " (layer hash only: not trusted for this kind)"
            }
        )?;
    }
    if !v.evidence.is_empty() {
        writeln!(w, "evidence")?;
        for e in &v.evidence {
            writeln!(w, "  {e}")?;
        }
    }
    writeln!(w, "dtypes")?;
    for d in &v.dtypes {
        let share = if v.parameters > 0 {
            d.parameters as f64 * 100.0 / v.parameters as f64
        } else {
            0.0
        };
        writeln!(
            w,
            "  {:<12} {:>14} params  {share:5.1}%",
            d.dtype, d.parameters
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
            writeln!(w, "  {f}")?;
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
        let one_line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let shown: String = one_line.chars().take(100).collect();
        let more = if one_line.chars().count() > 100 {
            "…"
        } else {
            ""
        };
        writeln!(w, "  {k} = {shown}{more}")?;
    }
    if !v.first_tensors.is_empty() {
        writeln!(
            w,
            "tensors (first {} of {})",
            v.first_tensors.len(),
            v.tensors
        )?;
        for t in &v.first_tensors {
            writeln!(w, "  {:<60} {:<8} {:?}", t.name, t.dtype, t.shape)?;
        }
    }
    Ok(())
}
