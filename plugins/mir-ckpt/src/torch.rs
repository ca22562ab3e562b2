//! What the inert value graph of a torch pickle means: tensors, state dicts, metadata, globals.

use std::collections::{BTreeMap, HashMap};

use mir_core::{Dtype, Error, Finding, Limits, MetaValue, Severity, TensorIndex, TensorRecord};

use crate::pickle::{Node, Pickle, Value};

/// Keys under which checkpoints nest their state dict, in order of preference: Lightning and
/// most trainers use `state_dict`; upscalers (BasicSR, Real-ESRGAN) store `params_ema` next to
/// `params` and the EMA weights are the ones to use, as spandrel does; DeepSpeed uses `module`;
/// others use `model`, `net` or `ema`. The first key whose subtree holds a tensor wins.
pub(crate) const WRAPPER_KEYS: &[&str] = &[
    "state_dict",
    "model_state_dict",
    "params_ema",
    "params-ema",
    "params",
    "model",
    "module",
    "net",
    "network",
    "ema",
    "model_ema",
    "g_ema",
    "generator",
];

/// Keys of a pickled `nn.Module`'s `__dict__` that hold parameters, buffers and submodules; they
/// add no segment to a tensor's name, so a whole pickled model lists its state-dict names.
const MODULE_ATTRS: &[&str] = &["_parameters", "_buffers", "_modules"];

/// One storage a tensor points into (a persistent id).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StorageRef {
    /// The storage key: `data/<key>` in a zip, an entry of the key list in a legacy file.
    pub(crate) key: String,
    /// Elements the storage declares, in units of `unit` bytes.
    pub(crate) numel: Option<u64>,
    /// Bytes per element of the storage class (1 for `UntypedStorage`).
    pub(crate) unit: Option<u64>,
}

/// A tensor found in the graph.
#[derive(Clone, Debug)]
pub(crate) struct TensorRef {
    pub(crate) dtype: Dtype,
    pub(crate) shape: Vec<u64>,
    pub(crate) stride: Option<Vec<u64>>,
    /// Offset into the storage, in elements of `dtype`.
    pub(crate) offset: u64,
    pub(crate) storage: Option<StorageRef>,
}

impl TensorRef {
    /// Bytes per element, for element-wise dtypes that take whole bytes.
    pub(crate) fn itemsize(&self) -> Option<u64> {
        itemsize(&self.dtype)
    }

    /// The elements the tensor spans in its storage (past its offset): `1 + Σ (size-1)·stride`,
    /// or the element count when no stride is known; 0 for an empty tensor.
    pub(crate) fn span(&self) -> Option<u64> {
        if self.shape.contains(&0) {
            return Some(0);
        }
        match &self.stride {
            Some(stride) if stride.len() == self.shape.len() => self
                .shape
                .iter()
                .zip(stride)
                .try_fold(1u64, |acc, (&n, &s)| {
                    n.checked_sub(1)?.checked_mul(s)?.checked_add(acc)
                }),
            _ => self.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)),
        }
    }
}

fn itemsize(dtype: &Dtype) -> Option<u64> {
    match dtype.bits() {
        Some(bits) if bits % 8 == 0 => Some(u64::from(bits / 8)),
        Some(_) => None,
        None => match dtype.name() {
            "QINT8" | "QUINT8" | "QUINT4X2" | "QUINT2X4" | "F4_E2M1FN_X2" => Some(1),
            "QINT32" | "C32" => Some(4),
            _ => None,
        },
    }
}

