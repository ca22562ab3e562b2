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

/// `None` when torch's weights-only loader allows the global; otherwise how bad it is, and for
/// a dotted name the target it resolves to when that target is what makes it worse.
///
/// From protocol 4, `pickle.find_class(module, "a.b.c")` walks the attributes `a`, `b`, `c` of
/// the module, so `glob` + `os.system` is `os.system` (glob imports os), `tempfile` +
/// `_os.system` too, and `torch` + `hub.load` is `torch.hub.load`. Without importing anything,
/// every reading of the path is rated: the module's own submodules (`torch.hub`), and each
/// attribute named like a module (`os`, `_os` → `os`, `sys.modules.os`); the worst wins.
pub(crate) fn rate_global(
    module: &str,
    name: &str,
) -> Option<(Severity, Option<(String, String)>)> {
    let direct = global_severity(module, name)?;
    if !name.contains('.') {
        return Some((direct, None));
    }
    let segs: Vec<&str> = name.split('.').collect();
    let mut worst = (direct, None);
    for i in 0..segs.len().saturating_sub(1) {
        let rest = segs
            .get(i.saturating_add(1)..)
            .unwrap_or_default()
            .join(".");
        let prefix = segs.get(..=i).unwrap_or_default().join(".");
        let seg = segs.get(i).copied().unwrap_or_default();
        let alias = seg.trim_start_matches('_');
        for (m, n) in [
            (format!("{module}.{prefix}"), rest.clone()),
            (alias.to_owned(), rest.clone()),
            (seg.to_owned(), rest.clone()),
        ] {
            if m.is_empty() {
                continue;
            }
            if let Some(sev) = global_severity(&m, &n)
                && sev > worst.0
            {
                worst = (sev, Some((m, n)));
            }
        }
    }
    Some(worst)
}

/// `None` when torch's weights-only loader allows the global; otherwise how bad it is (the
/// name taken as one attribute; see [`rate_global`] for dotted names).
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

/// One step of the path to a tensor: a dict key (an integer, boolean or string value of the
/// graph, rendered only when a name is needed) or a list position. Keys are never copied while
/// the graph is walked, so a huge key shared through the memo costs nothing per visit.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Seg {
    Key(Value),
    Index(usize),
}

/// Decimal digits of `n` (with its sign).
fn digits(n: i128) -> u64 {
    let sign = u64::from(n < 0);
    let mut len = 1u64;
    let mut n = n.unsigned_abs();
    while n >= 10 {
        n /= 10;
        len = len.saturating_add(1);
    }
    len.saturating_add(sign)
}

impl Seg {
    /// The segment as text in a tensor name.
    pub(crate) fn text<'p>(self, p: &'p Pickle) -> std::borrow::Cow<'p, str> {
        use std::borrow::Cow;
        match self {
            Seg::Index(i) => Cow::Owned(i.to_string()),
            Seg::Key(Value::Int(i)) => Cow::Owned(i.to_string()),
            Seg::Key(Value::Bool(b)) => Cow::Borrowed(if b { "True" } else { "False" }),
            Seg::Key(other) => Cow::Borrowed(p.str(other).unwrap_or("")),
        }
    }

    /// The length of [`Seg::text`], without building it.
    fn len(self, p: &Pickle) -> u64 {
        match self {
            Seg::Index(i) => digits(i as i128),
            Seg::Key(Value::Int(i)) => digits(i128::from(i)),
            Seg::Key(Value::Bool(b)) => {
                if b {
                    4
                } else {
                    5
                }
            }
            Seg::Key(other) => p.str(other).map_or(0, |s| s.len() as u64),
        }
    }
}

/// A tensor with the path of keys that leads to it.
struct Found {
    path: Vec<Seg>,
    tensor: TensorRef,
}

/// Walks the graph from the root, collecting every tensor under dicts, lists and object state.
///
/// A value reached through several memo references is walked once per path, since each path
/// names its tensors; but a value whose walk found no tensor is remembered and skipped when it
/// is reached again, so shared configuration (a Lightning checkpoint's hyper-parameters,
/// referenced from every callback) costs one walk. What is left (shared subtrees that hold
/// tensors) is bounded by the tensor limit and by a step budget.
struct Walker<'p> {
    r: Reader<'p>,
    limits: &'p Limits,
    visited: u64,
    budget: u64,
    path: Vec<Seg>,
    /// Bytes of the current path as a dotted name.
    path_bytes: u64,
    /// Bytes of every found tensor's name together.
    name_bytes: u64,
    found: Vec<Found>,
    too_deep: bool,
    unlisted: BTreeMap<String, u64>,
    /// Unlisted tensors met so far (with repeats).
    unlisted_seen: u64,
    /// Per arena node: the shallowest depth from which its walk found nothing (no tensor,
    /// nothing unlisted), `u32::MAX` if none. Reached again at that depth or deeper, it is
    /// skipped (the walk would see as much or less: the depth limit cuts sooner); reached
    /// higher, it is walked again, since what the limit cut may hold tensors.
    barren: Vec<u32>,
}

