//! Positioned reads from a file (or from bytes in memory) with bounds checked before allocation.

use std::fs::{File, Metadata};
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
    /// Opens `path` read-only and records its length. Anything but a regular file is refused
    /// from the open handle, before any read (see [`open_regular`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Source, Error> {
        Source::open_checked(path, None)
    }

    /// Like [`Source::open`], and refuses with [`Error::Replaced`] unless the file opened is
    /// `expected` (the identity a directory walk saw). The check is made on the open handle, so
    /// a symlink retargeted, or a file swapped, between the walk and the open is never read.
    pub fn open_expecting(path: impl AsRef<Path>, expected: FileId) -> Result<Source, Error> {
        Source::open_checked(path, Some(expected))
    }

    fn open_checked(path: impl AsRef<Path>, expected: Option<FileId>) -> Result<Source, Error> {
        let path = path.as_ref();
        let (file, meta) = open_regular(path, expected)?;
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
    pub fn read_exact_at(
        &self,
        offset: u64,
        buf: &mut [u8],
        what: &'static str,
    ) -> Result<(), Error> {
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
    /// range lies inside the file, so a hostile length allocates nothing. A buffer the allocator
    /// cannot provide is [`Error::OutOfMemory`], never an abort.
    pub fn read_vec(
        &self,
        offset: u64,
        len: u64,
        what: &'static str,
        limit: u64,
    ) -> Result<Vec<u8>, Error> {
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
        let mut buf = zeroed(n, what)?;
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

/// A file's identity on disk: device and inode. Two paths with the same identity name the same
/// file; a path whose identity changed names another file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
}

impl FileId {
    /// The identity in `meta`; `None` where the platform has none (or reports 0:0).
    pub fn of(meta: &Metadata) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let id = FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            };
            (id.dev != 0 || id.ino != 0).then_some(id)
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

/// Opens `path` read-only for reading its bytes, and returns the handle with its metadata.
///
/// Every reader of weight files (header parsers through [`Source`], and the whole-file hashers)
/// opens through this one function, which:
///
/// * opens with `O_NONBLOCK` (and `O_NOCTTY`) on Unix, so opening a FIFO never waits for a
///   writer (a plain open of a FIFO blocks until one appears, i.e. forever);
/// * checks the **open handle** with `fstat` and refuses anything but a regular file
///   ([`Error::NotRegularFile`]) before any byte is read: a FIFO, socket or device that replaced
///   a file after it was listed is never read from;
/// * when `expected` is given, refuses a file whose device and inode differ
///   ([`Error::Replaced`]): a symlink retargeted outside the scanned roots, or a file swapped,
///   between the walk that accepted it and this open is never read.
///
/// `O_NONBLOCK` changes nothing for reads of a regular file.
pub fn open_regular(path: &Path, expected: Option<FileId>) -> Result<(File, Metadata), Error> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(Error::NotRegularFile { kind: kind_of(&ft) });
    }
    if let Some(want) = expected
        && let Some(found) = FileId::of(&meta)
        && found != want
    {
        return Err(Error::Replaced {
            expected_dev: want.dev,
            expected_ino: want.ino,
            found_dev: found.dev,
            found_ino: found.ino,
        });
    }
    Ok((file, meta))
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "fifo";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_char_device() {
            return "character device";
        }
        if ft.is_block_device() {
            return "block device";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symlink"
    } else {
        "special file"
    }
}

/// A zero-filled buffer of `len` bytes, or [`Error::OutOfMemory`] naming `what` when the
/// allocator cannot provide it (instead of aborting the process). For buffers whose size comes
/// from a file, after the size was checked against the [`crate::Limits`].
pub fn zeroed(len: usize, what: &'static str) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    grow_zeroed(&mut buf, len, what)?;
    Ok(buf)
}

/// Extends `buf` with zeros to `len` bytes (nothing when it is that long already), or
/// [`Error::OutOfMemory`] when the allocator cannot provide the memory.
pub fn grow_zeroed(buf: &mut Vec<u8>, len: usize, what: &'static str) -> Result<(), Error> {
    let extra = len.saturating_sub(buf.len());
    if extra == 0 {
        return Ok(());
    }
    buf.try_reserve_exact(extra)
        .map_err(|_| Error::OutOfMemory {
            what,
            bytes: len as u64,
        })?;
    buf.resize(len, 0);
    Ok(())
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
            Err(Error::Truncated {
                what: "hdr",
                end: 4,
                file_len: 3
            })
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
    fn an_allocation_the_allocator_refuses_is_an_error_not_an_abort() {
        // More than `isize::MAX` bytes: no allocator can provide it, whatever the overcommit mode.
        let huge = usize::MAX / 2 + 1;
        assert!(matches!(
            zeroed(huge, "header"),
            Err(Error::OutOfMemory { what: "header", .. })
        ));
        let mut buf = vec![1u8; 4];
        assert!(matches!(
            grow_zeroed(&mut buf, huge, "chunk"),
            Err(Error::OutOfMemory { what: "chunk", .. })
        ));
        assert_eq!(
            buf,
            [1, 1, 1, 1],
            "a failed growth leaves the buffer as it was"
        );
        grow_zeroed(&mut buf, 6, "chunk").unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 0, 0]);
        assert_eq!(zeroed(3, "x").unwrap(), [0, 0, 0]);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_refused_at_open_without_blocking() {
        let dir = tempfile_dir("fifo");
        let fifo = dir.join("model.safetensors");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if made {
            // A plain open would wait for a writer forever; this returns at once.
            let (tx, rx) = std::sync::mpsc::channel();
            let p = fifo.clone();
            std::thread::spawn(move || {
                let _ = tx.send(Source::open(&p).map(|_| ()));
            });
            let got = rx
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("opening a FIFO must not block");
            assert!(
                matches!(got, Err(Error::NotRegularFile { kind: "fifo" })),
                "{got:?}"
            );
        }
        assert!(matches!(
            Source::open("/dev/null"),
            Err(Error::NotRegularFile {
                kind: "character device"
            })
        ));
        assert!(matches!(
            Source::open(&dir),
            Err(Error::NotRegularFile { kind: "directory" })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_file_that_is_not_the_one_expected_is_refused_before_any_read() {
        let dir = tempfile_dir("ident");
        let a = dir.join("a.bin");
        let b = dir.join("b.bin");
        std::fs::write(&a, b"secret-a").unwrap();
        std::fs::write(&b, b"secret-b").unwrap();
        let id_a = FileId::of(&std::fs::metadata(&a).unwrap()).unwrap();
        let id_b = FileId::of(&std::fs::metadata(&b).unwrap()).unwrap();
        assert_ne!(id_a, id_b);
        assert_eq!(Source::open_expecting(&a, id_a).unwrap().len(), 8);
        // A symlink that was checked pointing at `a` and now points at `b`.
        let link = dir.join("link.bin");
        std::os::unix::fs::symlink(&b, &link).unwrap();
        let e = Source::open_expecting(&link, id_a).unwrap_err();
        assert!(matches!(e, Error::Replaced { .. }), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mir-core-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
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
