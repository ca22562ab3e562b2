//! The containers `torch.save` writes: the zip archive (PyTorch ≥ 1.6), the legacy sequence of
//! pickles, and a bare pickle; the tar format of PyTorch ≤ 0.1.10 is recognised and refused.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};

use mir_core::{Error, Limits, MetaValue, Severity, Source, TensorIndex};
use zip::CompressionMethod;

use crate::CkptError;
use crate::pickle::{self, Node, Value};
use crate::torch::{self, Container, Findings, StorageData};

/// The number torch's legacy format writes as its first pickle (`torch/serialization.py`).
const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
/// The legacy format's protocol version (the second pickle).
const LEGACY_PROTOCOL: i64 = 1001;

/// Reads a zip checkpoint.
pub(crate) fn parse_zip(src: &Source, limits: &Limits) -> Result<TensorIndex, Error> {
    if let Some(entries) = zip_entry_count(src)? {
        Limits::check("zip entry count", entries, limits.max_zip_entries)?;
    }
    // Buffered: the zip crate reads the central directory in many small pieces.
    let reader = BufReader::with_capacity(64 << 10, src.reader());
    let mut archive = zip::ZipArchive::new(reader).map_err(CkptError::Zip)?;
    let mut findings = Findings::default();
    let mut names = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let name = archive
            .name_for_index(i)
            .ok_or(CkptError::Zip(zip::result::ZipError::FileNotFound))?
            .map_err(CkptError::Zip)?
            .into_owned();
        names.push(name);
    }
    // `<prefix>/data.pkl` with exactly one `/`: the prefix is `archive` in current torch but the
    // file stem (e.g. `pytorch_model`) in older versions.
    let mut pkl: Option<(usize, &str)> = None;
    for (i, name) in names.iter().enumerate() {
        if let Some(prefix) = name.strip_suffix("/data.pkl") {
            if prefix.is_empty() || prefix.contains('/') {
                continue;
            }
            if let Some((_, first)) = pkl {
                return Err(CkptError::SeveralDataPkl {
                    first: format!("{first}/data.pkl"),
                    second: name.clone(),
                }
                .into());
            }
            pkl = Some((i, prefix));
        }
    }
    let (pkl_index, prefix) = pkl.ok_or(CkptError::NoDataPkl)?;
    let prefix = prefix.to_owned();
    if archive.has_duplicate_names() {
        findings.push(
            "zip",
            Severity::Suspicious,
            "zip archive has duplicate entry names; readers may disagree on its contents".into(),
        );
    }
    let code_dir = format!("{prefix}/code/");
    if names
        .iter()
        .any(|n| n.starts_with(&code_dir) || *n == format!("{prefix}/constants.pkl"))
    {
        findings.push(
            "torchscript",
            Severity::Suspicious,
            "torchscript archive (code/, constants.pkl): torch.jit.load runs its code, which was not read".into(),
        );
    }

    let data = read_entry(&mut archive, pkl_index, limits)?;

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

    let data_dir = format!("{prefix}/data/");
    let mut storages = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let Some(key) = name.strip_prefix(&data_dir) else {
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

    let p = pickle::run(data.as_slice(), data.len() as u64, limits, "data.pkl")?;
    let walked = torch::walk(&p, limits)?;
    torch::index(
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
    )
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
    let mut entry = archive.by_index(index).map_err(CkptError::Zip)?;
    let declared = entry.size();
    Limits::check("data.pkl size", declared, limits.max_header_bytes)?;
    let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
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

/// The entry count the end-of-central-directory record declares (zip64 aware), read before the
/// zip crate allocates its table. `None` when there is no such record (the zip crate reports it).
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
    let Some(pos) = (0..=tail.len().saturating_sub(EOCD))
        .rev()
        .find(|&i| tail.get(i..i.saturating_add(4)) == Some(b"PK\x05\x06"))
    else {
        return Ok(None);
    };
    let field = |at: usize, n: usize| {
        tail.get(pos.saturating_add(at)..pos.saturating_add(at).saturating_add(n))
    };
    let entries = field(10, 2).map(le).unwrap_or(0);
    if entries != 0xFFFF {
        return Ok(Some(entries));
    }
    // Zip64: a locator right before the record points to the zip64 record.
    let Some(locator) = pos.checked_sub(20).and_then(|l| tail.get(l..pos)) else {
        return Ok(Some(entries));
    };
    if locator.get(..4) != Some(b"PK\x06\x07") {
        return Ok(Some(entries));
    }
    let Some(offset) = locator.get(8..16).map(le) else {
        return Ok(Some(entries));
    };
    let mut record = [0u8; 56];
    src.read_exact_at(offset, &mut record, "zip64 end of central directory")?;
    if record.get(..4) != Some(b"PK\x06\x06") {
        return Ok(Some(entries));
    }
    Ok(record.get(32..40).map(le))
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
    let mut reader = BufReader::with_capacity(64 << 10, src.reader());
    let len = src.len();
    let first = pickle::run(&mut reader, len, limits, "file's first")?;
    let mut pos = first.len;
    let is_magic =
        matches!(first.node(first.root), Some(Node::BigInt(Some(m))) if *m == LEGACY_MAGIC);
    if !is_magic {
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
                findings: Findings::default(),
            },
            limits,
        );
    }

    let mut next = |stream: &'static str, pos: &mut u64| -> Result<pickle::Pickle, Error> {
        let p = pickle::run(&mut reader, len.saturating_sub(*pos), limits, stream)?;
        *pos = pos.saturating_add(p.len);
        Ok(p)
    };
    let protocol = next("legacy protocol-version", &mut pos)?;
    if protocol.root != Value::Int(LEGACY_PROTOCOL) {
        let found = match protocol.root {
            Value::Int(i) => i.to_string(),
            _ => "a value that is no integer".to_owned(),
        };
        return Err(CkptError::LegacyProtocol { found }.into());
    }
    let sys_info = next("legacy sys_info", &mut pos)?;
    let little_endian = match sys_info.node(sys_info.root) {
        Some(Node::Dict(entries)) => entries
            .iter()
            .find(|(k, _)| sys_info.str(*k) == Some("little_endian"))
            .map(|(_, v)| *v != Value::Bool(false))
            .unwrap_or(true),
        _ => true,
    };
    let object = next("legacy object", &mut pos)?;
    let walked = torch::walk(&object, limits)?;
    let mut findings = Findings::default();
    for p in [&protocol, &sys_info] {
        torch::report_globals(p, "the legacy header pickles", &mut findings);
    }
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "ckpt.byteorder".to_owned(),
        MetaValue::Str(if little_endian { "little" } else { "big" }.into()),
    );

    // The storage-key list, then each storage as an i64 element count and its bytes. A file
    // that ends early still lists its tensors; the missing ranges are reported.
    let mut storages = HashMap::new();
    let mut complete = false;
    match next("legacy storage-key", &mut pos) {
        Ok(keys) => {
            // torch.load unpickles this list too, so its globals matter as much as the object's.
            torch::report_globals(&keys, "the legacy storage-key pickle", &mut findings);
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
