//! The binary needs nothing beside it: copied alone into an empty folder, it serves on the
//! defaults compiled into it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Service, free_port, healthz, read, wait_until_healthy};

#[test]
fn the_binary_copied_to_an_empty_folder_serves_on_its_compiled_in_defaults() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let binary = dir.path().join("billing");
    std::fs::copy(env!("CARGO_BIN_EXE_billing"), &binary).expect("copy the binary");
    let port = free_port();
    let log = dir.path().join("billing.log");
    let out = std::fs::File::create(&log).expect("a log file");
    let database = dir.path().join("data").join("billing.db");
    let mut service = Service(
        Command::new(&binary)
            .current_dir(dir.path())
            // Nothing of this machine's configuration: no CONFIG_DIR, APP_ENV, MONGODB_URI...
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("DATABASE_PATH", &database)
            .stdout(Stdio::from(out.try_clone().expect("a second handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start the copied binary"),
    );
    assert!(
        !dir.path().join("config").exists(),
        "no configuration folder beside it"
    );

    wait_until_healthy(port, || read(&log));
    assert!(healthz(port).contains(r#"{"status":"ok"}"#));
    assert!(database.exists(), "the embedded store is at DATABASE_PATH");

    // The ordered stop a container runtime asks for.
    let stopped = Command::new("kill")
        .args(["-TERM", &service.0.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = service.0.try_wait().expect("the child's status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no stop within 30 s: {}",
            read(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", read(&log));
}
