//! `mir report`: the page is loaded in a real headless Chromium (Debian's `chromium` package),
//! and its DOM after the page's script ran is checked: the expected rows and numbers, filtering
//! and sorting (driven through the page's `#q=…&sort=…` address form), and that file names
//! holding markup stay text. A screenshot is kept at `target/tmp/report/report.png`.
//!
//! When Chromium is missing the browser tests fail and say how to install it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{mir, records};

/// A name that would run script if it reached the page unescaped.
const SCRIPT_NAME: &str = "<script>document.title='PWNED'<script>.safetensors";
/// One that would run script through an attribute.
const IMG_NAME: &str = "<img src=x onerror=\"document.title='PWNED'\">.safetensors";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The artifact folder: `target/tmp/report`.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the spec `name` from `fixtures/specs` as a sparse safetensors file at `path`, with
/// `meta` added to its metadata (to make two files of one spec differ).
fn write_spec(name: &str, path: &Path, meta: &[(&str, &str)]) {
    let specs = root().join("fixtures/specs");
    let text = std::fs::read_to_string(specs.join(name)).unwrap();
    let mut resolve = |inc: &str| std::fs::read_to_string(specs.join(inc)).ok();
    let mut spec = mir_classify::testing::load_spec(&text, &mut resolve).unwrap();
    for (k, v) in meta {
        spec.index
            .metadata
            .insert((*k).to_owned(), mir_core::MetaValue::Str((*v).to_owned()));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    mir_testkit::write_index_safetensors(path, &spec.index).unwrap();
}

/// A small ComfyUI-style library: a checkpoint, a diffusion model, a LoRA and its copy, a LoRA
/// under `checkpoints/`, a VAE, a file no rule knows, and two LoRAs with markup in their names.
/// Without `big`, no checkpoint and no diffusion model (sparse files of several GB, which
/// `--hash` would read whole).
fn library(dir: &Path, big: bool) -> PathBuf {
    let m = dir.join("models");
    if m.exists() {
        std::fs::remove_dir_all(&m).unwrap();
    }
    if big {
        write_spec(
            "sdxl-full.ldm.spec",
            &m.join("checkpoints/sdxl_base.safetensors"),
            &[],
        );
        write_spec(
            "flux-1-dev-full.bfl.spec",
            &m.join("diffusion_models/flux1-dev.safetensors"),
            &[],
        );
    }
    write_spec(
        "lora-sdxl.peft.spec",
        &m.join("loras/detail.safetensors"),
        &[],
    );
    std::fs::copy(
        m.join("loras/detail.safetensors"),
        m.join("loras/detail (copy).safetensors"),
    )
    .unwrap();
    write_spec(
        "lora-flux-1-dev-full.peft.spec",
        &m.join("checkpoints/flux_style_lora.safetensors"),
        &[],
    );
    write_spec(
        "vae-flux-2.bfl.spec",
        &m.join("vae/flux2_vae.safetensors"),
        &[],
    );
    write_spec(
        "lora-sd1.attnproc.spec",
        &m.join("loras").join(SCRIPT_NAME),
        &[("note", "a")],
    );
    write_spec(
        "lora-sd1.attnproc.spec",
        &m.join("loras").join(IMG_NAME),
        &[("note", "bb")],
    );
    // No rule knows these tensors.
    let header = r#"{"mystery.layer.weight":{"dtype":"F16","shape":[4,4],"data_offsets":[0,32]}}"#;
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(&[0u8; 32]);
    std::fs::write(m.join("loras/mystery.safetensors"), f).unwrap();
    m
}

/// Debian's Chromium, or `$MIR_CHROMIUM`. Fails (never skips) when there is none.
fn chromium() -> PathBuf {
    let candidates = [
        std::env::var_os("MIR_CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    find_chromium(candidates.into_iter().flatten()).unwrap_or_else(|e| panic!("{e}"))
}

/// The first of `candidates` that is a file, or the message saying how to install one.
fn find_chromium(candidates: impl IntoIterator<Item = PathBuf>) -> Result<PathBuf, String> {
    candidates.into_iter().find(|c| c.is_file()).ok_or_else(|| {
        "the `mir report` browser tests need a headless Chromium and found none at \
         /usr/bin/chromium (or $MIR_CHROMIUM). Install it: `sudo apt-get install -y chromium` \
         (Debian/Ubuntu), or point MIR_CHROMIUM at a Chromium or Chrome binary. .ci/run \
         installs it when missing."
            .to_owned()
    })
}

#[test]
fn a_missing_chromium_fails_with_the_install_command() {
    let e = find_chromium([PathBuf::from("/nonexistent/chromium")]).unwrap_err();
    assert!(e.contains("apt-get install -y chromium"), "{e}");
    assert!(find_chromium([]).is_err());
}

/// Runs headless Chromium on `url` with `args`; returns stdout. A run that takes more than two
/// minutes is killed and fails the test (never a hung test run).
fn browse(args: &[String], url: &str, tag: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let stdout_path = profile.path().join("stdout");
    let stderr_path = profile.path().join("stderr");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            profile.path().join("profile").display()
        ))
        .args(args)
        .arg(url)
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("run chromium");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ({tag}) did not finish in 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "chromium ({tag}) failed: {status}\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    String::from_utf8_lossy(&std::fs::read(&stdout_path).unwrap()).into_owned()
}

/// The DOM after the page's script ran, loaded from `page` with `fragment` as the address's
/// `#…` part.
fn load_dom(page: &Path, fragment: &str) -> String {
    let url = format!("file://{}{fragment}", page.display());
    let dom = browse(&["--dump-dom".to_owned()], &url, "dump-dom");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not run to its end:\n{}",
        &dom[..dom.len().min(2000)]
    );
    dom
}

