//! `mir ids`: every ID the built-in rules can emit, and what decides it.

use std::io::Write;

use anyhow::Context as _;

use crate::cli::IdsArgs;
use crate::output::json_line;

pub(crate) fn run(args: IdsArgs) -> anyhow::Result<u8> {
    let c = mir_classify::Classifier::builtin()
        .context("the built-in classification rules are invalid")?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    if args.markdown {
        w.write_all(c.id_table_markdown().as_bytes())?;
    } else if args.json {
        for row in c.id_table() {
            json_line(&mut w, &row)?;
        }
    } else {
        for row in c.id_table() {
            let mut tags = vec![row.role.to_owned()];
            if row.fallback {
                tags.push("fallback".to_owned());
            }
            if let Some(p) = row.prediction {
                tags.push(format!("prediction {p}"));
            }
            match row.groups {
                Some(n) => tags.push(format!("{n} module groups")),
                None => tags.push("no module groups".to_owned()),
            }
            writeln!(w, "{}  (rule {}; {})", row.mir, row.rule, tags.join(", "))?;
            for c in &row.candidates {
                writeln!(w, "  candidate {c}")?;
            }
            for e in &row.evidence {
                writeln!(w, "  {e}")?;
            }
        }
    }
    w.flush()?;
    Ok(0)
}
