//! The containers `torch.save` writes: the zip archive (PyTorch ≥ 1.6), the legacy sequence of
//! pickles, and a bare pickle; the tar format of PyTorch ≤ 0.1.10 is recognised and refused.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};

use mir_core::{Error, Limits, MetaValue, Severity, Source, TensorIndex};
use zip::CompressionMethod;

use crate::CkptError;
use crate::pickle::{self, Node, Value};
use crate::torch::{self, Container, Findings, StorageData};

/// The number torch's legacy format writes as its first pickle (`torch/serialization.py`).
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy format's protocol version (the second pickle).
const LEGACY_PROTOCOL: i64 = 1001;

/// Wraps `e` with the findings made before it, when any is worse than informational, so a
/// payload that precedes the damage is still reported beside the error.
pub(crate) fn with_findings(e: Error, findings: Findings) -> Error {
    if !findings.any_serious() {
        return e;
    }
    CkptError::WithFindings {
        error: Box::new(e),
        findings: findings.finish(),
    }
    .into()
}

/// Runs one pickle and reports its globals at once, also when it stops with an error (the
/// globals it named before the error are reported, then the error is returned).
/// `stream` names the pickle in errors (`the {stream} pickle`), `label` in findings.
fn run_reported<R: std::io::BufRead>(
    reader: R,
    available: u64,
    limits: &Limits,
    (stream, label): (&'static str, &str),
    torchscript: bool,
    findings: &mut Findings,
) -> Result<pickle::Pickle, Error> {
    match pickle::run(reader, available, limits, stream) {
        Ok(p) => {
            torch::report_globals(&p.globals, label, torchscript, findings);
            Ok(p)
        }
        Err(f) => {
            torch::report_globals(&f.globals, label, torchscript, findings);
            Err(f.error)
        }
    }
}

/// Reads a zip checkpoint.
pub(crate) fn parse_zip(src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
    let mut findings = Findings::default();
    zip_checkpoint(src, limits, &mut findings).map_err(|e| with_findings(e, findings))
}

/// One central-directory record that may be a `data.pkl` (found by our own scan of the
/// directory, because the zip crate keeps one entry per name and so hides duplicates).
struct PklEntry {
    name: String,
    local_offset: u64,
    compressed: u64,
    size: u64,
}

/// `<prefix>/data.pkl` with exactly one `/`, compared without case as torch's zip reader
/// (miniz, `mz_zip_reader_locate_file` without `MZ_ZIP_FLAG_CASE_SENSITIVE`) does.
fn pkl_prefix(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub("/data.pkl".len())?;
    let (prefix, tail) = (name.get(..cut)?, name.get(cut..)?);
    (tail.eq_ignore_ascii_case("/data.pkl") && !prefix.is_empty() && !prefix.contains('/'))
        .then_some(prefix)
}

/// Scans the central directory at `start` for `data.pkl` candidates, reading at most `entries`
/// records (the count was checked against the limit before).
fn pkl_entries(src: &Source, start: u64, entries: u64) -> Result<Vec<PklEntry>, Error> {
    let mut reader = BufReader::with_capacity(64 << 10, src.reader());
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(start)).map_err(Error::Io)?;
    let mut out = Vec::new();
    let mut header = [0u8; 46];
    for _ in 0..entries {
        if reader.read_exact(&mut header).is_err() || header.get(..4) != Some(b"PK\x01\x02") {
            break;
        }
        let field = |at: usize, n: usize| header.get(at..at.saturating_add(n)).map_or(0, le);
        let (name_len, extra_len, comment_len) = (field(28, 2), field(30, 2), field(32, 2));
        let mut name = vec![0u8; name_len as usize];
        let mut extra = vec![0u8; extra_len as usize];
        if reader.read_exact(&mut name).is_err() || reader.read_exact(&mut extra).is_err() {
            break;
        }
        if std::io::copy(&mut (&mut reader).take(comment_len), &mut std::io::sink()).is_err() {
            break;
        }
        let name = String::from_utf8_lossy(&name).into_owned();
        if pkl_prefix(&name).is_none() {
            continue;
        }
        let (mut size, mut compressed, mut local_offset) =
            (field(24, 4), field(20, 4), field(42, 4));
        // Zip64: the extra field 0x0001 holds, in this order, each of the three that is
        // 0xFFFFFFFF in the fixed record.
        let mut at = 0usize;
        while let (Some(id), Some(len)) = (
            extra.get(at..at.saturating_add(2)).map(le),
            extra
                .get(at.saturating_add(2)..at.saturating_add(4))
                .map(le),
        ) {
            let body = at.saturating_add(4);
            if id == 1 {
                let mut pos = body;
                for v in [&mut size, &mut compressed, &mut local_offset] {
                    if *v == 0xFFFF_FFFF
                        && let Some(x) = extra.get(pos..pos.saturating_add(8)).map(le)
                    {
                        *v = x;
                        pos = pos.saturating_add(8);
                    }
                }
            }
            at = body.saturating_add(len as usize);
        }
        out.push(PklEntry {
            name,
            local_offset,
            compressed,
            size,
        });
    }
    Ok(out)
}

