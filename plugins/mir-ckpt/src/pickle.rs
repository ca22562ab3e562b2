//! A pickle interpreter (protocols 0 to 5) that builds inert values and never executes anything.
//!
//! Written by hand because no maintained crate fits: `serde-pickle` drops `GLOBAL` names and has
//! no persistent ids, `candle-core`'s reader deep-clones memo values (a memo bomb aborts the
//! process) and knows protocol 2 only, and `repugnant-pickle` is unmaintained (see
//! `shared/design/rust-stack.md` §3).
//!
//! `GLOBAL` and `STACK_GLOBAL` push a [`Node::Global`] naming the callable; `REDUCE`, `NEWOBJ`,
//! `INST` and `OBJ` push a [`Node::Object`] recording the callable and its arguments. Nothing is
//! looked up, imported or called. The one shortcut is that `collections.OrderedDict()` and
//! `builtins.dict()` with no arguments become an empty [`Node::Dict`], since that is how every
//! state dict starts.
//!
//! Values live in an arena and refer to each other by index. The memo stores indices, so a value
//! fetched twice is shared, never copied (a memo bomb costs one index per `GET`); a cycle such as
//! a list appended to itself is harmless, and dropping a deeply nested structure does not recurse.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, BufRead, Read};

use mir_core::{Error, Limits};

use crate::CkptError;

/// A handle to a [`Node`] in [`Pickle::arena`].
pub(crate) type NodeId = u32;

/// A value on the stack: small scalars inline, everything else a reference into the arena.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    /// Python `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// Anything else.
    Ref(NodeId),
}

/// A value that lives in the arena.
#[derive(Debug)]
pub(crate) enum Node {
    /// A text string (Python `str`, or a protocol 0–2 `str` of bytes, decoded lossily).
    Str(Box<str>),
    /// A `bytes` or `bytearray`; its contents are skipped, never kept.
    Bytes,
    /// An integer beyond `i64`; `None` when it is beyond `i128` too.
    BigInt(Option<i128>),
    /// A list (mutable, so `APPEND` through a memo alias is seen by every holder).
    List(Vec<Value>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A dict, in insertion order; duplicate keys are kept (the walk sees the last one last).
    Dict(Vec<(Value, Value)>),
    /// A set or frozenset.
    Set(Vec<Value>),
    /// A reference to a global by name, never resolved.
    Global {
        /// The module, e.g. `torch._utils`.
        module: Box<str>,
        /// The attribute, e.g. `_rebuild_tensor_v2`.
        name: Box<str>,
    },
    /// What `REDUCE`/`NEWOBJ`/`INST`/`OBJ` would have produced by calling `func(*args)`: kept as
    /// a record, plus what `BUILD`, `SETITEMS` and `APPENDS` applied to it.
    Object {
        /// The callable (normally a [`Node::Global`]).
        func: Value,
        /// The argument tuple.
        args: Value,
        /// The `BUILD` state, if any.
        state: Option<Value>,
        /// Items added by `SETITEM(S)` (dict subclasses).
        items: Vec<(Value, Value)>,
        /// Items added by `APPEND(S)` (list subclasses).
        elements: Vec<Value>,
    },
    /// What a persistent-id load would return: the id itself (for torch, a storage tuple).
    PersId(Value),
}

/// The result of running one pickle.
#[derive(Debug)]
pub(crate) struct Pickle {
    /// Every value built.
    pub(crate) arena: Vec<Node>,
    /// The value `STOP` returned.
    pub(crate) root: Value,
    /// The highest protocol a `PROTO` opcode declared (0 when none did).
    pub(crate) protocol: u8,
    /// Every distinct global the stream named (`GLOBAL`, `STACK_GLOBAL`, `INST`, extension codes).
    pub(crate) globals: BTreeSet<(String, String)>,
    /// The number of bytes the pickle took, up to and including `STOP`.
    pub(crate) len: u64,
}

impl Pickle {
    /// The node behind `v`, if it is a reference.
    pub(crate) fn node(&self, v: Value) -> Option<&Node> {
        match v {
            Value::Ref(id) => self.arena.get(usize::try_from(id).ok()?),
            _ => None,
        }
    }

