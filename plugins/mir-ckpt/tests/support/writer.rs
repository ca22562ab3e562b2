//! Writes `torch.save` look-alike zip checkpoints (protocol 2, memoised like torch's pickler) for
//! tests and benches, so large fixtures are generated on the fly and never committed.

use std::io::{self, Write};
use std::path::Path;

/// Emits pickle opcodes with a running memo counter, the way `pickle.Pickler` numbers them.
struct Pickler {
    out: Vec<u8>,
    memo: u32,
}

impl Pickler {
    fn put(&mut self) -> u32 {
        let id = self.memo;
        if id < 256 {
            self.out.extend_from_slice(&[b'q', id as u8]);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&id.to_le_bytes());
        }
        self.memo += 1;
        id
    }

    fn get(&mut self, id: u32) {
        if id < 256 {
            self.out.extend_from_slice(&[b'h', id as u8]);
        } else {
            self.out.push(b'j');
            self.out.extend_from_slice(&id.to_le_bytes());
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        self.out.push(b'X');
        self.out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.put()
    }

    fn global(&mut self, module: &str, name: &str) -> u32 {
        self.out.push(b'c');
        self.out
            .extend_from_slice(format!("{module}\n{name}\n").as_bytes());
        self.put()
    }

    fn int(&mut self, v: u64) {
        if v < 256 {
            self.out.extend_from_slice(&[b'K', v as u8]);
        } else if v < 65536 {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else {
            self.out.push(b'J');
            self.out.extend_from_slice(&(v as i32).to_le_bytes());
        }
    }

    fn tuple(&mut self, items: &[u64]) {
        self.out.push(b'(');
        for &i in items {
            self.int(i);
        }
        self.out.push(b't');
        self.put();
    }
}

/// The tensor names of the generated checkpoint: a transformer-like layout.
pub(crate) fn tensor_name(i: usize) -> String {
    format!("model.layers.{}.block.{}.weight", i / 8, i % 8)
}

/// A protocol 2 `data.pkl` holding an `OrderedDict` of `n` F16 tensors of `shape`, storage keys
/// `"0"`..`"n-1"`, with `SETITEMS` batched per 1,000 pairs as `pickle` does.
pub(crate) fn state_dict_pickle(n: usize, shape: &[u64]) -> Vec<u8> {
    let mut p = Pickler {
        out: vec![0x80, 2],
        memo: 0,
    };
    let od = p.global("collections", "OrderedDict");
    p.out.extend_from_slice(b")R");
    p.put();
    let numel: u64 = shape.iter().product();
    let mut stride = vec![1u64; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        stride[d] = stride[d + 1] * shape[d + 1];
    }
    let (mut rebuild, mut storage, mut half, mut cpu) = (None, None, None, None);
    for i in 0..n {
        if i % 1000 == 0 {
            if i > 0 {
                p.out.push(b'u');
            }
            p.out.push(b'(');
        }
        p.str(&tensor_name(i));
        match rebuild {
            Some(id) => p.get(id),
            None => rebuild = Some(p.global("torch._utils", "_rebuild_tensor_v2")),
        }
        p.out.extend_from_slice(b"((");
        match storage {
            Some(id) => p.get(id),
            None => storage = Some(p.str("storage")),
        }
        match half {
            Some(id) => p.get(id),
            None => half = Some(p.global("torch", "HalfStorage")),
        }
        p.str(&i.to_string());
        match cpu {
            Some(id) => p.get(id),
            None => cpu = Some(p.str("cpu")),
        }
        p.int(numel);
        p.out.push(b't');
        p.put();
        p.out.push(b'Q');
        p.int(0);
        p.tuple(shape);
        p.tuple(&stride);
        p.out.push(0x89);
        p.get(od);
        p.out.extend_from_slice(b")R");
        p.put();
        p.out.push(b't');
        p.put();
        p.out.push(b'R');
        p.put();
    }
    if n > 0 {
        p.out.push(b'u');
    }
    p.out.push(b'.');
    p.out
}

/// Writes the checkpoint of [`state_dict_pickle`] as a torch zip at `path`.
pub(crate) fn write_checkpoint(path: &Path, n: usize, shape: &[u64]) -> io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut zip = zip::ZipWriter::new(io::BufWriter::new(file));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", opts)?;
    zip.write_all(&state_dict_pickle(n, shape))?;
    zip.start_file("archive/byteorder", opts)?;
    zip.write_all(b"little")?;
    let bytes = vec![0x3cu8; (shape.iter().product::<u64>() * 2) as usize];
    for i in 0..n {
        zip.start_file(format!("archive/data/{i}"), opts)?;
        zip.write_all(&bytes)?;
    }
    zip.start_file("archive/version", opts)?;
    zip.write_all(b"3\n")?;
    zip.finish()?.flush()
}