/// Reads the entry whose local header is at `e.local_offset` through the zip crate's stream
/// reader (which inflates it), bounded like [`read_entry`].
fn read_pkl_entry(src: &Source, e: &PklEntry, limits: &Limits) -> Result<Vec<u8>, Error> {
    Limits::check("data.pkl size", e.size, limits.max_header_bytes)?;
    let mut reader = src.reader();
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(e.local_offset))
        .map_err(Error::Io)?;
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let entry = zip::read::read_zipfile_from_stream_with_compressed_size(&mut reader, e.compressed)
        .map_err(CkptError::Zip)?
        .ok_or(CkptError::Zip(zip::result::ZipError::FileNotFound))?;
    read_bounded(entry, e.size)
}

/// Reads a zip checkpoint, adding to `findings` as it goes.
fn zip_checkpoint(
    src: &Source,
    limits: &Limits,
    findings: &mut Findings,
) -> Result<TensorIndex, Error> {
    let declared_entries = zip_entry_count(src)?;
    if let Some(entries) = declared_entries {
        Limits::check("zip entry count", entries, limits.max_zip_entries)?;
    }
    // Buffered: the zip crate reads the central directory in many small pieces.
    let reader = BufReader::with_capacity(64 << 10, src.reader());
    let mut archive = zip::ZipArchive::new(reader).map_err(CkptError::Zip)?;
    // The zip crate may have chosen another end record than the ones the pre-check saw.
    Limits::check(
        "zip entry count",
        archive.len() as u64,
        limits.max_zip_entries,
    )?;
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let name = archive
            .name_for_index(i)
            .ok_or(CkptError::Zip(zip::result::ZipError::FileNotFound))?
            .map_err(CkptError::Zip)?
            .into_owned();
        names.push(name);
    }
    // Every `<prefix>/data.pkl`, duplicates and other cases included. torch reads the one under
    // the first entry's folder (the archive name); we read that one as the checkpoint and
    // analyse every other one for globals, since another reader may pick it.
    let scan_limit = declared_entries
        .unwrap_or(limits.max_zip_entries)
        .max(archive.len() as u64)
        .min(limits.max_zip_entries);
    let mut candidates = pkl_entries(src, archive.central_directory_start(), scan_limit)?;
    if candidates.is_empty() {
        // A directory our scan could not follow: fall back to the zip crate's names.
        for n in names.iter().filter(|n| pkl_prefix(n).is_some()) {
            if let Some(i) = archive.index_for_name(n) {
                let entry = archive.by_index_data(i).map_err(CkptError::Zip)?;
                candidates.push(PklEntry {
                    name: n.clone(),
                    local_offset: entry.header_start(),
                    compressed: entry.compressed_size(),
                    size: entry.size(),
                });
            }
        }
    }
    let first_folder = names
        .first()
        .and_then(|n| n.split('/').next())
        .unwrap_or("");
    let primary = candidates
        .iter()
        .position(|c| c.name.ends_with("/data.pkl") && pkl_prefix(&c.name) == Some(first_folder))
        .or_else(|| {
            candidates
                .iter()
                .position(|c| c.name.ends_with("/data.pkl"))
        })
        .or(if candidates.is_empty() { None } else { Some(0) })
        .ok_or(CkptError::NoDataPkl)?;
    let Some(main) = candidates.get(primary) else {
        return Err(CkptError::NoDataPkl.into());
    };
    let prefix = pkl_prefix(&main.name).unwrap_or("archive").to_owned();
    if candidates.len() > 1 || !main.name.ends_with("/data.pkl") {
        let list: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        findings.push(
            "zip evasion",
            Severity::Suspicious,
            format!(
                "zip archive holds {} data.pkl candidates ({}): readers may load a different one than a scanner reads (crafted to evade scanners); every one was analysed",
                candidates.len(),
                list.join(", ")
            ),
        );
    } else if archive.has_duplicate_names() {
        findings.push(
            "zip",
            Severity::Suspicious,
            "zip archive has duplicate entry names; readers may disagree on its contents".into(),
        );
    }
    let code_dir = format!("{prefix}/code/");
    let constants_name = format!("{prefix}/constants.pkl");
    let torchscript = names
        .iter()
        .any(|n| n.starts_with(&code_dir) || *n == constants_name);
    if torchscript {
        findings.push(
            "torchscript",
            Severity::Info,
            "torchscript archive (torch.jit.save): its tensors and constants are listed; torch.jit.load would run its code/, which was not read".into(),
        );
    }
    // The other candidates first: their globals are reported even if the main one is damaged.
    // A file with more than a few is refused: each may inflate to `max_header_bytes`.
    Limits::check("data.pkl candidate count", candidates.len() as u64, 16)?;
    for (i, c) in candidates.iter().enumerate() {
        if i == primary {
            continue;
        }
        let data = read_pkl_entry(src, c, limits)?;
        run_reported(
            data.as_slice(),
            data.len() as u64,
            limits,
            ("another data.pkl", &c.name),
            torchscript,
            findings,
        )?;
    }

    let data = match read_pkl_entry(src, main, limits) {
        Ok(d) => d,
        Err(e) => match archive.index_for_name(&main.name) {
            Some(i) => read_entry(&mut archive, i, limits)?,
            None => return Err(e),
        },
    };

    let mut metadata = BTreeMap::new();
    metadata.insert(
        "ckpt.archive_prefix".to_owned(),
        MetaValue::Str(prefix.clone()),
    );
    if let Some(i) = names
        .iter()
        .position(|n| *n == format!("{prefix}/byteorder"))
    {
        let mut entry = archive.by_index(i).map_err(CkptError::Zip)?;
        let mut text = String::new();
        // `little` or `big`; anything longer is not a byte order.
        (&mut entry)
            .take(16)
            .read_to_string(&mut text)
            .map_err(|e| CkptError::Zip(e.into()))?;
        metadata.insert(
            "ckpt.byteorder".to_owned(),
            MetaValue::Str(text.trim().to_owned()),
        );
    }

    let storages = storage_dir(src, &mut archive, &names, &format!("{prefix}/data/"))?;
    let p = run_reported(
        data.as_slice(),
        data.len() as u64,
        limits,
        ("data.pkl", "data.pkl"),
        torchscript,
        findings,
    )?;
    let walked = torch::walk(&p, limits)?;
    let mut index = torch::index(
        &p,
        &walked,
        Container {
            kind: "zip",
            stream: "data.pkl",
            storages: Some(&storages),
            storages_complete: true,
            metadata,
            findings,
        },
        limits,
    )?;
    if torchscript && let Some(i) = archive.index_for_name(&constants_name) {
        // TorchScript constants: a tuple of tensors whose storages are under `constants/`.
        let data = read_entry(&mut archive, i, limits)?;
        let storages = storage_dir(src, &mut archive, &names, &format!("{prefix}/constants/"))?;
        let mut more = Findings::default();
        let p = run_reported(
            data.as_slice(),
            data.len() as u64,
            limits,
            ("constants.pkl", "constants.pkl"),
            true,
            &mut more,
        )?;
        let walked = torch::walk(&p, limits)?;
        let constants = torch::index(
            &p,
            &walked,
            Container {
                kind: "zip",
                stream: "constants.pkl",
                storages: Some(&storages),
                storages_complete: true,
                metadata: BTreeMap::new(),
                findings: &mut more,
            },
            limits,
        )?;
        Limits::check(
            "tensor count",
            (index.tensors.len() as u64).saturating_add(constants.tensors.len() as u64),
            limits.max_tensors,
        )?;
        for mut t in constants.tensors {
            t.name = format!("constants.{}", t.name);
            index.tensors.push(t);
        }
        index.findings.extend(
            constants
                .findings
                .into_iter()
                .filter(|f| f.severity > Severity::Info),
        );
    }
    Ok(index)
}