impl Walker<'_> {
    fn key(&self, k: Value) -> Option<Seg> {
        match k {
            Value::Int(_) | Value::Bool(_) => Some(Seg::Key(k)),
            other => self.r.p.str(other).map(|_| Seg::Key(other)),
        }
    }

    fn enter(&mut self, seg: Seg) {
        let dot = u64::from(!self.path.is_empty());
        self.path_bytes = self
            .path_bytes
            .saturating_add(seg.len(self.r.p))
            .saturating_add(dot);
        self.path.push(seg);
    }

    fn leave(&mut self) {
        if let Some(seg) = self.path.pop() {
            let dot = u64::from(!self.path.is_empty());
            self.path_bytes = self
                .path_bytes
                .saturating_sub(seg.len(self.r.p))
                .saturating_sub(dot);
        }
    }

    fn visit(&mut self, v: Value, depth: usize) -> Result<(), Error> {
        // Every step counts, skips of barren values too: a big list reached along many paths
        // costs its length on each.
        self.visited = self.visited.saturating_add(1);
        if self.visited > self.budget {
            return Err(Error::LimitExceeded {
                what: "pickle walk (values reached through shared memo references)",
                value: self.visited,
                limit: self.budget,
            });
        }
        let Value::Ref(id) = v else { return Ok(()) };
        let slot = usize::try_from(id).ok();
        let depth32 = u32::try_from(depth).unwrap_or(u32::MAX);
        if slot
            .and_then(|i| self.barren.get(i))
            .is_some_and(|&from| depth32 >= from)
        {
            return Ok(());
        }
        let before = (self.found.len(), self.unlisted_seen);
        self.visit_node(v, depth)?;
        if self.found.len() == before.0
            && self.unlisted_seen == before.1
            && let Some(from) = slot.and_then(|i| self.barren.get_mut(i))
        {
            *from = (*from).min(depth32);
        }
        Ok(())
    }

    fn visit_node(&mut self, v: Value, depth: usize) -> Result<(), Error> {
        match self.r.kind(v, 0) {
            Kind::Tensor(tensor) => {
                Limits::check(
                    "tensor count",
                    (self.found.len() as u64).saturating_add(1),
                    self.limits.max_tensors,
                )?;
                let name_len = self.path_bytes.max(6); // `tensor` for a bare root
                Limits::check(
                    "tensor name length",
                    name_len,
                    self.limits.max_name_bytes as u64,
                )?;
                // Names are built from shared keys: bound what they take together, so one long
                // key reached through many paths cannot multiply into gigabytes of names.
                self.name_bytes = self.name_bytes.saturating_add(name_len);
                Limits::check(
                    "total length of tensor names",
                    self.name_bytes,
                    MAX_NAME_BYTES_TOTAL,
                )?;
                self.found.push(Found {
                    path: self.path.clone(),
                    tensor,
                });
                return Ok(());
            }
            Kind::Unlisted(why) => {
                self.unlisted_seen = self.unlisted_seen.saturating_add(1);
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
            if module_state && MODULE_ATTRS.contains(&key.text(self.r.p).as_ref()) {
                self.visit(val, depth)?;
            } else {
                self.enter(key);
                let r = self.visit(val, depth);
                self.leave();
                r?;
            }
        }
        Ok(())
    }

    fn items(&mut self, items: &[Value], depth: usize) -> Result<(), Error> {
        for (i, &item) in items.iter().enumerate() {
            self.enter(Seg::Index(i));
            let r = self.visit(item, depth);
            self.leave();
            r?;
        }
        Ok(())
    }
}

/// The most bytes all tensor names of one file may take together (64 MiB; the largest real
/// state dicts need a few MB).
const MAX_NAME_BYTES_TOTAL: u64 = 64 << 20;
/// Where a storage's bytes are in the file, as the container knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StorageData {
    /// Absolute offset of the first byte, when the bytes are stored uncompressed.
    pub(crate) start: Option<u64>,
    /// The storage's length in bytes.
    pub(crate) len: u64,
}

