//! The `ferry` command line: help text, settings file, and the errors a
//! user gets for bad input.

mod common;

use common::{free_port, RawConn};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ferry() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
}

/// Kills the child by pid when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ferry exited early with {status}");
        }
        assert!(Instant::now() < deadline, "ferry did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `ferry ARGS --help` succeeds and mentions every one of `needles`.
#[track_caller]
fn help_lists(args: &[&str], needles: &[&str]) {
    let out = ferry().args(args).arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in needles {
        assert!(
            text.contains(needle),
            "`ferry {} --help` lacks {needle}:\n{text}",
            args.join(" ")
        );
    }
}

#[test]
fn serve_help_explains_every_flag_with_examples() {
    help_lists(
        &["serve"],
        &[
            "--bind",
            "--port",
            "--data",
            "--durability",
            "--requirepass",
            "--cache-mb",
            "--key-cache-mb",
            "--wal-limit-mb",
            "--config",
            "Examples:",
            "ferry.toml",
        ],
    );
}

#[test]
fn migrate_bulk_help_explains_the_methods() {
    help_lists(
        &["migrate", "bulk"],
        &["--method", "snapshot", "--resume", "--max-rps", "Examples:"],
    );
}

/// `ferry ARGS` is refused as a usage error (exit 2) saying `needle`.
fn refused_saying(args: &[&str], needle: &str) {
    let out = ferry().args(args).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "ferry {}", args.join(" "));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(needle), "{err}");
}

#[test]
fn bad_durability_is_refused_with_the_choices() {
    refused_saying(
        &["serve", "--durability", "sometimes"],
        "always, everysec, no",
    );
}

#[test]
fn bind_with_a_port_says_which_flag_takes_the_port() {
    refused_saying(
        &["serve", "--bind", "127.0.0.1:7000"],
        "--bind 127.0.0.1 --port 7000",
    );
    refused_saying(&["serve", "--bind", "localhost"], "not an IP address");
}

#[test]
fn missing_data_directory_is_explained() {
    let out = ferry()
        .args(["serve", "--port", &free_port().to_string()])
        .args(["--data", "/nonexistent-ferry-dir/sub/data.db"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn port_in_use_is_explained() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ferry()
        .args(["serve", "--bind", "127.0.0.1", "--port", &port.to_string()])
        .arg("--data")
        .arg(dir.path().join("d.db"))
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen") && err.contains("--port"),
        "{err}"
    );
}

#[test]
fn settings_file_is_read_and_flags_win_over_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file_port = free_port();
    std::fs::write(
        dir.path().join("ferry.toml"),
        format!(
            "port = {file_port}\ndurability = \"always\"\ndata = \"from-file.db\"\nwal-limit-mb = 3\n"
        ),
    )
    .expect("write ferry.toml");
    // The file in the working directory is picked up by default.
    let mut child = ferry()
        .arg("serve")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_port(file_port, &mut child);
    let running = Running(child);
    let mut c = RawConn::connect(file_port);
    let reply = String::from_utf8_lossy(&c.cmd(&["CONFIG", "GET", "appendfsync"])).into_owned();
    assert!(reply.ends_with("$6\r\nalways\r\n"), "{reply}");
    let info = String::from_utf8_lossy(&c.cmd(&["INFO", "persistence"])).into_owned();
    assert!(info.contains("ferry_wal_limit_bytes:3145728\r\n"), "{info}");
    drop(running);
    assert!(dir.path().join("from-file.db").exists());

    // A flag overrides the file.
    let flag_port = free_port();
    let mut child = ferry()
        .args([
            "serve",
            "--port",
            &flag_port.to_string(),
            "--durability",
            "no",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for_port(flag_port, &mut child);
    let _running = Running(child);
    let mut c = RawConn::connect(flag_port);
    let reply = String::from_utf8_lossy(&c.cmd(&["CONFIG", "GET", "appendfsync"])).into_owned();
    assert!(reply.ends_with("$2\r\nno\r\n"), "{reply}");
}

#[test]
fn unknown_settings_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "prot = 6379\n").expect("write");
    let path = path.to_str().expect("a UTF-8 temp path");
    refused_saying(&["serve", "--config", path], "prot");
}

#[test]
fn serve_publishes_where_it_listens_beside_the_data_file() {
    // Other ferry processes (ferry migrate) that want the same file find
    // the server through this file instead of opening the store twice.
    let mut f = common::FerryProc::start(common::FerryOpts::default().requirepass("pw"));
    let mut addr_file = f.data_path().as_os_str().to_owned();
    addr_file.push("-ferry.addr");
    let addr_file = std::path::PathBuf::from(addr_file);
    let text = std::fs::read_to_string(&addr_file).expect("the hand-off file exists while serving");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("127.0.0.1:{}", f.port()).as_str()),
        "{text}"
    );
    assert_eq!(lines.next(), Some("pw"), "{text}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&addr_file)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "it holds the password: owner only");
    f.stop();
    assert!(!addr_file.exists(), "removed when the server stops");
}