/// The storages under `dir` (`<prefix>/data/` or `<prefix>/constants/`): key → where the bytes are.
fn storage_dir<R: Read + std::io::Seek>(
    src: &Source,
    archive: &mut zip::ZipArchive<R>,
    names: &[String],
    dir: &str,
) -> Result<HashMap<String, StorageData>, Error> {
    let mut storages = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let Some(key) = name.strip_prefix(dir) else {
            continue;
        };
        if key.is_empty() || key.contains('/') {
            continue;
        }
        let entry = archive.by_index_data(i).map_err(CkptError::Zip)?;
        let start = if entry.compression() == CompressionMethod::Stored {
            Some(data_start(src, entry.header_start())?)
        } else {
            None
        };
        storages.insert(
            key.to_owned(),
            StorageData {
                start,
                len: entry.size(),
            },
        );
    }
    Ok(storages)
}

/// Where an entry's data starts: after its local header, whose name and extra field (torch pads
/// storages to 64-byte alignment there) may differ in length from the central directory's copy.
/// One small positioned read per entry, instead of the zip crate's seek-and-read through a buffer.
fn data_start(src: &Source, header_start: u64) -> Result<u64, Error> {
    let mut header = [0u8; 30];
    src.read_exact_at(header_start, &mut header, "zip local header")?;
    if header.get(..4) != Some(b"PK\x03\x04") {
        return Err(CkptError::Zip(zip::result::ZipError::InvalidArchive(
            "local header signature missing".into(),
        ))
        .into());
    }
    let name = header.get(26..28).map(le).unwrap_or(0);
    let extra = header.get(28..30).map(le).unwrap_or(0);
    Ok(header_start
        .saturating_add(30)
        .saturating_add(name)
        .saturating_add(extra))
}