/// A torch dtype name (`float16`, `float8_e4m3fn`, …) as a [`Dtype`].
pub(crate) fn dtype_from_torch(name: &str) -> Dtype {
    match name {
        "float32" | "float" => Dtype::F32,
        "float64" | "double" => Dtype::F64,
        "float16" | "half" => Dtype::F16,
        "bfloat16" => Dtype::BF16,
        "int64" | "long" => Dtype::I64,
        "int32" | "int" => Dtype::I32,
        "int16" | "short" => Dtype::I16,
        "int8" => Dtype::I8,
        "uint8" => Dtype::U8,
        "uint16" => Dtype::U16,
        "uint32" => Dtype::U32,
        "uint64" => Dtype::U64,
        "bool" => Dtype::Bool,
        "complex64" | "cfloat" => Dtype::C64,
        "complex128" | "cdouble" => Dtype::C128,
        "float8_e4m3fn" => Dtype::F8E4M3,
        "float8_e5m2" => Dtype::F8E5M2,
        "float8_e4m3fnuz" => Dtype::F8E4M3Fnuz,
        "float8_e5m2fnuz" => Dtype::F8E5M2Fnuz,
        "float8_e8m0fnu" => Dtype::F8E8M0,
        "float4_e2m1fn_x2" => Dtype::Other("F4_E2M1FN_X2".into()),
        "complex32" | "chalf" => Dtype::Other("C32".into()),
        "qint8" => Dtype::Other("QINT8".into()),
        "quint8" => Dtype::Other("QUINT8".into()),
        "qint32" => Dtype::Other("QINT32".into()),
        "quint4x2" => Dtype::Other("QUINT4X2".into()),
        "quint2x4" => Dtype::Other("QUINT2X4".into()),
        other => Dtype::Other(other.to_ascii_uppercase().into()),
    }
}

/// The dtype of a typed storage class (`HalfStorage` → F16); `None` for `UntypedStorage` and
/// names that are not storage classes.
fn dtype_from_storage_class(name: &str) -> Option<Dtype> {
    Some(match name {
        "FloatStorage" => Dtype::F32,
        "DoubleStorage" => Dtype::F64,
        "HalfStorage" => Dtype::F16,
        "BFloat16Storage" => Dtype::BF16,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::Bool,
        "ComplexFloatStorage" => Dtype::C64,
        "ComplexDoubleStorage" => Dtype::C128,
        "QInt8Storage" => dtype_from_torch("qint8"),
        "QUInt8Storage" => dtype_from_torch("quint8"),
        "QInt32Storage" => dtype_from_torch("qint32"),
        "QUInt4x2Storage" => dtype_from_torch("quint4x2"),
        "QUInt2x4Storage" => dtype_from_torch("quint2x4"),
        _ => return None,
    })
}

const TORCH_DTYPES: &[&str] = &[
    "float32",
    "float",
    "float64",
    "double",
    "float16",
    "half",
    "bfloat16",
    "int64",
    "long",
    "int32",
    "int",
    "int16",
    "short",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "cfloat",
    "complex128",
    "cdouble",
    "complex32",
    "chalf",
    "float8_e4m3fn",
    "float8_e5m2",
    "float8_e4m3fnuz",
    "float8_e5m2fnuz",
    "float8_e8m0fnu",
    "float4_e2m1fn_x2",
    "qint8",
    "quint8",
    "qint32",
    "quint4x2",
    "quint2x4",
    "bits1x8",
    "bits2x4",
    "bits4x2",
    "bits8",
    "bits16",
];

const REBUILD_FUNCTIONS: &[&str] = &[
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_nested_tensor",
    "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_device_tensor_from_numpy",
];

const TENSOR_CLASS_PREFIXES: &[&str] = &[
    "Float",
    "Double",
    "Half",
    "BFloat16",
    "Long",
    "Int",
    "Short",
    "Char",
    "Byte",
    "Bool",
    "ComplexFloat",
    "ComplexDouble",
    "QInt8",
    "QUInt8",
    "QInt32",
    "QUInt4x2",
    "QUInt2x4",
];

