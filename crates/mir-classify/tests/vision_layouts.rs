//! Issue 13, upscalers' scale and the segmenters / depth estimators (rules/gan.toml,
//! rules/vision.toml; layouts from xtask/layouts/gen_spandrel.py and gen_vision.py):
//! the scale is read from the upsampler (two scales of one family get two compats, and an
//! upsampler the rules cannot read gives no compat and says why); 1x restorers say they have no
//! scale; Depth Anything V2 is never named as DINOv2, SAM never as SAM 2, and their sizes come from
//! the structure.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use mir_classify::Classifier;

fn named(c: &Classifier, s: &mir_classify::testing::Spec) -> (String, Vec<String>) {
    let out = common::classify(c, s);
    (
        out.mir.as_ref().map_or("none".into(), |m| m.to_string()),
        out.evidence,
    )
}

/// (family, fixtures at two or more scales, the upsampler tensor whose width decides the scale)
const SCALED: &[(&str, &[&str], &str)] = &[
    (
        "swinir",
        &[
            "gan-swinir.x2-classical",
            "gan-swinir.x3-classical",
            "gan-swinir.x4-lightweight",
        ],
        "upsample.0.weight",
    ),
    ("hat", &["gan-hat.x2-s", "gan-hat.x4"], "upsample.0.weight"),
    (
        "dat",
        &["gan-dat.x2-s", "gan-dat.x4", "gan-dat.x4-light"],
        "upsample.0.weight",
    ),
    (
        "srformer",
        &["gan-srformer.x2", "gan-srformer.x4"],
        "upsample.0.weight",
    ),
    (
        "swin2sr",
        &["gan-swin2sr.x2", "gan-swin2sr.x4"],
        "upsample.0.weight",
    ),
    (
        "rgt",
        &["gan-rgt.default", "gan-rgt.x4"],
        "upsample.0.weight",
    ),
    (
        "rcan",
        &["gan-rcan.x2", "gan-rcan.default"],
        "tail.0.0.weight",
    ),
    ("omnisr", &["gan-omnisr.x2", "gan-omnisr.x4"], "up.0.weight"),
    (
        "safmn",
        &["gan-safmn.x2", "gan-safmn.x4"],
        "to_img.0.weight",
    ),
    (
        "craft",
        &["gan-craft.x2", "gan-craft.default"],
        "upsample.0.weight",
    ),
    (
        "ditn",
        &["gan-ditn.x2", "gan-ditn.default"],
        "upsample.0.weight",
    ),
    (
        "seemore",
        &["gan-seemore.x2", "gan-seemore.default"],
        "upsampler.0.weight",
    ),
    (
        "mosr",
        &["gan-mosr.x2", "gan-mosr.default"],
        "upsampler.0.weight",
    ),
    (
        "moesr",
        &["gan-moesr.x2", "gan-moesr.default"],
        "upscale.0.weight",
    ),
    (
        "dctlsa",
        &["gan-dctlsa.x2", "gan-dctlsa.default"],
        "upsampler.0.weight",
    ),
    ("drct", &["gan-drct.x2", "gan-drct.x4"], "upsample.0.weight"),
    ("atd", &["gan-atd.x2", "gan-atd.x4"], "upsample.0.weight"),
];