/// Reads one zip entry, bounded by `max_header_bytes` both as declared and as inflated.
fn read_entry<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: usize,
    limits: &Limits,
) -> Result<Vec<u8>, Error> {
    let entry = archive.by_index(index).map_err(CkptError::Zip)?;
    let declared = entry.size();
    Limits::check("data.pkl size", declared, limits.max_header_bytes)?;
    read_bounded(entry, declared)
}

/// Reads `declared` bytes of an entry, and fails if it inflates to more.
fn read_bounded(mut entry: impl Read, declared: u64) -> Result<Vec<u8>, Error> {
    // Grown as the bytes arrive: a declared size can lie.
    let mut data = Vec::with_capacity(usize::try_from(declared.min(1 << 20)).unwrap_or(0));
    (&mut entry)
        .take(declared)
        .read_to_end(&mut data)
        .map_err(|e| CkptError::Zip(e.into()))?;
    // One more byte tells an entry that inflates past its declared size (a zip bomb that lies)
    // from one that fits. The zip crate notices too and says so in an `InvalidData` error.
    let mut probe = [0u8; 1];
    match entry.read(&mut probe) {
        Ok(0) => Ok(data),
        Ok(_) => Err(CkptError::InflatedPastDeclared { declared }.into()),
        Err(e) if e.to_string().contains("declared") => {
            Err(CkptError::InflatedPastDeclared { declared }.into())
        }
        Err(e) => Err(CkptError::Zip(e.into()).into()),
    }
}