    /// The string `v` holds, if it is one.
    pub(crate) fn str(&self, v: Value) -> Option<&str> {
        match self.node(v)? {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a tuple or list.
    pub(crate) fn seq(&self, v: Value) -> Option<&[Value]> {
        match self.node(v)? {
            Node::Tuple(items) | Node::List(items) => Some(items),
            _ => None,
        }
    }

    /// `(module, name)` if `v` is a global.
    pub(crate) fn global(&self, v: Value) -> Option<(&str, &str)> {
        match self.node(v)? {
            Node::Global { module, name } => Some((module, name)),
            _ => None,
        }
    }
}

/// A pickle that stopped with an error, and the globals it named before it did (a payload may sit
/// before the damage, so the caller still reports them).
#[derive(Debug)]
pub(crate) struct RunError {
    /// Why the pickle stopped.
    pub(crate) error: Error,
    /// Every distinct global named before the error.
    pub(crate) globals: BTreeSet<(String, String)>,
}

/// The most memory, in bytes, the values of one pickle may take: 24 bytes per allowed item
/// (240 MB with the default `max_pickle_items` of 10M). Real checkpoints need far less: a
/// 100k-tensor state dict builds about 70 MB of values.
pub(crate) fn heap_budget(limits: &Limits) -> u64 {
    limits.max_pickle_items.saturating_mul(24)
}

/// Runs the pickle that starts at the reader's current position. `available` is how many bytes
/// the reader can still give (the rest of the entry or file); it bounds every length before a
/// buffer is allocated. `stream` names the pickle in errors.
pub(crate) fn run<R: BufRead>(
    reader: R,
    available: u64,
    limits: &Limits,
    stream: &'static str,
) -> Result<Pickle, RunError> {
    let mut vm = Vm {
        input: reader,
        pos: 0,
        available,
        op_start: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        sparse_memo: HashMap::new(),
        arena: Vec::new(),
        items: 0,
        heap: 0,
        heap_budget: heap_budget(limits),
        globals: BTreeSet::new(),
        protocol: 0,
        limits,
        stream,
    };
    let root = match vm.execute() {
        Ok(root) => root,
        Err(error) => {
            return Err(RunError {
                error,
                globals: vm.globals,
            });
        }
    };
    Ok(Pickle {
        arena: vm.arena,
        root,
        protocol: vm.protocol,
        globals: vm.globals,
        len: vm.pos,
    })
}

/// The interpreter's state while a pickle runs.
struct Vm<'l, R> {
    input: R,
    /// Bytes consumed so far.
    pos: u64,
    /// Bytes the input holds in total.
    available: u64,
    /// Offset of the opcode being executed (for errors).
    op_start: u64,
    stack: Vec<Value>,
    /// Stack lengths at each `MARK`.
    marks: Vec<usize>,
    /// Memo entries with small keys (pickle numbers them 0, 1, 2, …), by key.
    memo: Vec<Option<Value>>,
    /// Memo entries whose keys are far beyond the others (only hand-made pickles have them).
    sparse_memo: HashMap<u64, Value>,
    arena: Vec<Node>,
    /// Arena nodes, container items and memo entries so far (bounded by `max_pickle_items`).
    items: u64,
    /// Bytes the values take so far (arena, container items, memo slots, strings), charged
    /// before each allocation and bounded by `heap_budget`.
    heap: u64,
    heap_budget: u64,
    globals: BTreeSet<(String, String)>,
    protocol: u8,
    limits: &'l Limits,
    stream: &'static str,
}

/// Longest text line (protocol 0 arguments, `GLOBAL` names) the interpreter reads.
const MAX_LINE: u64 = 1 << 20;

impl<R: BufRead> Vm<'_, R> {
    fn malformed(&self, problem: &'static str) -> Error {
        CkptError::MalformedPickle {
            stream: self.stream,
            offset: self.op_start,
            problem,
        }
        .into()
    }

