//! The HTTP library's own answers, in the documented error body.
//!
//! actix-http answers some requests itself, before any route or middleware of ours runs: a
//! request it cannot parse (400: a bad request line, a NUL in a header, a negative or 2^64
//! `Content-Length`, a bad chunk size), a request head past its limit (431), a head that does
//! not arrive in time (408), an internal dispatch failure (500). Those answers have no body, and
//! the library logs each parse failure at ERROR, so that any client can fill the log.
//!
//! [`Rewriting`] sits between the library and the socket. Every answer of ours carries an
//! `x-request-id`; a head that comes without one, with one of those statuses and an empty body,
//! is the library's, and is rewritten into our JSON error (code, sentence, a fresh request id)
//! on its way out. Each is logged here at WARN, at most once per [`LOG_EVERY`] with the count
//! since the last line; the library's own ERROR line is filtered out where logging is set up.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ApiError, ErrorCode};

/// The shortest time between two log lines about the library's answers.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The library's log target whose parse-failure lines [`Rewriting`] replaces.
pub const LIBRARY_LOG_TARGET: &str = "actix_http::h1::dispatcher";

/// A connection whose library-made error answers are rewritten (see the module's doc).
#[derive(Debug)]
pub struct Rewriting<S> {
    inner: S,
    /// Rewritten bytes not yet written to `inner`.
    pending: Vec<u8>,
    written: usize,
}

impl<S> Rewriting<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Rewriting<S> {
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewriting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewriting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        match rewrite(buf) {
            None => Pin::new(&mut self.inner).poll_write(cx, buf),
            Some(rewritten) => {
                // Taken whole: the bytes are ours to write now, whatever the socket accepts.
                self.pending = rewritten;
                if let Poll::Ready(Err(e)) = self.drain(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// What the library's answer with `status` means, in our terms.
fn error_for(status: u16) -> Option<ApiError> {
    Some(match status {
        400 => ApiError::new(
            ErrorCode::MalformedRequest,
            "The request is not valid HTTP/1.1: its request line, a header, or its length or chunk framing cannot be read",
        ),
        408 => ApiError::new(
            ErrorCode::HeadTimeout,
            "The request's line and headers did not arrive in time",
        ),
        431 => ApiError::new(
            ErrorCode::HeadersTooLarge,
            "The request's line and headers are larger than this server reads",
        ),
        500 => ApiError::new(ErrorCode::Internal, "Internal error"),
        _ => return None,
    })
}

/// `buf` with the library's bodiless error answer in it rewritten, or `None` when it holds
/// none (the bytes then go out untouched).
fn rewrite(buf: &[u8]) -> Option<Vec<u8>> {
    let mut from = 0;
    while let Some(i) = find(&buf[from..], b"HTTP/1.") {
        if let Some(out) = rewrite_at(buf, from + i) {
            return Some(out);
        }
        from += i + 1;
    }
    None
}

/// [`rewrite`], for an answer whose head starts at `start`.
fn rewrite_at(buf: &[u8], start: usize) -> Option<Vec<u8>> {
    let head_len = find(&buf[start..], b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[start..start + head_len]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.get(9..12)?.parse().ok()?;
    // Nearly every answer has a status no library answer has: its headers need no reading.
    if !matches!(status, 400 | 408 | 431 | 500) {
        return None;
    }
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let is_ours = headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("x-request-id:"));
    let empty = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"));
    if is_ours || !empty {
        return None;
    }
    let error = error_for(status)?;
    let body = error.body_json();
    let request_id = uuid::Uuid::new_v4();
    note(status, error.code().as_str());
    let mut out = Vec::with_capacity(buf.len() + body.len() + 128);
    out.extend_from_slice(&buf[..start]);
    out.extend_from_slice(status_line.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("content-length:"))
    {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "content-type: application/json\r\nx-request-id: {request_id}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out.extend_from_slice(&buf[start + head_len..]);
    Some(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Every byte written to every connection is searched: a vectorised search, not a window
    // compared at each byte.
    memchr::memmem::find(haystack, needle)
}

/// Since the last log line: when it was written, and the answers not yet logged.
static LOGGED: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

/// Logs an answer of the library's, at most one line per [`LOG_EVERY`].
fn note(status: u16, code: &str) {
    let Ok(mut logged) = LOGGED.lock() else {
        return;
    };
    let now = Instant::now();
    match logged.as_mut() {
        Some((at, unlogged)) if now.duration_since(*at) < LOG_EVERY => *unlogged += 1,
        _ => {
            let earlier = logged.map_or(0, |(_, n)| n);
            tracing::warn!(
                status,
                code,
                also_since_last_line = earlier,
                "refused a request the HTTP layer could not read"
            );
            *logged = Some((now, 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBRARY_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Wed, 02 Dec 2026 06:13:00 GMT\r\n\r\n";

    fn parts(out: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(out.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_owned(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn the_librarys_bodiless_400_gets_the_documented_error_body() {
        let (head, body) = parts(&rewrite(LIBRARY_400).unwrap());
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("connection: close"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains("x-request-id: "));
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, serde_json::to_vec(&body).unwrap().len());
        assert_eq!(body["code"], "MALFORMED_REQUEST");
        assert!(body["error"].as_str().unwrap().contains("HTTP/1.1"));
    }

    #[test]
    fn a_431_and_a_408_get_their_own_codes() {
        let too_large = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert_eq!(
            parts(&rewrite(too_large).unwrap()).1["code"],
            "HEADERS_TOO_LARGE"
        );
        let slow = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            parts(&rewrite(slow).unwrap()).1["code"],
            "REQUEST_HEAD_TIMEOUT"
        );
    }

    #[test]
    fn answers_of_ours_pass_untouched() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: abc\r\n\r\n";
        assert_eq!(rewrite(ours), None);
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(rewrite(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(rewrite(ok), None);
        assert_eq!(rewrite(b"{\"name\":\"HTTP/1.1 400\"}"), None);
    }

    #[test]
    fn a_library_answer_after_one_of_ours_in_the_same_write_is_rewritten_in_place() {
        let ours = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-request-id: abc\r\n\r\n{}";
        let both = [&ours[..], LIBRARY_400].concat();
        let out = rewrite(&both).unwrap();
        assert!(out.starts_with(ours));
        let (_, body) = parts(&out[ours.len()..]);
        assert_eq!(body["code"], "MALFORMED_REQUEST");
    }
}
