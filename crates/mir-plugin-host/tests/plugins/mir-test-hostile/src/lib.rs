//! A test-only `mir` plugin that misbehaves on request, to test the host's defences.
//!
//! It claims files starting with `HOSTILE:`; the word after the colon picks the misbehaviour
//! (`panic`, `utf8`, `rank`, `dims`, `eof`, `short`, `count`, `name`, `dup`, `null`, `meta`,
//! `severity`, `read`, `fail`, `ok`). Built by the host's integration tests; never shipped.

use mir_plugin_sdk::{
    Confidence, Emitter, HostReader, Plugin, PluginError, Severity, export_plugin,
};

/// The plugin type.
#[derive(Debug)]
pub struct Hostile;

export_plugin!(Hostile);

const PREFIX: &[u8] = b"HOSTILE:";

/// Calls the host's `emit_tensor` with raw arguments the safe API cannot express.
fn raw_tensor(
    out: &Emitter<'_>,
    name: &[u8],
    name_ptr_null: bool,
    dims: &[u64],
    range: (u64, u64),
) -> i32 {
    let api = out.host_api();
    let name_ptr = if name_ptr_null {
        std::ptr::null()
    } else {
        name.as_ptr()
    };
    // SAFETY: the callback and ctx are valid during parse; the pointers are to live slices (or
    // null, which the host must reject) and the lengths are the slices' lengths.
    unsafe {
        (api.emit_tensor)(
            api.ctx,
            name_ptr,
            name.len(),
            b"F32".as_ptr(),
            3,
            dims.as_ptr(),
            dims.len(),
            range.0,
            range.1,
        )
    }
}

impl Plugin for Hostile {
    const NAME: &'static str = "hostile";
    const VERSION: &'static str = "6.6.6";
    const EXTENSIONS: &'static [&'static str] = &["hostile"];

    fn sniff(head: &[u8], _file_len: u64) -> Confidence {
        if head.starts_with(b"HOSTILE:panic-in-sniff") {
            panic!("sniff panicked on purpose");
        }
        if head.starts_with(PREFIX) {
            Confidence::Magic
        } else {
            Confidence::No
        }
    }

    fn parse(reader: &mut HostReader<'_>, out: &mut Emitter<'_>) -> Result<(), PluginError> {
        let len = reader.len().min(64);
        let head = reader.read_vec(0, len, 64)?;
        let command = head.strip_prefix(PREFIX).unwrap_or_default();
        let word = std::str::from_utf8(command).unwrap_or("").trim();
        let none = (mir_plugin_sdk::abi::NO_DATA, mir_plugin_sdk::abi::NO_DATA);
        let stop = |rc: i32| {
            if rc == 0 {
                Ok(())
            } else {
                Err(PluginError::Stopped)
            }
        };
        match word {
            "panic" => panic!("the hostile plugin panics on purpose"),
            "utf8" => stop(raw_tensor(out, &[0x66, 0xff, 0xfe], false, &[1], none)),
            "rank" => stop(raw_tensor(out, b"t", false, &[1; 1000], none)),
            "dims" => stop(raw_tensor(out, b"t", false, &[u64::MAX, 3], none)),
            "eof" => stop(raw_tensor(out, b"t", false, &[2], (0, reader.len() + 100))),
            "short" => stop(raw_tensor(out, b"t", false, &[1000], (0, 8))),
            "null" => stop(raw_tensor(out, b"hello", true, &[1], none)),
            "name" => stop(raw_tensor(out, &vec![b'a'; 100_000], false, &[1], none)),
            "count" => {
                // Ignores the host's "stop" answers on purpose, a million times.
                for i in 0..1_000_000u32 {
                    let name = format!("t{i}");
                    raw_tensor(out, name.as_bytes(), false, &[1], none);
                }
                Ok(())
            }
            "dup" => {
                out.tensor("same", "F32", &[1], None)?;
                out.tensor("same", "F16", &[2], None)
            }
            "meta" => {
                let api = out.host_api();
                // SAFETY: valid callback and ctx during parse; live slices with their lengths.
                let rc = unsafe {
                    (api.emit_metadata)(api.ctx, b"k".as_ptr(), 1, [0xc3u8, 0x28].as_ptr(), 2)
                };
                stop(rc)
            }
            "severity" => {
                let api = out.host_api();
                // SAFETY: as above.
                let rc = unsafe { (api.emit_finding)(api.ctx, 9, b"odd".as_ptr(), 3) };
                stop(rc)
            }
            "read" => {
                // Reads the file over and over, far past any header budget.
                let mut buf = vec![0u8; reader.len() as usize];
                for _ in 0..1_000_000 {
                    reader.read_at(0, &mut buf)?;
                }
                Ok(())
            }
            "fail" => Err(PluginError::format("this file is not to my liking")),
            "ok" => {
                out.metadata("hostile.mood", "calm")?;
                out.finding(Severity::Suspicious, "nothing to see")?;
                out.tensor("a.weight", "BF16", &[2, 3], Some((0, 12)))?;
                out.tensor("b.bias", "Q4_K", &[7], None)
            }
            other => Err(PluginError::Unsupported(format!(
                "unknown command {other:?}"
            ))),
        }
    }
}
