//! Hostile clients over raw TCP, for both servers: malformed HTTP, half-open connections that
//! never finish their request head, bodies that never arrive.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `host:port` of a base URL `http://host:port`.
pub fn address(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Sends `request` on a fresh connection and answers the status line's code and the whole
/// answer; panics if no answer comes within 10 s.
pub fn exchange(address: &str, request: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A server may close before taking everything; what it answers still counts.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !answer.is_empty() => break,
            Err(e) => panic!(
                "no answer to {:?}: {e}",
                String::from_utf8_lossy(&request[..request.len().min(60)])
            ),
        }
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let code = answer.split(' ').nth(1).unwrap_or_default().to_string();
    (code, answer)
}

/// The status code of `GET path` on a fresh connection.
pub fn get(address: &str, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    exchange(address, request.as_bytes()).0
}

/// Sends malformed HTTP of every kind, each on its own connection, and checks after each that
/// `probe` (a GET path) still answers `probe_code`.
pub fn malformed(address: &str, probe: &str, probe_code: &str) {
    let huge_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(4 << 20)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..10_000)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<Vec<u8>> = vec![
        b"\x00\xff\xfe garbage \x01\x02\r\n\r\n".to_vec(),
        (0..=255u8).cycle().take(1 << 16).collect(),
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Unfinished: ".to_vec(),
        b"GET /health HTTP/1.1\r\nHost".to_vec(),
        huge_header.into_bytes(),
        many_headers.into_bytes(),
        format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1 << 20)).into_bytes(),
        b"POST /stac/search HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{"
            .to_vec(),
        b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n"
            .to_vec(),
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde"
            .to_vec(),
        b"GET /health HTTP/9.9\r\n\r\n".to_vec(),
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        b"GET /health\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ];
    for request in cases {
        {
            let mut stream = TcpStream::connect(address).unwrap();
            let _ = stream.write_all(&request);
            // Hang up without reading: the server must cope with that too.
        }
        let code = get(address, probe);
        assert_eq!(
            code,
            probe_code,
            "after {:?}",
            String::from_utf8_lossy(&request[..request.len().min(60)])
        );
    }
}

/// Opens `count` connections that send an unfinished request head and nothing more.
pub fn half_open(address: &str, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect()
}

/// Whether the server closed `stream` (end of file or reset) rather than keeping it open.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            // A 408 before closing is fine.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Checks that the server closes every one of `streams` by `deadline`.
pub fn all_closed(streams: Vec<TcpStream>, deadline: Instant) {
    let total = streams.len();
    for (i, mut stream) in streams.into_iter().enumerate() {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        assert!(
            closed_by_server(&mut stream, wait),
            "connection {i} of {total} is still open"
        );
    }
}

/// Whether `stream` is still open after `wait` (nothing read, no end of file).
pub fn still_open(stream: &mut TcpStream, wait: Duration) -> bool {
    !closed_by_server(stream, wait)
}

/// A connection that asked for `path`, kept alive, and got its answer: idle from now on.
pub fn idle_after_answer(address: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    let n = stream.read(&mut buffer).unwrap();
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    stream
}
