//! A standalone MongoDB-wire server (no replica set, so no transactions), for the suite's
//! second run: the paths that order their writes instead of making them one transaction.
//!
//! `TEST_MONGODB_STANDALONE_URI` names one; otherwise the server `TEST_SECANTUSD` launches
//! (`./scripts/test.sh` sets it) is started once for this test binary with `--standalone`,
//! on a free port, and stops when the binary does. Neither set fails the tests: a suite that
//! silently skipped them would pass without running them.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The URI of the standalone server, started on first use.
pub(crate) fn uri() -> &'static str {
    /// The URI, and the watchdog of the server this binary started, kept for the binary's life.
    static SERVER: OnceLock<(String, Option<Child>)> = OnceLock::new();
    let (uri, _watchdog) =
        SERVER.get_or_init(|| match std::env::var("TEST_MONGODB_STANDALONE_URI") {
            Ok(uri) => (uri, None),
            Err(_) => {
                let (uri, watchdog) = start();
                (uri, Some(watchdog))
            }
        });
    uri
}

fn start() -> (String, Child) {
    let launcher = std::env::var("TEST_SECANTUSD").unwrap_or_else(|_| {
        panic!(
            "neither TEST_MONGODB_STANDALONE_URI nor TEST_SECANTUSD is set: run \
             ./scripts/test.sh, which installs the MongoDB-wire test server, or point \
             TEST_MONGODB_STANDALONE_URI at a standalone MongoDB server"
        )
    });
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // A watchdog shell stops the server once this process is gone: a static is never
    // dropped, so nothing in here could stop it at exit.
    let watchdog = Command::new("sh")
        .args([
            "-c",
            r#"parent=$1; shift; "$@" & server=$!
               while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
               kill "$server" 2>/dev/null"#,
            "watchdog",
            &std::process::id().to_string(),
            &launcher,
            "--standalone",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the standalone MongoDB-wire server");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the standalone MongoDB-wire server did not listen within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false");
    (uri, watchdog)
}