/// The entry count the end-of-central-directory records declare (zip64 aware), read before the
/// zip crate allocates its table. `None` when there is no such record (the zip crate reports it).
///
/// Every end record in the file's last 64 KiB counts, and the largest count is returned: a stray
/// record after the real one (in the comment, or appended) must not hide the count of the record
/// the zip crate ends up using when it rejects the stray one.
fn zip_entry_count(src: &Source) -> Result<Option<u64>, Error> {
    const EOCD: usize = 22;
    let len = src.len();
    let tail_len = len.min(EOCD as u64 | 0x1_0000); // the record plus the longest comment
    let tail = src.read_vec(
        len.saturating_sub(tail_len),
        tail_len,
        "zip end of central directory",
        tail_len,
    )?;
    let mut most: Option<u64> = None;
    for pos in (0..=tail.len().saturating_sub(EOCD))
        .filter(|&i| tail.get(i..i.saturating_add(4)) == Some(b"PK\x05\x06"))
    {
        let n = eocd_entries(src, &tail, pos)?;
        most = Some(most.map_or(n, |m| m.max(n)));
    }
    Ok(most)
}

/// The count of the end record at `pos` of `tail`: the larger of the disk and total counts, or
/// the zip64 record's when the count is 0xFFFF.
fn eocd_entries(src: &Source, tail: &[u8], pos: usize) -> Result<u64, Error> {
    let field = |at: usize, n: usize| {
        tail.get(pos.saturating_add(at)..pos.saturating_add(at).saturating_add(n))
    };
    let entries = field(8, 2)
        .map(le)
        .unwrap_or(0)
        .max(field(10, 2).map(le).unwrap_or(0));
    if entries != 0xFFFF {
        return Ok(entries);
    }
    // Zip64: a locator right before the record points to the zip64 record.
    let Some(locator) = pos.checked_sub(20).and_then(|l| tail.get(l..pos)) else {
        return Ok(entries);
    };
    if locator.get(..4) != Some(b"PK\x06\x07") {
        return Ok(entries);
    }
    let Some(offset) = locator.get(8..16).map(le) else {
        return Ok(entries);
    };
    let mut record = [0u8; 56];
    if src
        .read_exact_at(offset, &mut record, "zip64 end of central directory")
        .is_err()
        || record.get(..4) != Some(b"PK\x06\x06")
    {
        return Ok(entries);
    }
    Ok(record
        .get(24..32)
        .map(le)
        .unwrap_or(0)
        .max(record.get(32..40).map(le).unwrap_or(0)))
}

/// A little-endian unsigned integer of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .rev()
        .fold(0u64, |acc, &b| acc.wrapping_shl(8) | u64::from(b))
}

/// Reads a file that starts with a pickle: the legacy torch format when the first pickle is
/// torch's magic number, otherwise a bare pickle (which holds no storages, but may hold globals).
pub(crate) fn parse_pickles(src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
    let mut findings = Findings::default();
    pickles(src, limits, &mut findings).map_err(|e| with_findings(e, findings))
}

/// How many pickles after the first of a bare pickle file are analysed for globals.
const TRAILING_PICKLES: usize = 16;

