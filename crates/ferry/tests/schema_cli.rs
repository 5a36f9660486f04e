//! `ferry schema` from the command line (issue 11, in progress): `diff`
//! of two schema files, its exit codes and its errors.

mod common;

use std::path::Path;
use std::process::Command;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(common::ferry_binary())
        .arg("schema")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const V1: &str = r#"{"name": "user", "version": "1.0.0", "keyPattern": "user:*", "storage": "json-string",
  "fields": {"userName": {"type": "string", "required": true}, "age": {"type": "integer"}}}"#;
const V2: &str = r#"{"name": "user", "version": "2.0.0", "keyPattern": "user:*", "storage": "json-string",
  "fields": {"fullName": {"type": "string", "required": true}, "age": {"type": "integer"}, "bio": {"type": "string"}}}"#;
const V2_SAFE: &str = r#"{"name": "user", "version": "1.1.0", "keyPattern": "user:*", "storage": "json-string",
  "fields": {"userName": {"type": "string", "required": true}, "age": {"type": "number"}, "bio": {"type": "string"}}}"#;

#[test]
fn diff_lists_changes_and_says_if_any_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2, safe) = (
        write(dir.path(), "1.0.0.json", V1),
        write(dir.path(), "2.0.0.json", V2),
        write(dir.path(), "1.1.0.json", V2_SAFE),
    );
    let (code, out, err) = run(&["diff", &v1, &v2]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(
        out,
        "user 1.0.0 -> 2.0.0\n\
         BREAKING field 'userName' renamed to 'fullName' (same schema): stored values still have the old name until a migration renames it\n\
         ok       field 'bio' added: optional: existing values stay valid\n"
    );
    let (code, out, _) = run(&["diff", &v1, &safe]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok       field 'age' type integer -> number"),
        "{out}"
    );
    let (code, out, _) = run(&["diff", &v1, &v1]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "user 1.0.0 -> 1.0.0\nno changes\n")
    );
}

#[test]
fn diff_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = write(dir.path(), "1.0.0.json", V1);
    let broken = write(
        dir.path(),
        "broken.json",
        "{\n  \"name\": \"user\",\n  \"version\": 2\n}\n",
    );
    let (code, _, err) = run(&["diff", &v1, &broken]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with(&format!("ferry schema diff: {broken}:3:")),
        "{err}"
    );
    let other = write(
        dir.path(),
        "order.json",
        &V1.replace("\"user\"", "\"order\""),
    );
    let (code, _, err) = run(&["diff", &v1, &other]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("different schemas ('user' and 'order')"),
        "{err}"
    );
    let (code, _, err) = run(&["diff", &v1, "/nonexistent/x.json"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/x.json: No such file"), "{err}");
}

#[test]
fn init_add_list_show() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    let (code, out, _) = run(&["init", "--dir", repo_s]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = run(&["list", "--dir", repo_s]);
    assert_eq!((code, out), (Some(0), format!("no schemas in {repo_s}\n")));
    let v1 = write(dir.path(), "a.json", V1);
    let v2 = write(dir.path(), "b.json", V2);
    let (code, out, err) = run(&["add", &v1, "--dir", repo_s]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.ends_with("schemas/user/1.0.0.json\n"), "{out}");
    run(&["add", &v2, "--dir", repo_s]);
    let (code, _, err) = run(&["add", &v1, "--dir", repo_s]);
    assert_eq!(code, Some(2));
    assert!(err.contains("versions are immutable"), "{err}");
    let (_, out, _) = run(&["list", "--dir", repo_s]);
    assert_eq!(out, "user: 1.0.0, 2.0.0\n");
    let (code, out, _) = run(&["show", "user", "--dir", repo_s]);
    assert_eq!(code, Some(0));
    assert!(
        out.starts_with("user 2.0.0 (JsonString, keys user:*)\n"),
        "{out}"
    );
    assert!(
        out.contains("\"required\": [\n    \"fullName\"\n  ]"),
        "{out}"
    );
    let (code, _, err) = run(&["show", "user", "9.0.0", "--dir", repo_s]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("has no version 9.0.0 (it has: 1.0.0, 2.0.0)"),
        "{err}"
    );
    let (code, _, err) = run(&["show", "user", "nine", "--dir", repo_s]);
    assert_eq!(code, Some(2));
    assert!(err.contains("'nine' is not a version"), "{err}");
}