/// Whether PyTorch's weights-only unpickler (`torch/_weights_only_unpickler.py`,
/// `_get_allowed_globals`) accepts this global without user opt-in.
fn allowed(module: &str, name: &str) -> bool {
    let class_of = |suffix: &str| {
        name.strip_suffix(suffix)
            .is_some_and(|p| TENSOR_CLASS_PREFIXES.contains(&p))
    };
    match module {
        "collections" => matches!(name, "OrderedDict" | "Counter"),
        "builtins" => matches!(name, "set" | "bytearray" | "complex"),
        "_codecs" => name == "encode",
        "torch" => {
            TORCH_DTYPES.contains(&name)
                || class_of("Storage")
                || class_of("Tensor")
                || matches!(
                    name,
                    "Size"
                        | "Tensor"
                        | "device"
                        | "UntypedStorage"
                        | "per_tensor_affine"
                        | "per_channel_affine"
                        | "per_tensor_symmetric"
                        | "per_channel_symmetric"
                        | "per_channel_affine_float_qparams"
                )
        }
        "torch.cuda" => class_of("Storage") || class_of("Tensor"),
        "torch.storage" => name == "UntypedStorage",
        "torch._utils" => REBUILD_FUNCTIONS.contains(&name),
        "torch._tensor" => name == "_rebuild_from_type_v2",
        "torch.nn.parameter" => name == "Parameter",
        "torch.serialization" => name == "_get_layout",
        _ => false,
    }
}

/// Modules whose every global can run commands, touch files or the network, or load code.
const DANGEROUS_MODULES: &[&str] = &[
    "os",
    "posix",
    "nt",
    "subprocess",
    "_posixsubprocess",
    "sys",
    "socket",
    "runpy",
    "shutil",
    "pty",
    "ctypes",
    "importlib",
    "imp",
    "zipimport",
    "pickle",
    "_pickle",
    "marshal",
    "code",
    "codeop",
    "pdb",
    "bdb",
    "timeit",
    "profile",
    "cProfile",
    "trace",
    "webbrowser",
    "multiprocessing",
    "asyncio",
    "urllib",
    "urllib2",
    "requests",
    "http",
    "httplib",
    "ftplib",
    "telnetlib",
    "smtplib",
    "commands",
    "platform",
    "signal",
    "types",
    "pip",
    "venv",
    "ensurepip",
];

/// Builtins that evaluate code, import, open files or reach arbitrary attributes.
const DANGEROUS_BUILTINS: &[&str] = &[
    "eval",
    "exec",
    "execfile",
    "compile",
    "open",
    "file",
    "__import__",
    "getattr",
    "setattr",
    "delattr",
    "globals",
    "locals",
    "vars",
    "input",
    "breakpoint",
    "apply",
    "reload",
];

/// `None` when torch's weights-only loader allows the global; otherwise how bad it is.
pub(crate) fn global_severity(module: &str, name: &str) -> Option<Severity> {
    if allowed(module, name) {
        return None;
    }
    let top = module.split('.').next().unwrap_or(module);
    let unsafe_global = DANGEROUS_MODULES.contains(&top)
        || (matches!(module, "builtins" | "__builtin__" | "__builtins__")
            && DANGEROUS_BUILTINS.contains(&name))
        || (module == "operator" && matches!(name, "attrgetter" | "methodcaller"))
        || (module == "torch.utils.collect_env" && name == "run")
        || module == "torch.hub"
        || (matches!(module, "torch" | "torch.serialization" | "numpy") && name == "load");
    Some(if unsafe_global {
        Severity::Unsafe
    } else {
        Severity::Suspicious
    })
}

/// What a value is, as far as tensors go.
enum Kind {
    NotTensor,
    Tensor(TensorRef),
    /// A tensor this reader does not list (sparse, nested, wrapper subclasses, or a rebuild call
    /// with malformed arguments), with the reason.
    Unlisted(String),
}

/// Reads the graph; all helpers return `None` on any shape they do not expect.
struct Reader<'p> {
    p: &'p Pickle,
}

impl<'p> Reader<'p> {
    fn u64(&self, v: Value) -> Option<u64> {
        match v {
            Value::Int(i) => u64::try_from(i).ok(),
            _ => None,
        }
    }

    /// A tuple of non-negative integers, or `torch.Size(tuple)`.
    fn dims(&self, v: Value) -> Option<Vec<u64>> {
        let items = match self.p.node(v)? {
            Node::Tuple(items) | Node::List(items) => items,
            Node::Object { func, args, .. } if self.p.global(*func) == Some(("torch", "Size")) => {
                return self.dims(*self.p.seq(*args)?.first()?);
            }
            _ => return None,
        };
        items.iter().map(|&d| self.u64(d)).collect()
    }