/// Collects findings, capping repeats of one kind so a hostile file cannot flood the record.
///
/// Findings of the highest severity ([`Severity::Unsafe`]) are never dropped, so a payload
/// cannot hide behind eight harmless-looking globals that sort before it; the summary line of a
/// capped kind carries the highest severity among the findings it stands for.
#[derive(Default)]
pub(crate) struct Findings {
    list: Vec<Finding>,
    /// Per kind: how many were listed under the cap, how many dropped, and the worst dropped.
    per_kind: BTreeMap<&'static str, (u64, u64, Severity)>,
}

/// How many findings of one kind are listed before the rest are only counted.
const FINDINGS_PER_KIND: u64 = 8;

impl Findings {
    /// Adds a finding; `kind` groups findings for the cap and names them in the summary line.
    pub(crate) fn push(&mut self, kind: &'static str, severity: Severity, message: String) {
        let entry = self.per_kind.entry(kind).or_insert((0, 0, Severity::Info));
        if severity == Severity::Unsafe {
            self.list.push(Finding { severity, message });
        } else if entry.0 < FINDINGS_PER_KIND {
            entry.0 = entry.0.saturating_add(1);
            self.list.push(Finding { severity, message });
        } else {
            entry.1 = entry.1.saturating_add(1);
            entry.2 = entry.2.max(severity);
        }
    }

    /// Whether any finding is worse than informational.
    pub(crate) fn any_serious(&self) -> bool {
        self.list.iter().any(|f| f.severity > Severity::Info)
    }

