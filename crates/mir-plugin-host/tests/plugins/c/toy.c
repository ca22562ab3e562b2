/*
 * toy.c: a mir plugin written in C against include/mir_plugin.h, built by the host's tests.
 *
 * The "toy" format: the magic "TOY1", a little-endian uint32 n, then n float32 values. The plugin
 * reports one tensor "toy.weight" of dtype F32 and shape [n] with its data range, and one metadata
 * entry. Compile-time switches build the broken variants the tests need:
 *   TOY_ABI_VERSION=N   declare another ABI version
 *   TOY_STRUCT_SIZE=N   declare another table size
 *   TOY_NO_ENTRY        export the entry under another name (and run a constructor that would
 *                       write TOY_MARKER if the library were ever loaded)
 *   TOY_NULL_TABLE      return a null table
 *   TOY_BAD_NAME        declare the format name "Toy Format!"
 */
#include <stdio.h>
#include <string.h>
#include "mir_plugin.h"

#ifndef TOY_ABI_VERSION
#define TOY_ABI_VERSION MIR_ABI_VERSION
#endif
#ifndef TOY_STRUCT_SIZE
#define TOY_STRUCT_SIZE sizeof(MirPluginVTableV1)
#endif
#ifdef TOY_BAD_NAME
#define TOY_NAME "Toy Format!"
#else
#define TOY_NAME "toy"
#endif

#define LIT(s) { (const uint8_t *)(s), sizeof(s) - 1 }

static uint8_t toy_sniff(const uint8_t *head, size_t head_len, uint64_t file_len) {
    (void)file_len;
    if (head_len >= 4 && memcmp(head, "TOY1", 4) == 0) return MIR_SNIFF_MAGIC;
    return MIR_SNIFF_NO;
}

static int32_t fail(const MirHostApiV1 *host, int32_t code, const char *msg) {
    host->emit_error(host->ctx, code, (const uint8_t *)msg, strlen(msg));
    return code;
}

static int32_t toy_parse(const MirHostApiV1 *host) {
    uint8_t head[8];
    if (host->struct_size < sizeof(MirHostApiV1)) return MIR_STATUS_UNSUPPORTED;
    if (host->read_at(host->ctx, 0, head, sizeof head) != 0) return fail(host, MIR_STATUS_READ, "toy: file too short");
    if (memcmp(head, "TOY1", 4) != 0) return fail(host, MIR_STATUS_FORMAT, "toy: no TOY1 magic");
    uint64_t n = (uint64_t)head[4] | (uint64_t)head[5] << 8 | (uint64_t)head[6] << 16 | (uint64_t)head[7] << 24;
    uint64_t end = 8 + 4 * n;
    if (end > host->file_len) return fail(host, MIR_STATUS_FORMAT, "toy: truncated data");
    static const char name[] = "toy.weight";
    static const char dtype[] = "F32";
    if (host->emit_metadata(host->ctx, (const uint8_t *)"toy.written_in", 14, (const uint8_t *)"C", 1) != 0)
        return MIR_STATUS_STOPPED;
    if (host->emit_tensor(host->ctx, (const uint8_t *)name, sizeof name - 1, (const uint8_t *)dtype,
                          sizeof dtype - 1, &n, 1, 8, end) != 0)
        return MIR_STATUS_STOPPED;
    return MIR_STATUS_OK;
}

static const MirStr toy_extensions[] = { LIT("toy") };

static const MirPluginVTableV1 toy_table = {
    TOY_ABI_VERSION,
    (uint32_t)TOY_STRUCT_SIZE,
    LIT(TOY_NAME),
    LIT("1.0.0-c"),
    toy_extensions,
    1,
    toy_sniff,
    toy_parse,
};

#ifdef TOY_NO_ENTRY
__attribute__((constructor)) static void toy_loaded(void) {
    FILE *f = fopen(TOY_MARKER, "w");
    if (f) fclose(f);
}
#define TOY_ENTRY mir_plugin_entry_v0
#else
#define TOY_ENTRY mir_plugin_entry_v1
#endif

const MirPluginVTableV1 *TOY_ENTRY(void) {
#ifdef TOY_NULL_TABLE
    (void)&toy_table;
    return NULL;
#else
    return &toy_table;
#endif
}

/* Layout facts for the test that compares this header with the Rust definitions. */
size_t mir_toy_layout(size_t *out, size_t n) {
    size_t facts[] = {
        sizeof(MirStr),
        sizeof(MirPluginVTableV1),
        offsetof(MirPluginVTableV1, name),
        offsetof(MirPluginVTableV1, version),
        offsetof(MirPluginVTableV1, extensions),
        offsetof(MirPluginVTableV1, extensions_len),
        offsetof(MirPluginVTableV1, sniff),
        offsetof(MirPluginVTableV1, parse),
        sizeof(MirHostApiV1),
        offsetof(MirHostApiV1, ctx),
        offsetof(MirHostApiV1, file_len),
        offsetof(MirHostApiV1, read_at),
        offsetof(MirHostApiV1, emit_tensor),
        offsetof(MirHostApiV1, emit_metadata),
        offsetof(MirHostApiV1, emit_finding),
        offsetof(MirHostApiV1, emit_error),
    };
    size_t count = sizeof facts / sizeof facts[0];
    for (size_t i = 0; i < count && i < n; i++) out[i] = facts[i];
    return count;
}