    fn storage(&self, v: Value) -> Option<(StorageRef, Option<Dtype>, u64)> {
        let Some(Node::PersId(id)) = self.p.node(v) else {
            return None;
        };
        let t = self.p.seq(*id)?;
        if self.p.str(*t.first()?) != Some("storage") {
            return None;
        }
        let (_, class) = self.p.global(*t.get(1)?)?;
        let key = match *t.get(2)? {
            Value::Int(i) => i.to_string(),
            other => self.p.str(other)?.to_owned(),
        };
        let numel = t.get(4).and_then(|&n| self.u64(n));
        let dtype = dtype_from_storage_class(class);
        let unit = match &dtype {
            Some(d) => itemsize(d),
            None if class == "UntypedStorage" => Some(1),
            None => None,
        };
        // Legacy files: `(view_key, offset, size)` when the tensor's storage is a view.
        let view_offset = t
            .get(5)
            .and_then(|&m| self.p.seq(m))
            .and_then(|m| m.get(1).and_then(|&o| self.u64(o)))
            .unwrap_or(0);
        let dtype =
            dtype.or_else(|| (class != "UntypedStorage").then(|| Dtype::Other(class.into())));
        Some((StorageRef { key, numel, unit }, dtype, view_offset))
    }

    fn kind(&self, v: Value, depth: u8) -> Kind {
        match self.p.node(v) {
            Some(Node::Object { func, args, .. }) => self.call(*func, *args, depth),
            _ => Kind::NotTensor,
        }
    }

    fn call(&self, func: Value, args: Value, depth: u8) -> Kind {
        let Some((module, name)) = self.p.global(func) else {
            return Kind::NotTensor;
        };
        let malformed = || Kind::Unlisted(format!("{module}.{name} with unexpected arguments"));
        let Some(a) = self.p.seq(args) else {
            return if matches!(module, "torch._utils" | "torch._tensor")
                && name.starts_with("_rebuild")
            {
                malformed()
            } else {
                Kind::NotTensor
            };
        };
        // Wrappers nest a handful of levels at most; more is not a tensor.
        let deeper = depth.saturating_add(1);
        match (module, name) {
            (
                "torch._utils",
                "_rebuild_tensor" | "_rebuild_tensor_v2" | "_rebuild_tensor_v3"
                | "_rebuild_qtensor",
            ) => self
                .rebuild(a, name == "_rebuild_tensor_v3")
                .map_or_else(malformed, Kind::Tensor),
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")
            | ("torch.nn.parameter", "Parameter") => match a.first() {
                Some(&t) if depth < 4 => self.kind(t, deeper),
                _ => malformed(),
            },
            // `_rebuild_from_type_v2(func, type, args, state)` calls `func(*args)`.
            ("torch._tensor", "_rebuild_from_type_v2") => match (a.first(), a.get(2)) {
                (Some(&f), Some(&fa)) if depth < 4 => self.call(f, fa, deeper),
                _ => malformed(),
            },
            ("torch._utils", "_rebuild_meta_tensor_no_storage") => {
                let dtype = a
                    .first()
                    .and_then(|&d| self.p.global(d))
                    .map(|(_, n)| dtype_from_torch(n));
                match (dtype, a.get(1).and_then(|&s| self.dims(s))) {
                    (Some(dtype), Some(shape)) => Kind::Tensor(TensorRef {
                        dtype,
                        shape,
                        stride: a.get(2).and_then(|&s| self.dims(s)),
                        offset: 0,
                        storage: None,
                    }),
                    _ => malformed(),
                }
            }
            ("torch._utils", other) if other.starts_with("_rebuild") => {
                Kind::Unlisted(format!("torch._utils.{other} tensors are not listed"))
            }
            _ => Kind::NotTensor,
        }
    }

