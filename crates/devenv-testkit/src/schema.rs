//! The one JSON-Schema check of the workspace's tests: the reference implementation (Python's
//! `jsonschema`, Draft 2020-12, from the project venv), so a document is judged by the
//! ecosystem's own validator rather than by a hand-written one.

use std::path::Path;

/// The errors of `doc` against the schema file (empty when valid); panics when the schema
/// itself is not a valid Draft 2020-12 schema or the venv is missing.
pub fn errors(schema: &Path, doc: &serde_json::Value) -> Vec<String> {
    assert!(
        schema.is_file(),
        "schema {} does not exist",
        schema.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let doc_path = dir.path().join("doc.json");
    std::fs::write(&doc_path, doc.to_string()).expect("write the document");
    let mut check = std::process::Command::new(crate::venv_python());
    check
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             checker = jsonschema.FormatChecker()\n\
             v = jsonschema.Draft202012Validator(schema, format_checker=checker)\n\
             for e in v.iter_errors(json.load(open(sys.argv[2]))):\n\
             \x20   print(f\"{list(e.absolute_path)}: {e.message}\")",
        ])
        .arg(schema)
        .arg(&doc_path);
    let out = crate::cmd::output_ok(&mut check, "the schema check itself");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Panics with every error when `doc` does not validate against the schema file.
#[track_caller]
pub fn assert_valid(schema: &Path, doc: &serde_json::Value) {
    let errors = errors(schema, doc);
    assert!(
        errors.is_empty(),
        "{} does not validate against {}:\n{}",
        doc,
        schema.display(),
        errors.join("\n")
    );
}
