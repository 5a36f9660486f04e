//! The replication link to a master, from the replica's side: the
//! handshake (`REPLCONF`, `PSYNC`), the snapshot a full resync sends (a
//! length-prefixed RDB, or the diskless `$EOF:<mark>` form), then the
//! command stream, counted byte by byte so the replica knows its offset,
//! and `REPLCONF ACK <offset>` back.
//!
//! Written here because no maintained crate speaks the replica side of the
//! protocol; it is small: lines, bulk strings and arrays of bulk strings.

use crate::{Error, Result};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The link's two directions: a TCP socket's halves, or a TLS stream's.
type ReadHalf = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// What the master answered to PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// A full resync: the snapshot follows; the stream starts at `offset`.
    Full { replid: String, offset: u64 },
    /// A partial resync: the stream continues (possibly under a new
    /// replication id after a failover).
    Continue { replid: Option<String> },
}

/// One command of the stream and the bytes it took.
pub struct Command {
    pub args: Vec<Vec<u8>>,
    pub bytes: u64,
}

/// How a full resync's snapshot is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `$<len>`: that many bytes (a snapshot saved to disk first).
    Sized(u64),
    /// `$EOF:<mark>`: a diskless transfer, ended by the 40-byte mark.
    Diskless { mark: Vec<u8> },
}

/// The diskless end mark's length (`CONFIG_RUN_ID_SIZE`).
const EOF_MARK: usize = 40;

/// Bytes read from the socket at a time while the snapshot arrives.
pub const SNAPSHOT_CHUNK: usize = 256 * 1024;

/// Chunks read ahead of the snapshot's loader (so at most 4 MB).
pub const SNAPSHOT_AHEAD: usize = 16;

pub struct Link {
    addr: String,
    reader: BufReader<ReadHalf>,
    writer: WriteHalf,
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Link {
    /// Connects and authenticates (`AUTH [user] password` when given).
    pub async fn connect(
        host: &str,
        port: u16,
        security: crate::tls::Security,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Link> {
        let addr = format!("{host}:{port}");
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr))
            .await
            .map_err(|_| Error::Source(format!("{addr}: timed out connecting")))?
            .map_err(|e| Error::Source(format!("{addr}: cannot connect ({e})")))?;
        let _ = stream.set_nodelay(true);
        let (r, w): (ReadHalf, WriteHalf) = match security {
            crate::tls::Security::Plain => {
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            }
            crate::tls::Security::Tls | crate::tls::Security::TlsInsecure => {
                let insecure = security == crate::tls::Security::TlsInsecure;
                let tls = crate::tls::connect(stream, host, insecure).await?;
                let (r, w) = tokio::io::split(tls);
                (Box::new(r), Box::new(w))
            }
        };
        let mut link = Link {
            addr,
            reader: BufReader::with_capacity(1 << 20, r),
            writer: w,
        };
        if let Some(pass) = password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(u) = user {
                args.push(u.as_bytes());
            }
            args.push(pass.as_bytes());
            link.request(&args).await?;
        }
        Ok(link)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<()> {
        self.writer
            .write_all(&encode(args))
            .await
            .map_err(|e| Error::Source(format!("{}: write failed ({e})", self.addr)))
    }