fn pickles(src: &Source, limits: &Limits, findings: &mut Findings) -> Result<TensorIndex, Error> {
    let mut reader = BufReader::with_capacity(64 << 10, src.reader());
    let len = src.len();
    // Its globals are reported whatever it turns out to be: a payload can run, pop its result
    // and push the magic number, and torch.load would have run it before any check.
    let first = pickle::run(&mut reader, len, limits, "file's first").map_err(|f| {
        torch::report_globals(&f.globals, "the pickle", false, findings);
        f.error
    })?;
    let mut pos = first.len;
    let is_magic =
        matches!(first.node(first.root), Some(Node::BigInt(Some(m))) if *m == LEGACY_MAGIC);
    if !is_magic {
        torch::report_globals(&first.globals, "the pickle", false, findings);
        // Pickles that follow: `pickle.load` called again would run them.
        for _ in 0..TRAILING_PICKLES {
            if pos >= len
                || reader
                    .fill_buf()
                    .map(|b| b.first() != Some(&0x80))
                    .unwrap_or(true)
            {
                break;
            }
            match pickle::run(&mut reader, len.saturating_sub(pos), limits, "following") {
                Ok(p) => {
                    torch::report_globals(&p.globals, "a following pickle", false, findings);
                    pos = pos.saturating_add(p.len);
                }
                Err(f) => {
                    torch::report_globals(&f.globals, "a following pickle", false, findings);
                    break;
                }
            }
        }
        let walked = torch::walk(&first, limits)?;
        return torch::index(
            &first,
            &walked,
            Container {
                kind: "pickle",
                stream: "the pickle",
                storages: None,
                storages_complete: false,
                metadata: BTreeMap::new(),
                findings,
            },
            limits,
        );
    }
    torch::report_globals(
        &first.globals,
        "the legacy magic-number pickle",
        false,
        findings,
    );

    let mut next = |stream: &'static str,
                    label: &str,
                    pos: &mut u64,
                    findings: &mut Findings|
     -> Result<pickle::Pickle, Error> {
        let p = run_reported(
            &mut reader,
            len.saturating_sub(*pos),
            limits,
            (stream, label),
            false,
            findings,
        )?;
        *pos = pos.saturating_add(p.len);
        Ok(p)
    };
    let protocol = next(
        "legacy protocol-version",
        "the legacy header pickles",
        &mut pos,
        findings,
    )?;
    if protocol.root != Value::Int(LEGACY_PROTOCOL) {
        let found = match protocol.root {
            Value::Int(i) => i.to_string(),
            _ => "a value that is no integer".to_owned(),
        };
        return Err(CkptError::LegacyProtocol { found }.into());
    }
    let sys_info = next(
        "legacy sys_info",
        "the legacy header pickles",
        &mut pos,
        findings,
    )?;
    let little_endian = match sys_info.node(sys_info.root) {
        Some(Node::Dict(entries)) => entries
            .iter()
            .find(|(k, _)| sys_info.str(*k) == Some("little_endian"))
            .map(|(_, v)| *v != Value::Bool(false))
            .unwrap_or(true),
        _ => true,
    };
    let object = next(
        "legacy object",
        "the legacy object pickle",
        &mut pos,
        findings,
    )?;
    let walked = torch::walk(&object, limits)?;
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "ckpt.byteorder".to_owned(),
        MetaValue::Str(if little_endian { "little" } else { "big" }.into()),
    );

    // The storage-key list, then each storage as an i64 element count and its bytes. A file
    // that ends early still lists its tensors; the missing ranges are reported.
    let mut storages = HashMap::new();
    let mut complete = false;
    // torch.load unpickles this list too, so its globals matter as much as the object's.
    match next(
        "legacy storage-key",
        "the legacy storage-key pickle",
        &mut pos,
        findings,
    ) {
        Ok(keys) => {
            let units = walked.storage_units();
            let list: Vec<String> = keys
                .seq(keys.root)
                .unwrap_or_default()
                .iter()
                .filter_map(|&k| match k {
                    Value::Int(i) => Some(i.to_string()),
                    other => keys.str(other).map(str::to_owned),
                })
                .collect();
            Limits::check(
                "legacy storage count",
                list.len() as u64,
                limits.max_tensors,
            )?;
            let list_len = list.len();
            for key in list {
                let Some(Some(unit)) = units.get(key.as_str()) else {
                    // A storage no tensor uses, or of unknown element size: later offsets are
                    // unknown.
                    break;
                };
                let mut count = [0u8; 8];
                if src
                    .read_exact_at(pos, &mut count, "legacy storage")
                    .is_err()
                {
                    findings.push(
                        "legacy storage",
                        Severity::Suspicious,
                        format!(
                            "legacy storage {key} lies past the end of the file (legacy storage)"
                        ),
                    );
                    break;
                }
                let numel = if little_endian {
                    u64::from_le_bytes(count)
                } else {
                    u64::from_be_bytes(count)
                };
                let start = pos.saturating_add(8);
                let Some(bytes) = numel
                    .checked_mul(*unit)
                    .filter(|&b| b <= len.saturating_sub(start))
                else {
                    findings.push(
                        "legacy storage",
                        Severity::Suspicious,
                        format!("legacy storage {key} declares more bytes than the file holds"),
                    );
                    break;
                };
                storages.insert(
                    key,
                    StorageData {
                        start: Some(start),
                        len: bytes,
                    },
                );
                pos = start.saturating_add(bytes);
            }
            complete = storages.len() == list_len;
        }
        Err(e) => findings.push(
            "legacy storage",
            Severity::Suspicious,
            format!("legacy storage-key list unreadable: {e}"),
        ),
    }
    let storages = (!storages.is_empty()).then_some(storages);
    torch::index(
        &object,
        &walked,
        Container {
            kind: "legacy",
            stream: "the legacy object pickle",
            storages: storages.as_ref(),
            storages_complete: complete,
            metadata,
            findings,
        },
        limits,
    )
}