#[test]
fn the_scale_is_read_from_the_upsampler_not_fixed_per_family() {
    let c = Classifier::builtin().unwrap();
    let mut bad = Vec::new();
    for (fam, fixtures, key) in SCALED {
        let mut compats = Vec::new();
        for f in *fixtures {
            let s = common::spec(&format!("{f}.spec"));
            let (got, ev) = named(&c, &s);
            // The generator wrote the scale spandrel itself detected into @expect.
            if Some(&got) != s.expect.as_ref() {
                bad.push(format!("{f}: {got}, not {:?}", s.expect));
            }
            let Some(compat) = got.strip_prefix(&format!("mir:model.gan.{fam}:")) else {
                bad.push(format!("{f}: {got} has no scale"));
                continue;
            };
            compats.push(compat.to_owned());
            // An upsampler of a width no scale gives (100 channels): the family, no scale, and
            // the evidence says why.
            let mut m = s.clone();
            let t = m.index.tensors.iter_mut().find(|t| t.name == *key).unwrap();
            t.shape[0] = 100;
            let (got, ev2) = named(&c, &m);
            if got != format!("mir:model.gan.{fam}") {
                bad.push(format!("{f} with a 100-wide {key}: {got}"));
            }
            if !ev2.iter().any(|e| e.contains("scale not decided")) {
                bad.push(format!("{f} with a 100-wide {key}: evidence {ev2:?}"));
            }
            if ev.iter().any(|e| e.contains("scale not decided")) {
                bad.push(format!("{f}: decided, yet says it is not: {ev:?}"));
            }
        }
        compats.sort();
        compats.dedup();
        if compats.len() < 2 {
            bad.push(format!(
                "{fam}: only one scale {compats:?} among {fixtures:?}"
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn architectures_without_a_readable_scale_say_so() {
    let c = Classifier::builtin().unwrap();
    let mut bad = Vec::new();
    for (f, why) in [
        // 1x restorers: no upsampler at all.
        ("gan-nafnet.sidd-width64", "no scale"),
        ("gan-scunet.gan", "no scale"),
        ("gan-restormer.default", "no scale"),
        ("gan-gfpgan.v1.4", "no scale"),
        ("gan-lama.big-lama", "no scale"),
        ("gan-safmnbcie.jpeg", "no scale"),
        ("gan-kbnet.s", "no scale"),
        // super-resolution nets whose weights do not give the scale
        ("gan-aurasr.v1", "scale not decided"),
        ("gan-fdat.default", "scale not decided"),
        ("gan-ipt.default", "scale not decided"),
        ("gan-drct.default", "scale not decided"),
        ("gan-atd.default", "scale not decided"),
        ("gan-grl.default", "scale not decided"),
        ("gan-adacode.default", "scale not decided"),
    ] {
        let s = common::spec(&format!("{f}.spec"));
        let (got, ev) = named(&c, &s);
        if got.matches(':').count() > 1 {
            bad.push(format!("{f}: {got} has a compat"));
        }
        if !ev.iter().any(|e| e.contains(why)) {
            bad.push(format!("{f}: evidence lacks {why:?}: {ev:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn segmenters_and_depth_estimators_get_their_size_and_never_a_look_alike_name() {
    let c = Classifier::builtin().unwrap();
    let specs: Vec<String> = common::generated_by("gen_vision.py", 20)
        .into_iter()
        .filter(|f| f.starts_with("sam") || f.starts_with("depth-anything"))
        .collect();
    let mut bad = Vec::new();
    for f in &specs {
        let s = common::spec(f);
        let (got, ev) = named(&c, &s);
        if Some(&got) != s.expect.as_ref() {
            bad.push(format!("{f}: {got}, not {:?}", s.expect));
        }
        // A size compat from the structure, with the width it was read from.
        if got.matches(':').count() != 2 {
            bad.push(format!("{f}: {got} has no size"));
        }
        if !ev.iter().any(|e| e.contains("width")) {
            bad.push(format!("{f}: no width in {ev:?}"));
        }
        // Depth Anything V2 keeps DINOv2 inside it: never DINOv2, even without its DPT head.
        if f.starts_with("depth-anything") {
            let mut backbone = s.clone();
            backbone.index.tensors.retain(|t| {
                !t.name.starts_with("depth_head.")
                    && !t.name.starts_with("neck.")
                    && !t.name.starts_with("head.")
            });
            for (what, spec) in [("file", &s), ("backbone only", &backbone)] {
                let (g, _) = named(&c, spec);
                if g.starts_with("mir:model.vit.dinov2") {
                    bad.push(format!("{f} ({what}): named {g}"));
                }
            }
        }
    }
    assert!(specs.len() >= 20, "{specs:?}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn mistoline_is_named_as_the_controlnet_of_its_base_by_its_own_layout() {
    let c = Classifier::builtin().unwrap();
    for (f, want, rule) in [
        (
            "controlnet-flux-1-dev.mistoline.spec",
            "mir:model.controlnet.controlnet:flux-1-dev",
            "rule controlnet-flux-1-mistoline",
        ),
        (
            "controlnet-sdxl.mistoline.spec",
            "mir:model.controlnet.controlnet:stable-diffusion-xl",
            "rule controlnet-sdxl",
        ),
    ] {
        let s = common::spec(f);
        let out = common::classify(&c, &s);
        let got = out.mir.as_ref().map(|m| m.to_string()).unwrap_or_default();
        assert_eq!(got, want, "{f}: {:?}", out.evidence);
        assert!(
            out.evidence.iter().any(|e| e == rule),
            "{f}: {:?}",
            out.evidence
        );
        assert!(out.coverage.as_ref().is_some_and(|c| c.is_full()), "{f}");
        // Without its ControlNet modules the FLUX file is a (pruned) FLUX.1 base, never again
        // a MistoLine: the rule needs the conditioning encoder.
        if f.contains("flux") {
            let mut base = s.clone();
            base.index
                .tensors
                .retain(|t| !t.name.starts_with("input_cond_block."));
            let out = common::classify(&c, &base);
            let got = out.mir.as_ref().map(|m| m.to_string()).unwrap_or_default();
            assert!(
                !out.evidence.iter().any(|e| e == rule),
                "{f} without input_cond_block: {got} {:?}",
                out.evidence
            );
        }
    }
}