    /// `_rebuild_tensor(_v2|_v3)(storage, storage_offset, size, stride, …[, dtype at 6 for v3])`.
    fn rebuild(&self, a: &[Value], v3: bool) -> Option<TensorRef> {
        let (storage, storage_dtype, view_offset) = self.storage(*a.first()?)?;
        let offset = self.u64(*a.get(1)?)?.checked_add(view_offset)?;
        let shape = self.dims(*a.get(2)?)?;
        let stride = a.get(3).and_then(|&s| self.dims(s));
        let dtype = if v3 {
            let (_, name) = self.p.global(*a.get(6)?)?;
            dtype_from_torch(name)
        } else {
            storage_dtype?
        };
        Some(TensorRef {
            dtype,
            shape,
            stride,
            offset,
            storage: Some(storage),
        })
    }
}

/// A tensor with the path of keys that leads to it.
struct Found {
    path: Vec<String>,
    tensor: TensorRef,
}

/// Walks the graph from the root, collecting every tensor under dicts, lists and object state.
struct Walker<'p> {
    r: Reader<'p>,
    limits: &'p Limits,
    visited: u64,
    budget: u64,
    path: Vec<String>,
    found: Vec<Found>,
    too_deep: bool,
    unlisted: BTreeMap<String, u64>,
}