    /// A line of the handshake (master keepalive newlines skipped).
    async fn line(&mut self) -> Result<String> {
        loop {
            let mut buf = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut buf)
                .await
                .map_err(|e| Error::Source(format!("{}: read failed ({e})", self.addr)))?;
            if n == 0 {
                return Err(Error::Source(format!(
                    "{}: the master closed the connection",
                    self.addr
                )));
            }
            let text = String::from_utf8_lossy(&buf).trim_end().to_string();
            if !text.is_empty() {
                return Ok(text);
            }
        }
    }

    /// Sends a command and expects `+...` back.
    async fn request(&mut self, args: &[&[u8]]) -> Result<String> {
        self.send(args).await?;
        let reply = self.line().await?;
        match reply.strip_prefix('+') {
            Some(ok) => Ok(ok.to_string()),
            None => Err(Error::Source(format!(
                "{}: {} answered {reply}",
                self.addr,
                String::from_utf8_lossy(args.first().copied().unwrap_or_default())
            ))),
        }
    }

    /// The replica handshake and PSYNC (`replid`/`offset` of the next byte
    /// wanted, or None for a new full sync).
    pub async fn psync(&mut self, from: Option<(&str, u64)>) -> Result<Start> {
        self.request(&[b"REPLCONF", b"listening-port", b"0"])
            .await?;
        self.request(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
            .await?;
        let (id, off) = match from {
            Some((id, off)) => (id.to_string(), off.to_string()),
            None => ("?".to_string(), "-1".to_string()),
        };
        self.send(&[b"PSYNC", id.as_bytes(), off.as_bytes()])
            .await?;
        let reply = self.line().await?;
        let mut parts = reply.split_whitespace();
        match parts.next() {
            Some("+FULLRESYNC") => {
                let replid = parts.next().unwrap_or_default().to_string();
                let offset = parts
                    .next()
                    .and_then(|o| o.parse().ok())
                    .ok_or_else(|| Error::Source(format!("{}: bad reply {reply}", self.addr)))?;
                Ok(Start::Full { replid, offset })
            }
            Some("+CONTINUE") => Ok(Start::Continue {
                replid: parts.next().map(str::to_string),
            }),
            _ => Err(Error::Source(format!(
                "{}: PSYNC answered {reply} (is it a master that accepts replicas? check `replica-serve-stale-data`, ACLs and `min-replicas`)",
                self.addr
            ))),
        }
    }

    /// The head of the snapshot after `+FULLRESYNC`: its length, or the
    /// diskless form's end mark.
    pub async fn snapshot_head(&mut self) -> Result<Body> {
        let head = self.line().await?;
        let Some(rest) = head.strip_prefix('$') else {
            return Err(Error::Source(format!(
                "{}: expected the snapshot, got {head}",
                self.addr
            )));
        };
        if let Some(mark) = rest.strip_prefix("EOF:") {
            let mark = mark.as_bytes().to_vec();
            if mark.len() != EOF_MARK {
                return Err(Error::Source(format!(
                    "{}: bad snapshot end mark {head}",
                    self.addr
                )));
            }
            return Ok(Body::Diskless { mark });
        }
        let len = rest
            .parse()
            .map_err(|_| Error::Source(format!("{}: bad snapshot length {head}", self.addr)))?;
        Ok(Body::Sized(len))
    }

    /// Hands the snapshot's bytes over as they arrive: a reader task sends
    /// them in chunks on a bounded channel (at most [`SNAPSHOT_AHEAD`]
    /// chunks of at most [`SNAPSHOT_CHUNK`] bytes read ahead of the
    /// loader), so a loader slower than the source stops the reading of
    /// the socket, and the master buffers. The channel closes after the
    /// snapshot's last byte (an error first if the link failed); the task
    /// then hands the link back for the stream. Of the diskless form the
    /// 40-byte end mark is not passed on (nor are the 40 last bytes read,
    /// until more arrive or they turn out to be the mark).
    pub fn read_snapshot(
        mut self,
        body: Body,
    ) -> (
        tokio::sync::mpsc::Receiver<Result<Vec<u8>>>,
        tokio::task::JoinHandle<Link>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(SNAPSHOT_AHEAD);
        let task = tokio::spawn(async move {
            if let Err(e) = self.pass_snapshot(body, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
            self
        });
        (rx, task)
    }

    async fn pass_snapshot(
        &mut self,
        body: Body,
        tx: &tokio::sync::mpsc::Sender<Result<Vec<u8>>>,
    ) -> Result<()> {
        let read_err = |e: std::io::Error| Error::Source(format!("snapshot read failed ({e})"));
        let cut = |addr: &str| Error::Source(format!("{addr}: the snapshot was cut short"));
        // The loader hung up (it failed): stop reading.
        let gone = || Error::Source("the snapshot loader stopped".into());
        let mut chunk = vec![0u8; SNAPSHOT_CHUNK];
        match body {
            Body::Sized(mut left) => {
                while left > 0 {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
                    let n = self
                        .reader
                        .read(&mut chunk[..want])
                        .await
                        .map_err(read_err)?;
                    if n == 0 {
                        return Err(cut(&self.addr));
                    }
                    left -= n as u64;
                    tx.send(Ok(chunk[..n].to_vec())).await.map_err(|_| gone())?;
                }
                Ok(())
            }
            Body::Diskless { mark } => {
                // The last EOF_MARK bytes read, held back: they may be
                // the mark (the master sends nothing after it until the
                // first ACK, so a read ending with it ends the snapshot).
                let mut tail: Vec<u8> = Vec::with_capacity(EOF_MARK);
                loop {
                    let n = self.reader.read(&mut chunk).await.map_err(read_err)?;
                    if n == 0 {
                        return Err(cut(&self.addr));
                    }
                    let mut data = std::mem::take(&mut tail);
                    data.extend_from_slice(&chunk[..n]);
                    let ended = data.ends_with(&mark);
                    let keep = data.len().min(EOF_MARK);
                    tail = data.split_off(data.len() - keep);
                    if !data.is_empty() {
                        tx.send(Ok(data)).await.map_err(|_| gone())?;
                    }
                    if ended {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Hands the stream to a reader task: commands arrive on the channel
    /// (bounded, so a slow target slows the reading), in order; the channel
    /// closes when the link does (an error first, if there was one). Reads
    /// are never cancelled half-way, so no byte of the stream is lost to a
    /// timeout. The returned [`Acker`] sends the ACKs.
    pub fn into_stream(
        self,
        capacity: usize,
    ) -> (tokio::sync::mpsc::Receiver<Result<Command>>, Acker) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        let acker = Acker {
            addr: self.addr.clone(),
            writer: self.writer,
        };
        let mut reader = StreamReader {
            addr: self.addr,
            reader: self.reader,
        };
        tokio::spawn(async move {
            loop {
                match reader.command().await {
                    Ok(Some(c)) => {
                        if tx.send(Ok(c)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        });
        (rx, acker)
    }
}

/// The read side of a link once the stream runs.
struct StreamReader {
    addr: String,
    reader: BufReader<ReadHalf>,
}

impl StreamReader {
    /// The next command of the stream (None: the master closed the link).
    async fn command(&mut self) -> Result<Option<Command>> {
        let mut bytes = 0u64;
        let mut head = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| Error::Source(format!("{}: read failed ({e})", self.addr)))?;
        if n == 0 {
            return Ok(None);
        }
        bytes += n as u64;
        let count = parse_header(&head, b'*').ok_or_else(|| {
            Error::Source(format!(
                "{}: unexpected stream data {:?}",
                self.addr,
                String::from_utf8_lossy(&head)
            ))
        })?;
        let mut args = Vec::with_capacity(count);
        for _ in 0..count {
            let mut h = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut h)
                .await
                .map_err(|e| Error::Source(format!("{}: read failed ({e})", self.addr)))?;
            bytes += n as u64;
            let len = parse_header(&h, b'$').ok_or_else(|| {
                Error::Source(format!("{}: bad bulk header in the stream", self.addr))
            })?;
            let mut arg = vec![0u8; len + 2];
            self.reader
                .read_exact(&mut arg)
                .await
                .map_err(|e| Error::Source(format!("{}: read failed ({e})", self.addr)))?;
            bytes += arg.len() as u64;
            arg.truncate(len);
            args.push(arg);
        }
        Ok(Some(Command { args, bytes }))
    }
}

/// The write side of a link once the stream runs.
pub struct Acker {
    addr: String,
    writer: WriteHalf,
}

impl Acker {
    /// Tells the master how far this replica got.
    pub async fn ack(&mut self, offset: u64) -> Result<()> {
        self.writer
            .write_all(&encode(&[
                b"REPLCONF",
                b"ACK",
                offset.to_string().as_bytes(),
            ]))
            .await
            .map_err(|e| Error::Source(format!("{}: write failed ({e})", self.addr)))
    }
}

/// `*<n>\r\n` or `$<n>\r\n`.
fn parse_header(line: &[u8], kind: u8) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let (first, rest) = line.split_first()?;
    if *first != kind {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}
