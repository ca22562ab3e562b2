//! Issue 13: `mir scan` of a folder holding one file of each of spandrel's 52 architectures
//! names every one of them, and upscaler checkpoints in the `.pth` wrappers people download
//! (`params_ema`, `params`, `state_dict`, `model`; ESRGAN in both key styles) are named like
//! their safetensors twins. The files are built from the committed layouts in `fixtures/specs`
//! (gen_spandrel.py / gen_vision.py): safetensors with a sparse data section, and real PyTorch
//! zip checkpoints written by `mir_testkit::torch::write_pth`.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{mir, records};
use mir_testkit::SpecTensor;

fn spec(name: &str) -> Vec<SpecTensor> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/specs")
        .join(format!("{name}.spec"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    // `@expect …` directives are the classifier tests' business, not tensors.
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('@'))
        .map(|l| format!("{l}\n"))
        .collect();
    mir_testkit::parse_spec(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// spandrel 0.4.2 + spandrel_extra_arches 0.2.0's registry (`MAIN_REGISTRY.architectures()`),
/// in its order: (architecture id, committed layout, the ID `mir` must give it).
const SPANDREL: [(&str, &str, &str); 52] = [
    ("Compact", "gan-compact.x4", "mir:model.gan.compact:x4"),
    (
        "SwiftSRGAN",
        "gan-swiftsrgan.default",
        "mir:model.gan.swiftsrgan:x4",
    ),
    ("HAT", "gan-hat.x4", "mir:model.gan.hat:x4"),
    ("GRL", "gan-grl.default", "mir:model.gan.grl"),
    ("Swin2SR", "gan-swin2sr.x4", "mir:model.gan.swin2sr:x4"),
    ("SwinIR", "gan-swinir.x4-real", "mir:model.gan.swinir:x4"),
    ("GFPGAN", "gan-gfpgan.v1.4", "mir:model.gan.gfpgan"),
    (
        "RestoreFormer",
        "gan-restoreformer.default",
        "mir:model.gan.restoreformer",
    ),
    ("LaMa", "gan-lama.big-lama", "mir:model.gan.lama"),
    ("OmniSR", "gan-omnisr.x4", "mir:model.gan.omnisr:x4"),
    ("SCUNet", "gan-scunet.gan", "mir:model.gan.scunet"),
    ("FBCNN", "gan-fbcnn.default", "mir:model.gan.fbcnn"),
    ("Uformer", "gan-uformer.default", "mir:model.gan.uformer"),
    ("RGT", "gan-rgt.default", "mir:model.gan.rgt:x2"),
    ("DAT", "gan-dat.x4", "mir:model.gan.dat:x4"),
    ("CRAFT", "gan-craft.default", "mir:model.gan.craft:x4"),
    ("KBNet", "gan-kbnet.s", "mir:model.gan.kbnet"),
    ("DITN", "gan-ditn.default", "mir:model.gan.ditn:x4"),
    ("MMRealSR", "gan-mmrealsr.x4", "mir:model.gan.mmrealsr:x4"),
    ("SPAN", "gan-span.x4", "mir:model.gan.span:x4"),
    (
        "RealCUGAN",
        "gan-realcugan.x2",
        "mir:model.gan.realcugan:x2",
    ),
    ("SAFMN", "gan-safmn.x4", "mir:model.gan.safmn:x4"),
    ("SAFMNBCIE", "gan-safmnbcie.jpeg", "mir:model.gan.safmnbcie"),
    ("DCTLSA", "gan-dctlsa.default", "mir:model.gan.dctlsa:x4"),
    (
        "FFTformer",
        "gan-fftformer.default",
        "mir:model.gan.fftformer",
    ),
    ("NAFNet", "gan-nafnet.sidd-width64", "mir:model.gan.nafnet"),
    ("ATD", "gan-atd.x4", "mir:model.gan.atd:x4"),
    (
        "MixDehazeNet",
        "gan-mixdehazenet.default",
        "mir:model.gan.mixdehazenet",
    ),
    ("DRUNet", "gan-drunet.default", "mir:model.gan.drunet"),
    ("DnCNN", "gan-dncnn.default", "mir:model.gan.dncnn"),
    ("IPT", "gan-ipt.default", "mir:model.gan.ipt"),
    ("DRCT", "gan-drct.x4", "mir:model.gan.drct:x4"),
    ("ESRGAN", "gan-esrgan.x4-old", "mir:model.gan.esrgan:x4"),
    ("PLKSR", "gan-plksr.x4", "mir:model.gan.plksr:x4"),
    (
        "RetinexFormer",
        "gan-retinexformer.default",
        "mir:model.gan.retinexformer",
    ),
    (
        "HVICIDNet",
        "gan-hvicidnet.default",
        "mir:model.gan.hvicidnet",
    ),
    ("SeemoRe", "gan-seemore.default", "mir:model.gan.seemore:x4"),
    ("MoSR", "gan-mosr.default", "mir:model.gan.mosr:x4"),
    ("MoESR", "gan-moesr.default", "mir:model.gan.moesr:x4"),
    ("RCAN", "gan-rcan.default", "mir:model.gan.rcan:x4"),
    ("FDAT", "gan-fdat.default", "mir:model.gan.fdat"),
    ("AuraSR", "gan-aurasr.v1", "mir:model.gan.aurasr"),
    ("SRFormer", "gan-srformer.x4", "mir:model.gan.srformer:x4"),
    (
        "CodeFormer",
        "gan-codeformer.v0.1",
        "mir:model.gan.codeformer",
    ),
    ("MAT", "gan-mat.default", "mir:model.gan.mat"),
    ("DDColor", "gan-ddcolor.default", "mir:model.gan.ddcolor"),
    ("AdaCode", "gan-adacode.default", "mir:model.gan.adacode"),
    ("FeMaSR", "gan-femasr.x4", "mir:model.gan.femasr:x4"),
    ("M3SNet", "gan-m3snet.default", "mir:model.gan.m3snet"),
    (
        "Restormer",
        "gan-restormer.default",
        "mir:model.gan.restormer",
    ),
    ("MPRNet", "gan-mprnet.default", "mir:model.gan.mprnet"),
    ("MIRNet2", "gan-mirnet2.default", "mir:model.gan.mirnet2"),
];

/// `path` (file name) → `mir` of every record of `mir scan --json` over `dir`.
fn scan(dir: &Path) -> BTreeMap<String, String> {
    let out = mir(&["scan", "--json", "--quiet", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    records(&out)
        .into_iter()
        .map(|r| {
            let name = Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(r["error"].is_null(), "{name}: {}", r["error"]);
            (name, r["mir"].as_str().unwrap_or("null").to_owned())
        })
        .collect()
}

#[test]
fn a_folder_of_every_spandrel_architecture_is_named_in_full() {
    // The list itself: 52 distinct architectures, each with its own series.
    let mut series: Vec<&str> = SPANDREL
        .iter()
        .map(|(_, _, id)| id.split(':').take(2).collect::<Vec<_>>().join(":"))
        .map(|s| &*Box::leak(s.into_boxed_str()))
        .collect();
    series.sort_unstable();
    series.dedup();
    assert_eq!(series.len(), 52, "two architectures share a series");
    for (arch, _, id) in SPANDREL {
        assert_eq!(
            id.split(':').nth(1).unwrap(),
            format!("model.gan.{}", arch.to_lowercase()),
            "{arch}: the series is spandrel's architecture id, lowercase"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    for (arch, layout, _) in SPANDREL {
        mir_testkit::write_safetensors(
            &dir.path().join(format!("{arch}.safetensors")),
            &spec(layout),
            &[],
        )
        .unwrap();
    }
    let got = scan(dir.path());
    assert_eq!(got.len(), 52, "{got:?}");
    let wrong: Vec<String> = SPANDREL
        .iter()
        .filter_map(|(arch, layout, want)| {
            let have = got.get(&format!("{arch}.safetensors"))?;
            (have != want).then(|| format!("{arch} ({layout}): {have}, not {want}"))
        })
        .chain(
            SPANDREL
                .iter()
                .filter(|(arch, ..)| !got.contains_key(&format!("{arch}.safetensors")))
                .map(|(arch, ..)| format!("{arch}: no record")),
        )
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn wrapped_pytorch_checkpoints_are_named_like_their_safetensors() {
    // (file, layout, wrapper, ID): the wrappers the released files use.
    let cases: [(&str, &str, Option<&str>, &str); 11] = [
        // ESRGAN's original release and community models (old key style, bare state dict).
        (
            "4x-UltraSharp.pth",
            "gan-esrgan.x4-old",
            None,
            "mir:model.gan.esrgan:x4",
        ),
        // Real-ESRGAN (BasicSR key style) under `params_ema`, x2 under `params`.
        (
            "RealESRGAN_x4plus.pth",
            "gan-esrgan.x4-new",
            Some("params_ema"),
            "mir:model.gan.esrgan:x4",
        ),
        (
            "RealESRGAN_x2plus.pth",
            "gan-esrgan.x2-new",
            Some("params"),
            "mir:model.gan.esrgan:x2",
        ),
        (
            "1x-restore.pth",
            "gan-esrgan.x1-old",
            Some("state_dict"),
            "mir:model.gan.esrgan:x1",
        ),
        // SwinIR / HAT / GFPGAN / CodeFormer releases (`params`, `params_ema`).
        (
            "001_classicalSR_DF2K_s64w8_SwinIR-M_x2.pth",
            "gan-swinir.x2-classical",
            Some("params"),
            "mir:model.gan.swinir:x2",
        ),
        (
            "HAT_SRx4_ImageNet-pretrain.pth",
            "gan-hat.x4",
            Some("params_ema"),
            "mir:model.gan.hat:x4",
        ),
        (
            "GFPGANv1.4.pth",
            "gan-gfpgan.v1.4",
            Some("params_ema"),
            "mir:model.gan.gfpgan",
        ),
        (
            "codeformer.pth",
            "gan-codeformer.v0.1",
            Some("params_ema"),
            "mir:model.gan.codeformer",
        ),
        // SAM 2.1's release wraps its state dict in `model`.
        (
            "sam2.1_hiera_tiny.pt",
            "sam-2-1.tiny",
            Some("model"),
            "mir:model.vit.sam-2-1:tiny",
        ),
        // SAM and Depth Anything V2 release bare state dicts.
        (
            "sam_vit_b_01ec64.pth",
            "sam.vit-b",
            None,
            "mir:model.vit.sam:vit-b",
        ),
        (
            "depth_anything_v2_vits.pth",
            "depth-anything-v2.small",
            None,
            "mir:model.vit.depth-anything-v2:small",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (file, layout, wrapper, _) in cases {
        mir_testkit::torch::write_pth(&dir.path().join(file), &spec(layout), wrapper).unwrap();
    }
    let out = mir(&["scan", "--json", "--quiet", dir.path().to_str().unwrap()]);
    let recs = records(&out);
    assert_eq!(recs.len(), cases.len());
    let mut wrong = Vec::new();
    for (file, layout, wrapper, want) in cases {
        let r = recs
            .iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file}: no record"));
        assert_eq!(r["format"], "ckpt", "{file}");
        assert!(r["error"].is_null(), "{file}: {}", r["error"]);
        // The ckpt plugin lists the full tensor index, not a summary.
        assert_eq!(
            r["tensors"].as_u64(),
            Some(spec(layout).len() as u64),
            "{file}: tensor count"
        );
        let have = r["mir"].as_str().unwrap_or("null");
        if have != want {
            wrong.push(format!(
                "{file} ({layout} in {wrapper:?}): {have}, not {want}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