    fn end(&self) -> Error {
        CkptError::PickleEnd {
            stream: self.stream,
            offset: self.pos,
        }
        .into()
    }

    fn io(&self, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.end()
        } else {
            Error::Io(e)
        }
    }

    /// Fails unless `n` more bytes can exist.
    fn need(&self, n: u64) -> Result<(), Error> {
        if n > self.available.saturating_sub(self.pos) {
            Err(CkptError::PickleEnd {
                stream: self.stream,
                offset: self.available,
            }
            .into())
        } else {
            Ok(())
        }
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.need(N as u64)?;
        let mut b = [0u8; N];
        self.input.read_exact(&mut b).map_err(|e| self.io(e))?;
        self.pos = self.pos.saturating_add(N as u64);
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.fixed::<1>()?[0])
    }

    /// Reads `n` bytes into a new buffer, after checking the input holds them and `limit`.
    fn bytes(&mut self, n: u64, what: &'static str, limit: u64) -> Result<Vec<u8>, Error> {
        Limits::check(what, n, limit)?;
        self.need(n)?;
        let len = usize::try_from(n).map_err(|_| self.end())?;
        let mut buf = vec![0u8; len];
        self.input.read_exact(&mut buf).map_err(|e| self.io(e))?;
        self.pos = self.pos.saturating_add(n);
        Ok(buf)
    }

    /// Skips `n` bytes without keeping them (the contents of `bytes` values are never needed).
    fn skip(&mut self, n: u64) -> Result<(), Error> {
        self.need(n)?;
        let copied =
            io::copy(&mut (&mut self.input).take(n), &mut io::sink()).map_err(|e| self.io(e))?;
        if copied != n {
            return Err(self.end());
        }
        self.pos = self.pos.saturating_add(n);
        Ok(())
    }

    /// Reads a protocol 0 text argument up to `\n` (not included).
    fn line(&mut self) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        let limit = MAX_LINE.min(self.available.saturating_sub(self.pos));
        let n = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| self.io(e))?;
        self.pos = self.pos.saturating_add(n as u64);
        if buf.pop() != Some(b'\n') {
            return Err(if n as u64 >= MAX_LINE {
                self.malformed("text argument longer than 1 MiB")
            } else {
                self.end()
            });
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        Ok(buf)
    }

    fn count_items(&mut self, n: u64) -> Result<(), Error> {
        self.items = self.items.saturating_add(n);
        Limits::check(
            "pickle item count",
            self.items,
            self.limits.max_pickle_items,
        )
    }

    /// Charges `bytes` of memory to the pickle before they are allocated.
    fn charge(&mut self, bytes: u64) -> Result<(), Error> {
        self.heap = self.heap.saturating_add(bytes);
        Limits::check("pickle memory in bytes", self.heap, self.heap_budget)
    }

    /// Charges `n` more container slots of `slot` bytes each.
    fn charge_slots(&mut self, n: usize, slot: usize) -> Result<(), Error> {
        self.charge((n as u64).saturating_mul(slot as u64))
    }

    fn alloc(&mut self, node: Node) -> Result<Value, Error> {
        self.count_items(1)?;
        let id = NodeId::try_from(self.arena.len())
            .map_err(|_| self.malformed("more than 2^32 values"))?;
        if self.arena.len() == self.arena.capacity() {
            // The arena doubles: charge the new capacity before it is allocated.
            let grow = self.arena.capacity().max(64);
            self.charge_slots(grow, std::mem::size_of::<Node>())?;
            self.arena.reserve_exact(grow);
        }
        self.arena.push(node);
        Ok(Value::Ref(id))
    }

    fn push(&mut self, v: Value) -> Result<(), Error> {
        let depth = (self.stack.len() as u64).saturating_add(self.marks.len() as u64);
        Limits::check(
            "pickle stack depth",
            depth.saturating_add(1),
            self.limits.max_pickle_stack,
        )?;
        self.stack.push(v);
        Ok(())
    }

    fn push_node(&mut self, node: Node) -> Result<(), Error> {
        let v = self.alloc(node)?;
        self.push(v)
    }

    /// The index the current mark frame starts at (0 without a mark).
    fn frame_start(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Value, Error> {
        if self.stack.len() <= self.frame_start() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    fn top(&self) -> Result<Value, Error> {
        if self.stack.len() <= self.frame_start() {
            return Err(self.malformed("stack underflow"));
        }
        self.stack
            .last()
            .copied()
            .ok_or_else(|| self.malformed("stack underflow"))
    }

    /// Pops everything down to the last mark, and the mark.
    fn pop_mark(&mut self) -> Result<Vec<Value>, Error> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.malformed("no MARK on the stack"))?;
        if mark > self.stack.len() {
            return Err(self.malformed("MARK above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn node_mut(&mut self, v: Value) -> Option<&mut Node> {
        match v {
            Value::Ref(id) => self.arena.get_mut(usize::try_from(id).ok()?),
            _ => None,
        }
    }

    fn node(&self, v: Value) -> Option<&Node> {
        match v {
            Value::Ref(id) => self.arena.get(usize::try_from(id).ok()?),
            _ => None,
        }
    }

    fn str_of(&self, v: Value) -> Option<&str> {
        match self.node(v)? {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    fn global(&mut self, module: String, name: String) -> Result<Value, Error> {
        Limits::check(
            "global name length",
            (module.len().saturating_add(name.len())) as u64,
            self.limits.max_name_bytes as u64,
        )?;
        let bytes = (module.len().saturating_add(name.len())) as u64;
        self.charge(bytes)?;
        let node = Node::Global {
            module: module.as_str().into(),
            name: name.as_str().into(),
        };
        if !self.globals.contains(&(module.clone(), name.clone())) {
            self.count_items(1)?;
            self.charge(bytes.saturating_add(64))?;
            self.globals.insert((module, name));
        }
        self.alloc(node)
    }

    /// `REDUCE`/`NEWOBJ`: the inert record of a call.
    fn call(&mut self, func: Value, args: Value) -> Result<Value, Error> {
        let empty_args = matches!(self.node(args), Some(Node::Tuple(a)) if a.is_empty());
        let is_dict = matches!(
            self.node(func),
            Some(Node::Global { module, name })
                if matches!((&**module, &**name), ("collections", "OrderedDict")
                    | ("builtins" | "__builtin__", "dict"))
        );
        if is_dict && empty_args {
            return self.alloc(Node::Dict(Vec::new()));
        }
        // Python 2's `OrderedDict.__reduce__` (torch 0.4 era files, lpips' `.pth`):
        // `OrderedDict([[key, value], …])`, the pairs as two-element lists or tuples.
        if is_dict && let Some(pairs) = self.pairs_argument(args) {
            self.count_items(pairs.len() as u64)?;
            self.charge_slots(pairs.len(), std::mem::size_of::<(Value, Value)>())?;
            return self.alloc(Node::Dict(pairs));
        }
        self.alloc(Node::Object {
            func,
            args,
            state: None,
            items: Vec::new(),
            elements: Vec::new(),
        })
    }

    /// The `(key, value)` pairs of a one-argument tuple holding a list or tuple of two-element
    /// lists or tuples; `None` for any other shape.
    fn pairs_argument(&self, args: Value) -> Option<Vec<(Value, Value)>> {
        let Some(Node::Tuple(a)) = self.node(args) else {
            return None;
        };
        let [list] = a.as_slice() else { return None };
        let (Node::List(items) | Node::Tuple(items)) = self.node(*list)? else {
            return None;
        };
        items
            .iter()
            .map(|&pair| match self.node(pair)? {
                Node::List(kv) | Node::Tuple(kv) => match kv.as_slice() {
                    [k, v] => Some((*k, *v)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    fn memo_get(&mut self, key: u64) -> Result<(), Error> {
        let dense = usize::try_from(key)
            .ok()
            .and_then(|k| self.memo.get(k))
            .copied()
            .flatten();
        let v = dense
            .or_else(|| self.sparse_memo.get(&key).copied())
            .ok_or_else(|| self.malformed("memo key never stored"))?;
        self.push(v)
    }

    fn memo_put(&mut self, key: u64) -> Result<(), Error> {
        /// How far past the dense memo's end a key may land and still grow it. Picklers number
        /// memo entries 0, 1, 2, …, so a real key is always the next one; a wider gap let each
        /// 5-byte `LONG_BINPUT` grow the memo by that many slots (a memory bomb).
        const DENSE_GAP: u64 = 16;
        /// What one entry of the sparse memo costs (key, value, hash table overhead).
        const SPARSE_ENTRY: u64 = 64;
        let v = self.top()?;
        let len = self.memo.len() as u64;
        let new = match usize::try_from(key) {
            Ok(k) if key < len.saturating_add(DENSE_GAP) => {
                if k >= self.memo.len() {
                    let new_len = k.saturating_add(1);
                    if new_len > self.memo.capacity() {
                        let cap = new_len.max(self.memo.capacity().saturating_mul(2));
                        self.charge_slots(
                            cap.saturating_sub(self.memo.capacity()),
                            std::mem::size_of::<Option<Value>>(),
                        )?;
                        self.memo.reserve_exact(cap.saturating_sub(self.memo.len()));
                    }
                    self.memo.resize(new_len, None);
                }
                match self.memo.get_mut(k) {
                    Some(slot) => slot.replace(v).is_none(),
                    None => return Err(self.malformed("memo key out of range")),
                }
            }
            _ => {
                if !self.sparse_memo.contains_key(&key) {
                    self.charge(SPARSE_ENTRY)?;
                }
                self.sparse_memo.insert(key, v).is_none()
            }
        };
        if new {
            self.count_items(1)?;
        }
        Ok(())
    }

    fn set_items(&mut self, pairs: Vec<Value>) -> Result<(), Error> {
        if !pairs.len().is_multiple_of(2) {
            return Err(self.malformed("SETITEMS with an odd number of values"));
        }
        let target = self.top()?;
        self.count_items(pairs.len() as u64 / 2)?;
        self.charge_slots(pairs.len(), std::mem::size_of::<Value>())?;
        let mut it = pairs.into_iter();
        let mut new = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            new.push((k, v));
        }
        match self.node_mut(target) {
            Some(Node::Dict(d)) | Some(Node::Object { items: d, .. }) => {
                d.append(&mut new);
                Ok(())
            }
            _ => Err(self.malformed("SETITEM(S) on a value that is no dict")),
        }
    }

    fn append(&mut self, mut values: Vec<Value>) -> Result<(), Error> {
        let target = self.top()?;
        self.count_items(values.len() as u64)?;
        self.charge_slots(values.len(), std::mem::size_of::<Value>())?;
        match self.node_mut(target) {
            Some(Node::List(l)) | Some(Node::Object { elements: l, .. }) => {
                l.append(&mut values);
                Ok(())
            }
            _ => Err(self.malformed("APPEND(S) on a value that is no list")),
        }
    }

    fn execute(&mut self) -> Result<Value, Error> {
        let mut ops: u64 = 0;
        loop {
            ops = ops.saturating_add(1);
            Limits::check("pickle opcode count", ops, self.limits.max_pickle_ops)?;
            self.op_start = self.pos;
            let op = self.u8()?;
            match op {
                // PROTO
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(self.malformed("protocol newer than 5"));
                    }
                    self.protocol = self.protocol.max(p);
                }
                // FRAME: a length prefix for buffering; the opcodes inside follow directly.
                0x95 => {
                    self.fixed::<8>()?;
                }
                // STOP
                b'.' => return self.pop(),
                // MARK
                b'(' => {
                    let depth = (self.stack.len() as u64).saturating_add(self.marks.len() as u64);
                    Limits::check(
                        "pickle stack depth",
                        depth.saturating_add(1),
                        self.limits.max_pickle_stack,
                    )?;
                    self.marks.push(self.stack.len());
                }
                // POP: the top value, or the mark when the frame is empty.
                b'0' => {
                    if self.stack.len() > self.frame_start() {
                        self.pop()?;
                    } else {
                        self.pop_mark()?;
                    }
                }
                // POP_MARK
                b'1' => {
                    self.pop_mark()?;
                }
                // DUP
                b'2' => {
                    let v = self.top()?;
                    self.push(v)?;
                }
                // Integers.
                b'J' => {
                    let v = i32::from_le_bytes(self.fixed::<4>()?);
                    self.push(Value::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.fixed::<2>()?);
                    self.push(Value::Int(i64::from(v)))?;
                }
                // LONG1, LONG4: little-endian two's complement of n bytes.
                0x8a => {
                    let n = self.u8()?;
                    let bytes = self.bytes(u64::from(n), "pickle LONG1 length", 255)?;
                    let v = self.long(&bytes)?;
                    self.push(v)?;
                }
                0x8b => {
                    let n = i32::from_le_bytes(self.fixed::<4>()?);
                    let n =
                        u64::try_from(n).map_err(|_| self.malformed("negative LONG4 length"))?;
                    let v = if n <= 16 {
                        let bytes = self.bytes(n, "pickle LONG4 length", 16)?;
                        self.long(&bytes)?
                    } else {
                        self.skip(n)?;
                        self.alloc(Node::BigInt(None))?
                    };
                    self.push(v)?;
                }
                // INT, LONG (text)
                b'I' | b'L' => {
                    let line = self.line()?;
                    let v = self.text_number(&line)?;
                    self.push(v)?;
                }
                // FLOAT (text), BINFLOAT
                b'F' => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(&line)
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.malformed("float text is not a number"))?;
                    self.push(Value::Float(v))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.fixed::<8>()?);
                    self.push(Value::Float(v))?;
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                // Text strings.
                b'X' => {
                    let n = u32::from_le_bytes(self.fixed::<4>()?);
                    self.string(u64::from(n))?;
                }
                0x8c => {
                    let n = self.u8()?;
                    self.string(u64::from(n))?;
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.fixed::<8>()?);
                    self.string(n)?;
                }
                // BINSTRING, SHORT_BINSTRING: protocol 0–2 byte strings, read as text like Python 3.
                b'T' => {
                    let n = i32::from_le_bytes(self.fixed::<4>()?);
                    let n = u64::try_from(n)
                        .map_err(|_| self.malformed("negative BINSTRING length"))?;
                    self.string(n)?;
                }
                b'U' => {
                    let n = self.u8()?;
                    self.string(u64::from(n))?;
                }
                // STRING: a quoted repr; UNICODE: raw-unicode-escape text. Escapes are kept as
                // written; torch never emits these (they belong to protocol 0).
                b'S' => {
                    let line = self.line()?;
                    let inner = match line.as_slice() {
                        [q, inner @ .., q2] if q == q2 && (*q == b'\'' || *q == b'"') => inner,
                        _ => return Err(self.malformed("STRING argument is not quoted")),
                    };
                    let s = String::from_utf8_lossy(inner).into_owned();
                    self.charge(s.len() as u64)?;
                    self.push_node(Node::Str(s.into()))?;
                }
                b'V' => {
                    let line = self.line()?;
                    let s = String::from_utf8_lossy(&line).into_owned();
                    self.charge(s.len() as u64)?;
                    self.push_node(Node::Str(s.into()))?;
                }
                // Byte strings: only the length is kept.
                b'B' => {
                    let n = u32::from_le_bytes(self.fixed::<4>()?);
                    self.skip(u64::from(n))?;
                    self.push_node(Node::Bytes)?;
                }
                b'C' => {
                    let n = self.u8()?;
                    self.skip(u64::from(n))?;
                    self.push_node(Node::Bytes)?;
                }
                0x8e | 0x96 => {
                    let n = u64::from_le_bytes(self.fixed::<8>()?);
                    self.skip(n)?;
                    self.push_node(Node::Bytes)?;
                }
                // NEXT_BUFFER: out-of-band data that a file cannot carry.
                0x97 => return Err(self.malformed("out-of-band buffer (NEXT_BUFFER) in a file")),
                // READONLY_BUFFER: no effect on an inert value.
                0x98 => {
                    self.top()?;
                }
                // Containers.
                b']' => self.push_node(Node::List(Vec::new()))?,
                b'}' => self.push_node(Node::Dict(Vec::new()))?,
                b')' => self.push_node(Node::Tuple(Vec::new()))?,
                0x8f => self.push_node(Node::Set(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    self.push_node(Node::List(items))?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    self.push_node(Node::Tuple(items))?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    self.push_node(Node::Set(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op.saturating_sub(0x84));
                    let start = self
                        .stack
                        .len()
                        .checked_sub(n)
                        .filter(|&s| s >= self.frame_start())
                        .ok_or_else(|| self.malformed("stack underflow"))?;
                    let items = self.stack.split_off(start);
                    self.count_items(n as u64)?;
                    self.charge_slots(n, std::mem::size_of::<Value>())?;
                    self.push_node(Node::Tuple(items))?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = self.alloc(Node::Dict(Vec::new()))?;
                    self.push(d)?;
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                // ADDITEMS
                0x90 => {
                    let mut items = self.pop_mark()?;
                    let target = self.top()?;
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    match self.node_mut(target) {
                        Some(Node::Set(s)) => s.append(&mut items),
                        _ => return Err(self.malformed("ADDITEMS on a value that is no set")),
                    }
                }
                // GLOBAL (text module and name), STACK_GLOBAL (two strings on the stack).
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let v = self.global(
                        String::from_utf8_lossy(&module).into_owned(),
                        String::from_utf8_lossy(&name).into_owned(),
                    )?;
                    self.push(v)?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.str_of(module), self.str_of(name))
                    else {
                        return Err(self.malformed("STACK_GLOBAL operands are not strings"));
                    };
                    let (module, name) = (module.to_owned(), name.to_owned());
                    let v = self.global(module, name)?;
                    self.push(v)?;
                }
                // EXT1/2/4: a global named by a copyreg extension code, which a file cannot
                // resolve; recorded under a made-up module so it is reported.
                0x82..=0x84 => {
                    let code = match op {
                        0x82 => u32::from(self.u8()?),
                        0x83 => u32::from(u16::from_le_bytes(self.fixed::<2>()?)),
                        _ => u32::from_le_bytes(self.fixed::<4>()?),
                    };
                    let v = self.global("copyreg.extension".into(), code.to_string())?;
                    self.push(v)?;
                }
                // REDUCE
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.call(func, args)?;
                    self.push(v)?;
                }
                // NEWOBJ
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?;
                }
                // NEWOBJ_EX: keyword arguments are dropped.
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?;
                }
                // INST (protocol 0): class named inline, arguments since the mark.
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let items = self.pop_mark()?;
                    let cls = self.global(
                        String::from_utf8_lossy(&module).into_owned(),
                        String::from_utf8_lossy(&name).into_owned(),
                    )?;
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    let args = self.alloc(Node::Tuple(items))?;
                    let v = self.call(cls, args)?;
                    self.push(v)?;
                }
                // OBJ (protocol 1): class and arguments since the mark.
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err(self.malformed("OBJ without a class"));
                    }
                    let cls = items.remove(0);
                    self.count_items(items.len() as u64)?;
                    self.charge_slots(items.len(), std::mem::size_of::<Value>())?;
                    let args = self.alloc(Node::Tuple(items))?;
                    let v = self.call(cls, args)?;
                    self.push(v)?;
                }
                // BUILD: kept on objects (their state may hold tensors), ignored elsewhere.
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    if let Some(Node::Object { state: s, .. }) = self.node_mut(target) {
                        *s = Some(state);
                    }
                }
                // PERSID (text id), BINPERSID (id on the stack).
                b'P' => {
                    let line = self.line()?;
                    let id = self.alloc(Node::Str(
                        String::from_utf8_lossy(&line).into_owned().into(),
                    ))?;
                    self.push_node(Node::PersId(id))?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push_node(Node::PersId(id))?;
                }
                // Memo.
                b'g' => {
                    let line = self.line()?;
                    let key = self.memo_key(&line)?;
                    self.memo_get(key)?;
                }
                b'h' => {
                    let key = self.u8()?;
                    self.memo_get(u64::from(key))?;
                }
                b'j' => {
                    let key = u32::from_le_bytes(self.fixed::<4>()?);
                    self.memo_get(u64::from(key))?;
                }
                b'p' => {
                    let line = self.line()?;
                    let key = self.memo_key(&line)?;
                    self.memo_put(key)?;
                }
                b'q' => {
                    let key = self.u8()?;
                    self.memo_put(u64::from(key))?;
                }
                b'r' => {
                    let key = u32::from_le_bytes(self.fixed::<4>()?);
                    self.memo_put(u64::from(key))?;
                }
                0x94 => {
                    let key =
                        (self.memo.len() as u64).saturating_add(self.sparse_memo.len() as u64);
                    self.memo_put(key)?;
                }
                other => {
                    return Err(CkptError::UnknownOpcode {
                        stream: self.stream,
                        opcode: other,
                        offset: self.op_start,
                    }
                    .into());
                }
            }
        }
    }

    fn string(&mut self, n: u64) -> Result<(), Error> {
        Limits::check("pickle string length", n, self.limits.max_string_bytes)?;
        self.need(n)?;
        self.charge(n)?;
        let bytes = self.bytes(n, "pickle string length", self.limits.max_string_bytes)?;
        let s = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        self.push_node(Node::Str(s.into()))
    }

    fn memo_key(&self, line: &[u8]) -> Result<u64, Error> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or_else(|| self.malformed("memo key is not a number"))
    }

    /// A little-endian two's complement integer of up to 16 bytes.
    fn long(&mut self, bytes: &[u8]) -> Result<Value, Error> {
        if bytes.len() > 16 {
            return self.alloc(Node::BigInt(None));
        }
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        let mut buf = if negative { [0xffu8; 16] } else { [0u8; 16] };
        for (dst, src) in buf.iter_mut().zip(bytes) {
            *dst = *src;
        }
        let v = i128::from_le_bytes(buf);
        match i64::try_from(v) {
            Ok(small) => Ok(Value::Int(small)),
            Err(_) => self.alloc(Node::BigInt(Some(v))),
        }
    }

    /// `INT` or `LONG` text (`01`/`00` are protocol 0's booleans).
    fn text_number(&mut self, line: &[u8]) -> Result<Value, Error> {
        let text =
            std::str::from_utf8(line).map_err(|_| self.malformed("integer text is not ASCII"))?;
        let text = text.trim();
        let text = text.strip_suffix('L').unwrap_or(text);
        match text {
            "00" => return Ok(Value::Bool(false)),
            "01" => return Ok(Value::Bool(true)),
            _ => {}
        }
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Value::Int(v));
        }
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.malformed("integer text is not a number"));
        }
        let big = text.parse::<i128>().ok();
        self.alloc(Node::BigInt(big))
    }
}
