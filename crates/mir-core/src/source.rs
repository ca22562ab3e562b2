//! Positioned reads from a file (or from bytes in memory) with bounds checked before allocation.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Limits};

/// A file opened for header reads.
///
/// Reads are positioned (`pread` on Unix) and never memory-mapped: a file that shrinks while it is
/// scanned gives [`Error::Truncated`], never a `SIGBUS`. The length is taken once at open; reads
/// past it are refused before any buffer is allocated.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    len: u64,
    backing: Backing,
}

#[derive(Debug, Clone)]
enum Backing {
    File(Arc<File>),
    Memory(Arc<[u8]>),
}

impl Source {
    /// Opens `path` read-only and records its length.
    pub fn open(path: impl AsRef<Path>) -> Result<Source, Error> {
        let path = path.as_ref();
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            )));
        }
        Ok(Source {
            path: path.to_path_buf(),
            len: meta.len(),
            backing: Backing::File(Arc::new(file)),
        })
    }

    /// Wraps bytes in memory (tests, fuzzing, plugin hosts); `name` stands in for a path.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> Source {
        let bytes: Arc<[u8]> = bytes.into();
        Source {
            path: name.into(),
            len: bytes.len() as u64,
            backing: Backing::Memory(bytes),
        }
    }

    /// The path this source was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length at open time.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for a zero-byte file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file name's extension, lowercased (`safetensors`, `gguf`, …).
    pub fn extension(&self) -> Option<String> {
        self.path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    }

    /// Fills `buf` from `offset`. Fails with [`Error::Truncated`] naming `what` when the file
    /// (as opened, or as it is now) ends first.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8], what: &'static str) -> Result<(), Error> {
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(Error::Truncated {
                what,
                end: u64::MAX,
                file_len: self.len,
            })?;
        let truncated = || Error::Truncated {
            what,
            end,
            file_len: self.len,
        };
        if end > self.len {
            return Err(truncated());
        }
        match &self.backing {
            Backing::Memory(bytes) => {
                let start = usize::try_from(offset).map_err(|_| truncated())?;
                let stop = usize::try_from(end).map_err(|_| truncated())?;
                let src = bytes.get(start..stop).ok_or_else(truncated)?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Backing::File(file) => match read_at(file, buf, offset) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(truncated()),
                Err(e) => Err(Error::Io(e)),
            },
        }
    }

    /// Reads `len` bytes at `offset` into a new buffer, after checking `len <= limit` and that the
    /// range lies inside the file, so a hostile length allocates nothing.
    pub fn read_vec(&self, offset: u64, len: u64, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
        Limits::check(what, len, limit)?;
        let end = offset.saturating_add(len);
        if end > self.len {
            return Err(Error::Truncated {
                what,
                end,
                file_len: self.len,
            });
        }
        let n = usize::try_from(len).map_err(|_| Error::LimitExceeded {
            what,
            value: len,
            limit,
        })?;
        let mut buf = vec![0u8; n];
        self.read_exact_at(offset, &mut buf, what)?;
        Ok(buf)
    }

    /// Up to `n` bytes from the start of the file (fewer when the file is shorter).
    pub fn head(&self, n: usize) -> Result<Vec<u8>, Error> {
        let n = (n as u64).min(self.len);
        self.read_vec(0, n, "file head", n)
    }

    /// A `Read + Seek` cursor over this source, built on positioned reads (for crates such as
    /// `zip` that want a reader). Each clone has its own position.
    pub fn reader(&self) -> SourceReader {
        SourceReader {
            source: self.clone(),
            pos: 0,
        }
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A `Read + Seek` view of a [`Source`], see [`Source::reader`].
#[derive(Debug, Clone)]
pub struct SourceReader {
    source: Source,
    pos: u64,
}

impl Read for SourceReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.source.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(remaining) as usize;
        if n == 0 {
            return Ok(0);
        }
        let dst = buf.get_mut(..n).ok_or(io::ErrorKind::InvalidInput)?;
        self.source
            .read_exact_at(self.pos, dst, "reader")
            .map_err(|e| match e {
                Error::Io(io) => io,
                other => io::Error::new(io::ErrorKind::UnexpectedEof, other.to_string()),
            })?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SourceReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.source.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = new;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_truncation_errors() {
        let s = Source::from_bytes("mem", vec![1u8, 2, 3]);
        let mut b = [0u8; 2];
        s.read_exact_at(1, &mut b, "x").unwrap();
        assert_eq!(b, [2, 3]);
        assert!(matches!(
            s.read_exact_at(2, &mut b, "hdr"),
            Err(Error::Truncated { what: "hdr", end: 4, file_len: 3 })
        ));
        assert!(matches!(
            s.read_vec(0, u64::MAX, "bomb", 100),
            Err(Error::LimitExceeded { what: "bomb", .. })
        ));
        assert!(matches!(
            s.read_vec(2, 50, "past", 100),
            Err(Error::Truncated { .. })
        ));
        assert_eq!(s.head(10).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn file_shrunk_after_open_is_truncation() {
        let dir = std::env::temp_dir().join(format!("mir-core-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.bin");
        std::fs::write(&p, [7u8; 64]).unwrap();
        let s = Source::open(&p).unwrap();
        std::fs::write(&p, [7u8; 8]).unwrap();
        let mut b = [0u8; 32];
        assert!(matches!(
            s.read_exact_at(16, &mut b, "late"),
            Err(Error::Truncated { what: "late", .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reader_reads_and_seeks() {
        let s = Source::from_bytes("mem", (0u8..10).collect::<Vec<_>>());
        let mut r = s.reader();
        r.seek(SeekFrom::End(-3)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, vec![7, 8, 9]);
    }
}