/// The `<tr>` rows of the table of every file, in DOM order, as (hidden, html).
fn model_rows(dom: &str) -> Vec<(bool, String)> {
    let start = dom.find("<table id=\"models\"").expect("models table");
    let body = &dom[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr ")
        .skip(1)
        .map(|r| {
            let attrs = &r[..r.find('>').unwrap_or(r.len())];
            (attrs.contains("hidden"), r.to_owned())
        })
        .collect()
}

fn text_between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    let j = s[i..].find(end).unwrap() + i;
    &s[i..j]
}

#[test]
fn report_page_in_headless_chromium() {
    let chromium = chromium(); // fail first, with the install hint, when it is missing
    let dir = artifacts();
    let lib = library(&dir, true);
    let page = dir.join("library.html");
    let index = dir.join("index.sqlite3");
    let _ = std::fs::remove_file(&index);
    let out = mir(&[
        "report",
        lib.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
        "--index",
        index.to_str().unwrap(),
        "--title",
        "Test library",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("9 files"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: no address outside the page.
    for external in ["http://", "https://", "src=\"//", "href=\"//", "@import"] {
        assert!(!html.contains(external), "page refers to {external}");
    }

    let dom = load_dom(&page, "");
    // Markup in file names stays text: the page's one script, no injected element.
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "an injected script element"
    );
    assert!(!dom.contains("<img src=\"x\""), "an injected img element");
    assert!(
        dom.contains("<title>Test library</title>"),
        "title changed by an injection"
    );
    assert!(dom.contains("&lt;script&gt;document.title='PWNED'&lt;script&gt;.safetensors"));
    assert!(dom.contains("&lt;img src=x onerror=\"document.title='PWNED'\"&gt;.safetensors"));

    // Every file has one row, all shown.
    let rows = model_rows(&dom);
    assert_eq!(rows.len(), 9, "rows of the table of every file");
    assert!(rows.iter().all(|(hidden, _)| !hidden));
    assert_eq!(text_between(&dom, "<span id=\"shown\">", "</span>"), "9");

    // The duplicate pair: one group, wasting one copy's size.
    let copy = std::fs::metadata(lib.join("loras/detail.safetensors"))
        .unwrap()
        .len();
    let wasted = text_between(&dom, "id=\"wasted\" data-bytes=\"", "\"");
    assert_eq!(wasted, copy.to_string(), "wasted bytes");
    let dupes = text_between(&dom, "<section id=\"dupes\">", "</section>");
    assert_eq!(dupes.matches("class=\"group dupe\"").count(), 1, "{dupes}");
    assert!(
        dupes.contains("loras/detail (copy).safetensors")
            && dupes.contains("loras/detail.safetensors")
    );
    // The two LoRAs of one spec with different metadata are not copies.
    assert!(
        !dupes.contains("PWNED"),
        "different files offered as copies: {dupes}"
    );

    // The LoRA under checkpoints/ is the one misplaced file; the checkpoint beside it is not.
    let misplaced = text_between(&dom, "<section id=\"misplaced\">", "</section>");
    assert_eq!(
        misplaced.matches("<tr class=\"misplaced\"").count(),
        1,
        "{misplaced}"
    );
    assert!(
        misplaced.contains("checkpoints/flux_style_lora.safetensors"),
        "{misplaced}"
    );
    assert!(misplaced.contains("mir:model.lora.lora:flux-1-dev"));
    assert!(!misplaced.contains("sdxl_base"));

    // The unknown file is listed with its evidence; identified files are not.
    let abstained = text_between(&dom, "<section id=\"abstained\">", "</section>");
    assert!(
        abstained.contains("loras/mystery.safetensors"),
        "{abstained}"
    );
    assert!(!abstained.contains("sdxl_base.safetensors"), "{abstained}");

    // Totals: 5 LoRAs, one VAE; the family chart has the two base families.
    let kinds = text_between(&dom, "<table class=\"tally\" id=\"t-kind\">", "</table>");
    assert!(
        kinds.contains("<td title=\"lora\">lora</td><td class=\"n\">5</td>"),
        "{kinds}"
    );
    assert!(
        kinds.contains("<td title=\"vae\">vae</td><td class=\"n\">1</td>"),
        "{kinds}"
    );
    let space = text_between(&dom, "<section id=\"space\">", "</section>");
    assert!(
        space.contains("flux-1-dev") && space.contains("stable-diffusion-xl"),
        "{space}"
    );

    // Filtering by the address: only the LoRAs' rows are shown.
    let dom_f = load_dom(&page, "#kind=lora");
    let rows = model_rows(&dom_f);
    assert_eq!(rows.iter().filter(|(h, _)| !h).count(), 5);
    assert_eq!(text_between(&dom_f, "<span id=\"shown\">", "</span>"), "5");
    let dom_q = load_dom(&page, "#q=detail");
    assert_eq!(text_between(&dom_q, "<span id=\"shown\">", "</span>"), "2");
    let visible: Vec<String> = model_rows(&dom_q)
        .into_iter()
        .filter(|(h, _)| !h)
        .map(|(_, r)| r)
        .collect();
    assert!(visible.iter().all(|r| r.contains("detail")), "{visible:?}");

    // Sorting by size, largest first: the FLUX model (the largest file) comes first.
    let dom_s = load_dom(&page, "#sort=size&desc");
    let rows = model_rows(&dom_s);
    assert!(rows[0].1.contains("flux1-dev.safetensors"), "{}", rows[0].1);
    assert!(rows[8].1.contains("mystery.safetensors"), "{}", rows[8].1);

    // A screenshot for people (and the README).
    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let _ = chromium;
    browse(
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2200".to_owned(),
        ],
        &format!("file://{}", page.display()),
        "screenshot",
    );
    let shot = std::fs::read(&png).expect("screenshot written");
    assert!(shot.starts_with(b"\x89PNG"), "screenshot is a PNG");
}

#[test]
fn report_from_records_with_previews_and_metadata() {
    let dir = artifacts().join("from");
    std::fs::create_dir_all(&dir).unwrap();
    let lib = library(&dir, false);
    let out = mir(&[
        "scan",
        "--json",
        "--hash",
        "sha256",
        "--no-index",
        lib.to_str().unwrap(),
    ]);
    let mut recs = records(&out);
    assert_eq!(recs.len(), 7);
    // The optional fields of issue 16, as a scan that reads sidecars writes them.
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .unwrap();
    let preview = lib.join("loras/detail.preview.png");
    std::fs::write(&preview, &png).unwrap();
    let fake = lib.join("loras/detail (copy).preview.png");
    std::fs::write(&fake, b"<svg onload=alert(1)>").unwrap();
    for r in &mut recs {
        let path = r["path"].as_str().unwrap().to_owned();
        if path.ends_with("loras/detail.safetensors") {
            r["preview"] = preview.to_str().unwrap().into();
            r["about"] = serde_json::json!({
                "title": {"value": "Detail <Tweaker>", "source": "modelspec.title"},
                "trigger_words": {"value": ["crisp", "detailed"], "source": "ss_tag_frequency"}
            });
        } else if path.ends_with("detail (copy).safetensors") {
            r["preview"] = fake.to_str().unwrap().into();
        }
    }
    let jsonl = dir.join("records.jsonl");
    let mut text: String = recs.iter().map(|r| format!("{r}\n")).collect();
    text.push_str("{\"kind\":\"summary\",\"files\":7}\nnot json\n");
    std::fs::write(&jsonl, text).unwrap();
    let page = dir.join("from.html");
    let out = mir(&[
        "report",
        "--from",
        jsonl.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("line 9: not JSON"), "{stderr}");
    assert!(stderr.contains("not a PNG, JPEG, WebP or GIF"), "{stderr}");
    let html = std::fs::read_to_string(&page).unwrap();
    // The hashes in the records prove the pair equal.
    let copy = std::fs::metadata(lib.join("loras/detail.safetensors"))
        .unwrap()
        .len();
    assert!(html.contains(&format!("id=\"wasted\" data-bytes=\"{copy}\"")));
    // The PNG preview is embedded (one image in the gallery); the SVG pretending to be one is not.
    let gallery = text_between(&html, "<section id=\"previews\">", "</section>");
    assert_eq!(
        gallery.matches("<img src=\"data:image/png;base64,").count(),
        1,
        "{gallery}"
    );
    assert!(!html.contains("image/svg"));
    assert!(html.contains("Detail &lt;Tweaker&gt;"));
    assert!(html.contains("<span class=\"chip\">crisp</span>"));
    // Without hashes in the records, nothing is offered as a duplicate.
    let bare = dir.join("bare.jsonl");
    let plain = mir(&["scan", "--json", "--no-index", lib.to_str().unwrap()]);
    std::fs::write(&bare, &plain.stdout).unwrap();
    let out = mir(&["report", "--from", bare.to_str().unwrap(), "-o", "-", "-q"]);
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.contains("id=\"wasted\" data-bytes=\"0\""));
    assert!(html.contains("had no hash and were not compared"));
    // The page works in the browser too.
    let dom = load_dom(&page, "#status=unknown");
    assert_eq!(text_between(&dom, "<span id=\"shown\">", "</span>"), "1");
}

#[test]
fn report_usage_errors() {
    let out = mir(&["report", "somewhere"]);
    assert_eq!(out.status.code(), Some(3), "no -o is a usage error");
    let out = mir(&["report", "-o", "x.html"]);
    assert_eq!(out.status.code(), Some(3), "no paths and no --from");
    let out = mir(&["report", "a", "--from", "b.jsonl", "-o", "x.html"]);
    assert_eq!(out.status.code(), Some(3), "paths and --from together");
    let out = mir(&["report", "--from", "/nonexistent/records.jsonl", "-o", "-"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/records.jsonl"));
}
