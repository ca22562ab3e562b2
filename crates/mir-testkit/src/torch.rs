//! Writer of PyTorch zip checkpoints (`torch.save`'s format since 1.6) for tests.
//!
//! A `.pth` written here is what `torch.save(obj, f)` writes for a state dict, optionally wrapped
//! in one dict level (`{"params_ema": sd}`, `{"state_dict": sd}`, `{"model": sd}`): a stored zip
//! holding `archive/data.pkl` (a protocol-2 pickle of `collections.OrderedDict` whose values are
//! `torch._utils._rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict())`),
//! `archive/byteorder`, `archive/data/<key>` (storage bytes) and `archive/version`.
//!
//! Written by hand because no crate writes torch pickles (the `serde-pickle` family cannot emit
//! `BINPERSID` storage references). To keep multi-gigabyte layouts small, every tensor of one
//! dtype is a view at offset 0 of one shared storage as large as that dtype's largest tensor
//! (torch's tied weights look the same), so the file costs the largest tensor, not the model.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Write};
use std::path::Path;

use mir_core::Dtype;

use crate::SpecTensor;

/// The pickle class name of a dtype's typed storage, and its element size.
fn storage_class(dtype: &Dtype) -> Option<(&'static str, u64)> {
    Some(match dtype {
        Dtype::F32 => ("FloatStorage", 4),
        Dtype::F16 => ("HalfStorage", 2),
        Dtype::BF16 => ("BFloat16Storage", 2),
        Dtype::F64 => ("DoubleStorage", 8),
        Dtype::I64 => ("LongStorage", 8),
        Dtype::I32 => ("IntStorage", 4),
        Dtype::U8 => ("ByteStorage", 1),
        Dtype::Bool => ("BoolStorage", 1),
        _ => return None,
    })
}

struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, b: u8) {
        self.0.push(b);
    }
    fn global(&mut self, module: &str, name: &str) {
        self.0.push(b'c');
        self.0.extend_from_slice(module.as_bytes());
        self.0.push(b'\n');
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(b'\n');
    }
    fn str(&mut self, s: &str) {
        self.0.push(b'X');
        self.0
            .extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn int(&mut self, v: u64) -> io::Result<()> {
        let v = i32::try_from(v).map_err(|_| io::Error::other("dimension too large"))?;
        self.0.push(b'J');
        self.0.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    fn int_tuple(&mut self, vals: &[u64]) -> io::Result<()> {
        if vals.is_empty() {
            self.op(b')');
            return Ok(());
        }
        self.op(b'(');
        for v in vals {
            self.int(*v)?;
        }
        self.op(b't');
        Ok(())
    }
    fn ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.op(b')');
        self.op(b'R');
    }
}

/// Writes `tensors` as a PyTorch zip checkpoint at `path`; `wrapper` nests the state dict one
/// level down (`Some("params_ema")` writes `{"params_ema": state_dict}`).
pub fn write_pth(path: &Path, tensors: &[SpecTensor], wrapper: Option<&str>) -> io::Result<()> {
    // One storage per dtype, sized for its largest tensor.
    let mut storages: BTreeMap<&'static str, (String, u64, u64)> = BTreeMap::new();
    for t in tensors {
        let (cls, size) = storage_class(&t.dtype)
            .ok_or_else(|| io::Error::other(format!("{}: no torch storage", t.name)))?;
        let numel = t.shape.iter().product::<u64>().max(1);
        let n = storages.len();
        let e = storages
            .entry(cls)
            .or_insert_with(|| (n.to_string(), 0, size));
        e.1 = e.1.max(numel);
    }
    let mut p = Pickle(vec![0x80, 2]);
    if let Some(w) = wrapper {
        p.op(b'}');
        p.str(w);
    }
    p.ordered_dict();
    if !tensors.is_empty() {
        p.op(b'(');
    }
    for t in tensors {
        let (cls, _) = storage_class(&t.dtype).unwrap_or(("FloatStorage", 4));
        let (key, numel, _) = &storages[cls];
        p.str(&t.name);
        p.global("torch._utils", "_rebuild_tensor_v2");
        p.op(b'(');
        // persistent id: ("storage", torch.<Class>, key, "cpu", numel)
        p.op(b'(');
        p.str("storage");
        p.global("torch", cls);
        p.str(key);
        p.str("cpu");
        p.int(*numel)?;
        p.op(b't');
        p.op(b'Q');
        p.int(0)?;
        p.int_tuple(&t.shape)?;
        let mut stride = vec![0u64; t.shape.len()];
        let mut acc = 1u64;
        for (i, d) in t.shape.iter().enumerate().rev() {
            stride[i] = acc;
            acc = acc.saturating_mul(*d);
        }
        p.int_tuple(&stride)?;
        p.op(0x89); // NEWFALSE: requires_grad
        p.ordered_dict(); // backward hooks
        p.op(b't');
        p.op(b'R');
    }
    if !tensors.is_empty() {
        p.op(b'u');
    }
    if wrapper.is_some() {
        p.op(b's');
    }
    p.op(b'.');

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    let mut put = |name: &str, data: &[u8]| -> io::Result<()> {
        zip.start_file(name, opts).map_err(io::Error::other)?;
        zip.write_all(data)
    };
    put("archive/data.pkl", &p.0)?;
    put("archive/byteorder", b"little")?;
    for (key, numel, size) in storages.values() {
        let len = usize::try_from(numel.saturating_mul(*size))
            .map_err(|_| io::Error::other("storage too large"))?;
        put(&format!("archive/data/{key}"), &vec![0u8; len])?;
    }
    put("archive/version", b"3\n")?;
    let bytes = zip.finish().map_err(io::Error::other)?.into_inner();
    std::fs::write(path, bytes)
}
