//! Running the built binary: a child process stopped when dropped, a free port, and plain
//! HTTP/1.1 over a socket (no client library between the test and what the binary answers).

use std::io::{Read, Write};
use std::process::Child;
use std::time::{Duration, Instant};

/// The service as a child process, killed (and reaped) when dropped, whatever the test did.
pub struct Service(pub Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A plain HTTP/1.1 request over a socket; returns the whole answer, or nothing when no one
/// listens.
pub fn http(port: u16, request: &str) -> String {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.write_all(request.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

pub fn healthz(port: u16) -> String {
    http(
        port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
}

/// Waits until `/healthz` answers 200, for up to 30 s; `log` says why not.
pub fn wait_until_healthy(port: u16, log: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthz(port).contains("200 OK") {
        assert!(
            Instant::now() < deadline,
            "the service did not start: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