impl Walker<'_> {
    fn key(&self, k: Value) -> Option<String> {
        match k {
            Value::Int(i) => Some(i.to_string()),
            Value::Bool(b) => Some(if b { "True" } else { "False" }.to_owned()),
            other => self.r.p.str(other).map(str::to_owned),
        }
    }

    fn visit(&mut self, v: Value, depth: usize) -> Result<(), Error> {
        self.visited = self.visited.saturating_add(1);
        if self.visited > self.budget {
            return Err(Error::LimitExceeded {
                what: "pickle walk (values reached through shared memo references)",
                value: self.visited,
                limit: self.budget,
            });
        }
        let Value::Ref(_) = v else { return Ok(()) };
        match self.r.kind(v, 0) {
            Kind::Tensor(tensor) => {
                Limits::check(
                    "tensor count",
                    (self.found.len() as u64).saturating_add(1),
                    self.limits.max_tensors,
                )?;
                self.found.push(Found {
                    path: self.path.clone(),
                    tensor,
                });
                return Ok(());
            }
            Kind::Unlisted(why) => {
                let n = self.unlisted.entry(why).or_default();
                *n = n.saturating_add(1);
                return Ok(());
            }
            Kind::NotTensor => {}
        }
        if depth >= self.limits.max_depth {
            if matches!(
                self.r.p.node(v),
                Some(Node::Dict(_) | Node::List(_) | Node::Tuple(_) | Node::Object { .. })
            ) {
                self.too_deep = true;
            }
            return Ok(());
        }
        let p = self.r.p;
        let next = depth.saturating_add(1);
        match p.node(v) {
            Some(Node::Dict(entries)) => self.entries(entries, next, false)?,
            Some(Node::List(items) | Node::Tuple(items)) => self.items(items, next)?,
            Some(Node::Object {
                state,
                items,
                elements,
                ..
            }) => {
                self.entries(items, next, false)?;
                self.items(elements, next)?;
                match state.and_then(|s| p.node(s)) {
                    Some(Node::Dict(entries)) => self.entries(entries, next, true)?,
                    // `(state, slotstate)` pairs and other shapes: search them as they are.
                    Some(_) => {
                        if let Some(s) = *state {
                            self.visit(s, next)?;
                        }
                    }
                    None => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn entries(
        &mut self,
        entries: &[(Value, Value)],
        depth: usize,
        module_state: bool,
    ) -> Result<(), Error> {
        for &(k, val) in entries {
            let Some(key) = self.key(k) else {
                continue;
            };
            if module_state && MODULE_ATTRS.contains(&key.as_str()) {
                self.visit(val, depth)?;
            } else {
                self.path.push(key);
                let r = self.visit(val, depth);
                self.path.pop();
                r?;
            }
        }
        Ok(())
    }

    fn items(&mut self, items: &[Value], depth: usize) -> Result<(), Error> {
        for (i, &item) in items.iter().enumerate() {
            self.path.push(i.to_string());
            let r = self.visit(item, depth);
            self.path.pop();
            r?;
        }
        Ok(())
    }
}

/// Where a storage's bytes are in the file, as the container knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StorageData {
    /// Absolute offset of the first byte, when the bytes are stored uncompressed.
    pub(crate) start: Option<u64>,
    /// The storage's length in bytes.
    pub(crate) len: u64,
}

/// Collects findings, capping repeats of one kind so a hostile file cannot flood the record.
#[derive(Default)]
pub(crate) struct Findings {
    list: Vec<Finding>,
    /// Per kind: how many were pushed, and the severity of the last one.
    per_kind: BTreeMap<&'static str, (u64, Severity)>,
}

/// How many findings of one kind are listed before the rest are only counted.
const FINDINGS_PER_KIND: u64 = 8;

impl Findings {
    /// Adds a finding; `kind` groups findings for the cap and names them in the summary line.
    pub(crate) fn push(&mut self, kind: &'static str, severity: Severity, message: String) {
        let entry = self.per_kind.entry(kind).or_insert((0, severity));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = severity;
        if entry.0 <= FINDINGS_PER_KIND {
            self.list.push(Finding { severity, message });
        }
    }

    /// The findings, plus one summary line per kind that went over the cap.
    pub(crate) fn finish(mut self) -> Vec<Finding> {
        for (kind, (n, severity)) in self.per_kind {
            if n > FINDINGS_PER_KIND {
                self.list.push(Finding {
                    severity,
                    message: format!(
                        "{} more findings of kind \"{kind}\"",
                        n.saturating_sub(FINDINGS_PER_KIND)
                    ),
                });
            }
        }
        self.list
    }
}

/// Everything the container knows that the index needs.
pub(crate) struct Container<'a> {
    /// `zip`, `legacy` or `pickle`.
    pub(crate) kind: &'static str,
    /// The pickle's name in findings (`data.pkl`, …).
    pub(crate) stream: &'static str,
    /// Storage key → data, when the container has storages.
    pub(crate) storages: Option<&'a HashMap<String, StorageData>>,
    /// Whether `storages` lists every storage the file holds (a storage that is not listed is
    /// then missing from the file, which is reported).
    pub(crate) storages_complete: bool,
    /// Extra metadata (byte order, …).
    pub(crate) metadata: BTreeMap<String, MetaValue>,
    /// Findings the container made.
    pub(crate) findings: Findings,
}

/// Reports the globals a pickle named (one finding each).
pub(crate) fn report_globals(p: &Pickle, stream: &str, findings: &mut Findings) {
    for (module, name) in &p.globals {
        if let Some(severity) = global_severity(module, name) {
            findings.push(
                "global",
                severity,
                format!("global {module}.{name} in {stream}"),
            );
        }
    }
}

/// The tensors of a pickle's graph, found by one walk.
pub(crate) struct WalkResult {
    found: Vec<Found>,
    too_deep: bool,
    unlisted: BTreeMap<String, u64>,
}

impl WalkResult {
    /// The bytes per element of each storage the tensors use (for legacy data offsets).
    pub(crate) fn storage_units(&self) -> HashMap<&str, Option<u64>> {
        self.found
            .iter()
            .filter_map(|f| f.tensor.storage.as_ref().map(|s| (s.key.as_str(), s.unit)))
            .collect()
    }
}

/// Walks the graph from the root and collects every tensor.
pub(crate) fn walk(p: &Pickle, limits: &Limits) -> Result<WalkResult, Error> {
    // A tree visits each value once, and every value was counted in `items` when it was built or
    // put in a container; only shared references (memo `GET`s) can make the walk longer than
    // that, so twice the count plus slack is generous for real files and stops a memo bomb at
    // once.
    let budget = p
        .items
        .saturating_mul(2)
        .saturating_add(1024)
        .min(limits.max_pickle_items.saturating_mul(2).max(1024));
    let mut w = Walker {
        r: Reader { p },
        limits,
        visited: 0,
        budget,
        path: Vec::new(),
        found: Vec::new(),
        too_deep: false,
        unlisted: BTreeMap::new(),
    };
    w.visit(p.root, 0)?;
    Ok(WalkResult {
        found: w.found,
        too_deep: w.too_deep,
        unlisted: w.unlisted,
    })
}

/// Picks the state dict (see [`WRAPPER_KEYS`]): descends while the current dict holds no tensor
/// directly and a wrapper key leads to tensors. Returns the chosen path.
fn choose(found: &[Found]) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    loop {
        let level = chosen.len();
        let under = found.iter().filter(|f| f.path.starts_with(&chosen));
        let mut direct = false;
        let mut firsts: Vec<&str> = Vec::new();
        for f in under {
            match f.path.get(level) {
                Some(seg) if f.path.len() > level.saturating_add(1) => firsts.push(seg),
                _ => direct = true,
            }
        }
        if direct {
            return chosen;
        }
        match WRAPPER_KEYS.iter().find(|w| firsts.contains(w)) {
            Some(w) => chosen.push((*w).to_owned()),
            None => return chosen,
        }
    }
}