    /// The findings, most severe first (in the order they were made within a severity), plus
    /// one summary line per kind that went over the cap.
    pub(crate) fn finish(mut self) -> Vec<Finding> {
        for (kind, (_, dropped, severity)) in self.per_kind {
            if dropped > 0 {
                self.list.push(Finding {
                    severity,
                    message: format!("{dropped} more findings of kind \"{kind}\""),
                });
            }
        }
        self.list.sort_by_key(|f| std::cmp::Reverse(f.severity));
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
    /// Findings so far (the container's and every pickle's globals); the index takes them.
    pub(crate) findings: &'a mut Findings,
}

/// Whether a global belongs to TorchScript's own serialization (`torch.jit.save`): the classes
/// of the scripted modules (`__torch__.…`) and the list builders of `torch.jit._pickle`. In a
/// TorchScript archive they are the expected format, not a finding each.
fn torchscript_global(module: &str) -> bool {
    module == "__torch__" || module.starts_with("__torch__.") || module == "torch.jit._pickle"
}

/// Reports the globals a pickle named (one finding each). In a TorchScript archive
/// (`torchscript`), TorchScript's own classes are counted in one informational finding instead.
pub(crate) fn report_globals(
    globals: &std::collections::BTreeSet<(String, String)>,
    stream: &str,
    torchscript: bool,
    findings: &mut Findings,
) {
    let mut expected = 0u64;
    for (module, name) in globals {
        if torchscript && torchscript_global(module) {
            expected = expected.saturating_add(1);
            continue;
        }
        if let Some((severity, target)) = rate_global(module, name) {
            let resolved = match target {
                Some((m, n)) => format!(" (resolves to {m}.{n})"),
                None => String::new(),
            };
            findings.push(
                "global",
                severity,
                format!("global {module}.{name} in {stream}{resolved}"),
            );
        }
    }
    if expected > 0 {
        findings.push(
            "torchscript classes",
            Severity::Info,
            format!(
                "{expected} TorchScript classes and builders (__torch__.…, torch.jit._pickle.…) in {stream}, as torch.jit.save writes them"
            ),
        );
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
    // The cost of the walk, not the number of references, is what is bounded: every step is
    // O(1) (keys are never copied), values without tensors are walked once however often they
    // are shared, and the steps are capped at `max_pickle_items` (10M by default, well under a
    // second). The Lightning checkpoints we measured take a few thousand steps (4,519 for the
    // largest, whose hyper-parameters are shared by its callbacks); a 300k-tensor state dict
    // takes about 2M.
    let budget = limits.max_pickle_items.max(1024);
    let mut w = Walker {
        r: Reader { p },
        limits,
        visited: 0,
        budget,
        path: Vec::new(),
        path_bytes: 0,
        name_bytes: 0,
        found: Vec::new(),
        too_deep: false,
        unlisted: BTreeMap::new(),
        unlisted_seen: 0,
        barren: vec![u32::MAX; p.arena.len()],
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
fn choose(p: &Pickle, found: &[Found]) -> Vec<&'static str> {
    let mut chosen: Vec<&'static str> = Vec::new();
    loop {
        let level = chosen.len();
        let mut direct = false;
        let mut firsts: Vec<std::borrow::Cow<'_, str>> = Vec::new();
        for f in found.iter().filter(|f| under(p, &f.path, &chosen)) {
            match f.path.get(level) {
                Some(seg) if f.path.len() > level.saturating_add(1) => firsts.push(seg.text(p)),
                _ => direct = true,
            }
        }
        if direct {
            return chosen;
        }
        match WRAPPER_KEYS.iter().find(|w| firsts.iter().any(|f| f == *w)) {
            Some(w) => chosen.push(w),
            None => return chosen,
        }
    }
}

/// Whether `path` starts with the keys `prefix`.
fn under(p: &Pickle, path: &[Seg], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path.iter().zip(prefix).all(|(s, k)| s.text(p) == *k)
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
    let chosen = choose(p, &walked.found);
    let total = walked.found.len();
    let mut kept: Vec<(String, &TensorRef)> = Vec::new();
    for f in &walked.found {
        if !under(p, &f.path, &chosen) {
            continue;
        }
        let rest = f.path.get(chosen.len()..).unwrap_or_default();
        let name = if rest.is_empty() {
            "tensor".to_owned()
        } else {
            let parts: Vec<_> = rest.iter().map(|s| s.text(p)).collect();
            parts.join(".")
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
            .and_then(|s| data_range(name, t, s, &view, c.findings));
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
    if total == 0
        && walked.unlisted.is_empty()
        && let Some(what) = not_understood(p)
    {
        c.findings.push(
            "root",
            Severity::Info,
            format!(
                "no tensors found: the root of {} is {what}, which this reader does not understand",
                c.stream
            ),
        );
    }
    root_metadata(p, limits, &mut index.metadata, c.findings)?;
    index
        .metadata
        .insert("ckpt.container".into(), MetaValue::Str(c.kind.into()));
    index.metadata.insert(
        "ckpt.pickle_protocol".into(),
        MetaValue::UInt(u64::from(p.protocol)),
    );
    index.metadata.append(&mut c.metadata);
    index.findings = std::mem::take(c.findings).finish();
    Ok(index)
}

/// What the root is, when it is not a container a state dict lives in (`None` for dicts, lists,
/// tuples and `None`, whose emptiness speaks for itself).
fn not_understood(p: &Pickle) -> Option<String> {
    match p.root {
        Value::None => None,
        Value::Bool(_) | Value::Int(_) | Value::Float(_) => Some("a number".into()),
        Value::Ref(_) => match p.node(p.root)? {
            Node::Dict(_) | Node::List(_) | Node::Tuple(_) => None,
            Node::Str(_) => Some("a string".into()),
            Node::Bytes => Some("a bytes value".into()),
            Node::BigInt(_) => Some("a number".into()),
            Node::Set(_) => Some("a set".into()),
            Node::Global { module, name } => Some(format!("the global {module}.{name}")),
            Node::PersId(_) => Some("a persistent id".into()),
            Node::Object { func, .. } => Some(match p.global(*func) {
                Some((m, n)) => format!("an object built by {m}.{n}"),
                None => "an object".into(),
            }),
        },
    }
}

/// Scalars at the top level of the root dict (`global_step`, `epoch`, version strings, …).
///
/// Strings are copied into the metadata, so their total is bounded by `max_string_bytes`: one
/// long string shared by many keys through the memo would otherwise be copied once per key.
fn root_metadata(
    p: &Pickle,
    limits: &Limits,
    out: &mut BTreeMap<String, MetaValue>,
    findings: &mut Findings,
) -> Result<(), Error> {
    let Some(Node::Dict(entries)) = p.node(p.root) else {
        return Ok(());
    };
    let mut copied = 0u64;
    let mut skipped = 0u64;
    for &(k, v) in entries {
        let Some(key) = p.str(k) else { continue };
        if key.len() > limits.max_name_bytes {
            skipped = skipped.saturating_add(1);
            continue;
        }
        let value = match v {
            Value::Int(i) => MetaValue::Int(i),
            Value::Float(f) => MetaValue::Float(f),
            Value::Bool(b) => MetaValue::Bool(b),
            other => match p.node(other) {
                Some(Node::Str(s)) => {
                    let len = (s.len() as u64).saturating_add(key.len() as u64);
                    if copied.saturating_add(len) > limits.max_string_bytes {
                        skipped = skipped.saturating_add(1);
                        continue;
                    }
                    copied = copied.saturating_add(len);
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
    if skipped > 0 {
        findings.push(
            "metadata",
            Severity::Suspicious,
            format!(
                "{skipped} string values at the root were not copied into the metadata: together they are over {} bytes",
                limits.max_string_bytes
            ),
        );
    }
    Ok(())
}
