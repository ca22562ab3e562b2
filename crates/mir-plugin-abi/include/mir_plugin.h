/*
 * mir_plugin.h: the C ABI between mir and its run-time format plugins, version 1.
 *
 * This header is the C spelling of the Rust crate `mir-plugin-abi` (crates/mir-plugin-abi/src/lib.rs),
 * which is the reference. It is maintained by hand; the test `c_plugin_*` in crates/mir-plugin-host
 * compiles a C plugin against it and checks every size and offset against the Rust definitions.
 *
 * Contract (see crates/mir-plugin-sdk/README.md for the full text):
 *  - Export one symbol, `mir_plugin_entry_v1`, returning a pointer to a MirPluginVTableV1 that lives
 *    as long as the library is loaded. The host reads abi_version and struct_size before anything else.
 *  - Bytes in: the plugin never opens files; it asks the host for bytes with host->read_at.
 *  - Callbacks out: tensors, metadata, findings and the error message go through host->emit_*.
 *    Strings are pointer + byte length (UTF-8, no NUL needed) and need only live for the call.
 *    Nothing is allocated across the boundary and nothing is freed across it.
 *  - A callback returning non-zero means stop: return from parse promptly.
 *  - sniff and parse may run concurrently on several threads; keep no state between calls.
 *  - Versioning: minor revisions only append fields (check struct_size); a major bump renames the
 *    entry symbol (`_v2`).
 */
#ifndef MIR_PLUGIN_H
#define MIR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MIR_ABI_VERSION 1u
#define MIR_ENTRY_SYMBOL "mir_plugin_entry_v1"

/* data_start == data_end == MIR_NO_DATA: the tensor's byte range is not known. */
#define MIR_NO_DATA UINT64_MAX

/* sniff answers */
#define MIR_SNIFF_NO 0u
#define MIR_SNIFF_NEUTRAL 1u
#define MIR_SNIFF_LIKELY 2u
#define MIR_SNIFF_MAGIC 3u

/* status codes (parse return value, emit_error code) */
#define MIR_STATUS_OK 0
#define MIR_STATUS_FORMAT 1
#define MIR_STATUS_READ 2
#define MIR_STATUS_UNSUPPORTED 3
#define MIR_STATUS_PANIC 4
#define MIR_STATUS_STOPPED 5

/* finding severities */
#define MIR_SEVERITY_INFO 0u
#define MIR_SEVERITY_SUSPICIOUS 1u
#define MIR_SEVERITY_UNSAFE 2u

/* A UTF-8 string: pointer and byte length, not NUL-terminated. */
typedef struct MirStr {
    const uint8_t *ptr;
    size_t len;
} MirStr;

typedef struct MirHostApiV1 MirHostApiV1;

typedef uint8_t (*MirSniffFn)(const uint8_t *head, size_t head_len, uint64_t file_len);
typedef int32_t (*MirParseFn)(const MirHostApiV1 *host);

typedef struct MirPluginVTableV1 {
    uint32_t abi_version;   /* must be MIR_ABI_VERSION; read first */
    uint32_t struct_size;   /* sizeof(MirPluginVTableV1); read second */
    MirStr name;            /* short lowercase format name, [a-z0-9._-], at most 64 bytes */
    MirStr version;         /* the plugin's own version, at most 64 bytes */
    const MirStr *extensions; /* lowercase, no dot */
    size_t extensions_len;  /* at most 32 */
    MirSniffFn sniff;       /* required */
    MirParseFn parse;       /* required */
} MirPluginVTableV1;

typedef int32_t (*MirReadAtFn)(void *ctx, uint64_t offset, uint8_t *buf, size_t len);
typedef int32_t (*MirEmitTensorFn)(void *ctx, const uint8_t *name, size_t name_len,
                                   const uint8_t *dtype, size_t dtype_len,
                                   const uint64_t *dims, size_t rank,
                                   uint64_t data_start, uint64_t data_end);
typedef int32_t (*MirEmitMetadataFn)(void *ctx, const uint8_t *key, size_t key_len,
                                     const uint8_t *value, size_t value_len);
typedef int32_t (*MirEmitFindingFn)(void *ctx, uint8_t severity, const uint8_t *message,
                                    size_t message_len);
typedef void (*MirEmitErrorFn)(void *ctx, int32_t code, const uint8_t *message, size_t message_len);

struct MirHostApiV1 {
    uint32_t struct_size;   /* sizeof(MirHostApiV1) as the host was built */
    uint32_t abi_version;
    void *ctx;              /* pass back to every callback */
    uint64_t file_len;
    MirReadAtFn read_at;
    MirEmitTensorFn emit_tensor;
    MirEmitMetadataFn emit_metadata;
    MirEmitFindingFn emit_finding;
    MirEmitErrorFn emit_error;
};

typedef const MirPluginVTableV1 *(*MirEntryFn)(void);

#ifdef __cplusplus
}
#endif

#endif /* MIR_PLUGIN_H */