/// Analyses a tar-format checkpoint (PyTorch ≤ 0.1.10: members `sys_info`, `pickle`,
/// `storages`, `tensors`) for globals, then refuses it with [`CkptError::TarFormat`] carrying
/// what was found. Every member that starts with a pickle is run; members are bounded by the
/// file and at most 64 are read.
pub(crate) fn tar_globals(src: &Source, limits: &Limits) -> Error {
    let mut findings = Findings::default();
    let mut at = 0u64;
    for _ in 0..64 {
        let mut header = [0u8; 512];
        if src.read_exact_at(at, &mut header, "tar header").is_err()
            || header.iter().all(|&b| b == 0)
        {
            break;
        }
        let name_end = header.iter().take(100).position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(header.get(..name_end).unwrap_or_default()).into_owned();
        // Size: octal digits, NUL or space terminated.
        let size = header
            .get(124..136)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |acc, &b| {
                acc.saturating_mul(8)
                    .saturating_add(u64::from(b.saturating_sub(b'0')))
            });
        let start = at.saturating_add(512);
        let available = size.min(src.len().saturating_sub(start));
        let mut first = [0u8; 1];
        if available > 0
            && src.read_exact_at(start, &mut first, "tar member").is_ok()
            && first[0] == 0x80
        {
            let mut reader = src.reader();
            if std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(start)).is_ok() {
                let reader = BufReader::with_capacity(64 << 10, reader);
                let label = format!("the tar member {name}");
                let globals = match pickle::run(reader, available, limits, "tar member") {
                    Ok(p) => p.globals,
                    Err(f) => f.globals,
                };
                torch::report_globals(&globals, &label, false, &mut findings);
            }
        }
        at = start.saturating_add(size.div_ceil(512).saturating_mul(512));
    }
    with_findings(CkptError::TarFormat.into(), findings)
}