/// The absolute byte range of a tensor, or `None` (with a finding when its storage is missing or
/// too short).
fn data_range(
    name: &str,
    t: &TensorRef,
    s: &StorageRef,
    storages: &StoragesView<'_>,
    findings: &mut Findings,
) -> Option<(u64, u64)> {
    let map = storages.map?;
    let Some(sd) = map.get(&s.key) else {
        if storages.complete {
            findings.push(
                "storage missing",
                Severity::Suspicious,
                format!("tensor {name}: storage {} is missing from the file", s.key),
            );
        }
        return None;
    };
    let size = t.itemsize()?;
    let off = t.offset.checked_mul(size)?;
    let end = off.checked_add(t.span()?.checked_mul(size)?)?;
    if end > sd.len {
        findings.push(
            "extends past its storage",
            Severity::Suspicious,
            format!(
                "tensor {name} needs {end} bytes of storage {} which holds {}",
                s.key, sd.len
            ),
        );
        return None;
    }
    let start = sd.start?;
    Some((start.checked_add(off)?, start.checked_add(end)?))
}

/// The container's storages as [`data_range`] needs them.
struct StoragesView<'a> {
    map: Option<&'a HashMap<String, StorageData>>,
    complete: bool,
}

/// Builds the index from the object pickle.
pub(crate) fn index(
    p: &Pickle,
    walked: &WalkResult,
    mut c: Container<'_>,
    limits: &Limits,
) -> Result<TensorIndex, Error> {
    let mut index = TensorIndex::new("ckpt");
    report_globals(p, c.stream, &mut c.findings);
    let chosen = choose(&walked.found);
    let total = walked.found.len();
    let mut kept: Vec<(String, &TensorRef)> = Vec::new();
    for f in &walked.found {
        if !f.path.starts_with(&chosen) {
            continue;
        }
        let rest = f.path.get(chosen.len()..).unwrap_or_default();
        let name = if rest.is_empty() {
            "tensor".to_owned()
        } else {
            rest.join(".")
        };
        Limits::check(
            "tensor name length",
            name.len() as u64,
            limits.max_name_bytes as u64,
        )?;
        Limits::check(
            "tensor rank",
            f.tensor.shape.len() as u64,
            limits.max_rank as u64,
        )?;
        kept.push((name, &f.tensor));
    }
    index.tensors.reserve(kept.len());
    let view = StoragesView {
        map: c.storages,
        complete: c.storages_complete,
    };
    for (name, t) in &kept {
        let data = t
            .storage
            .as_ref()
            .and_then(|s| data_range(name, t, s, &view, &mut c.findings));
        index.tensors.push(TensorRecord {
            name: name.clone(),
            dtype: t.dtype.clone(),
            shape: t.shape.clone(),
            data,
        });
    }
    // Tensors by storage key, to find shared storages and check each storage once.
    let mut by_key: Vec<(&str, usize)> = kept
        .iter()
        .enumerate()
        .filter_map(|(i, (_, t))| t.storage.as_ref().map(|s| (s.key.as_str(), i)))
        .collect();
    by_key.sort_unstable();
    let mut tied = 0u64;
    let mut example = None;
    for run in by_key.chunk_by(|a, b| a.0 == b.0) {
        let Some(&(key, first)) = run.first() else {
            continue;
        };
        if run.len() > 1 {
            tied = tied.saturating_add(1);
            example.get_or_insert((key, run));
        }
        // A storage whose declared size exceeds its bytes in the file.
        let Some(s) = kept.get(first).and_then(|(_, t)| t.storage.as_ref()) else {
            continue;
        };
        let declared = s.numel.zip(s.unit).and_then(|(n, u)| n.checked_mul(u));
        if let (Some(declared), Some(sd)) = (declared, c.storages.and_then(|m| m.get(key)))
            && declared > sd.len
        {
            c.findings.push(
                "storage larger than its data",
                Severity::Suspicious,
                format!(
                    "storage {key} declares {declared} bytes but the file holds {}",
                    sd.len
                ),
            );
        }
    }
    if let Some((key, run)) = example {
        index
            .metadata
            .insert("ckpt.shared_storages".into(), MetaValue::UInt(tied));
        let names: Vec<&str> = run
            .iter()
            .filter_map(|&(_, i)| kept.get(i).map(|(n, _)| n.as_str()))
            .collect();
        c.findings.push(
            "shared storage",
            Severity::Info,
            format!(
                "{tied} storages are shared by several tensors (tied weights or views), e.g. storage {key}: {}",
                names.join(", ")
            ),
        );
    }
    if kept.len() < total {
        c.findings.push(
            "outside the state dict",
            Severity::Info,
            format!(
                "{} tensors outside the state dict `{}` are not listed",
                total.saturating_sub(kept.len()),
                chosen.join(".")
            ),
        );
    }
    if walked.too_deep {
        c.findings.push(
            "nesting",
            Severity::Suspicious,
            format!(
                "values nested deeper than {} levels in {} were not searched for tensors",
                limits.max_depth, c.stream
            ),
        );
    }
    for (why, n) in &walked.unlisted {
        c.findings.push(
            "unlisted tensor",
            Severity::Info,
            format!("{n} tensors not listed: {why}"),
        );
    }
    if !chosen.is_empty() {
        index.metadata.insert(
            "ckpt.state_dict_key".into(),
            MetaValue::Str(chosen.join(".")),
        );
    }
    root_metadata(p, limits, &mut index.metadata)?;
    index
        .metadata
        .insert("ckpt.container".into(), MetaValue::Str(c.kind.into()));
    index.metadata.insert(
        "ckpt.pickle_protocol".into(),
        MetaValue::UInt(u64::from(p.protocol)),
    );
    index.metadata.append(&mut c.metadata);
    index.findings = c.findings.finish();
    Ok(index)
}

/// Scalars at the top level of the root dict (`global_step`, `epoch`, version strings, …).
fn root_metadata(
    p: &Pickle,
    limits: &Limits,
    out: &mut BTreeMap<String, MetaValue>,
) -> Result<(), Error> {
    let Some(Node::Dict(entries)) = p.node(p.root) else {
        return Ok(());
    };
    for &(k, v) in entries {
        let Some(key) = p.str(k) else { continue };
        let value = match v {
            Value::Int(i) => MetaValue::Int(i),
            Value::Float(f) => MetaValue::Float(f),
            Value::Bool(b) => MetaValue::Bool(b),
            other => match p.node(other) {
                Some(Node::Str(s)) if s.len() as u64 <= limits.max_string_bytes => {
                    MetaValue::Str(s.to_string())
                }
                Some(Node::BigInt(Some(b))) => match u64::try_from(*b) {
                    Ok(u) => MetaValue::UInt(u),
                    Err(_) => continue,
                },
                _ => continue,
            },
        };
        Limits::check(
            "metadata entry count",
            (out.len() as u64).saturating_add(1),
            limits.max_metadata_entries,
        )?;
        out.insert(key.to_owned(), value);
    }
    Ok(())
}
