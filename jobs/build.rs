//! Embeds every job definition under `defs/` (`*.toml` and `*.sql`) and every dashboard view
//! under `views/` (`*.sql`) into the binary, so `eventlake jobs run` and `eventlake athena
//! views` need no files at run time; `--jobs-dir` loads another set of jobs instead.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    embed(
        &root.join("defs"),
        &["toml", "sql"],
        "EMBEDDED",
        &out.join("defs.rs"),
    );
    embed(
        &root.join("views"),
        &["sql"],
        "VIEW_FILES",
        &out.join("views.rs"),
    );
}

/// Writes `pub(crate) const NAME: &[(file name, text)]`, sorted by file name.
fn embed(dir: &Path, extensions: &[&str], name: &str, out: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| extensions.iter().any(|x| e == *x))
        })
        .collect();
    files.sort();
    let mut code = format!("pub(crate) const {name}: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let file_name = file.file_name().unwrap().to_string_lossy().to_string();
        writeln!(
            code,
            "    ({file_name:?}, include_str!({:?})),",
            file.display()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out, code).unwrap();
}
