//! How a run talks to `slipway warm` over the pool's Unix socket. One connection is one
//! lease: the run asks for a container of a key, runs commands in it, and hangs up when
//! the step is done (or its process dies), which hands the container back to the pool
//! for removal.
//!
//! Frames: one byte of kind, four of length (big-endian), then the payload. Control
//! messages are JSON; output is raw bytes, so a command may print anything.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::runtime::Stream;

/// Larger frames are refused: neither side sends them.
const MAX_FRAME: usize = 16 << 20;

const CONTROL: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Request {
    /// A free container made for this key (see [`crate::warm::warm_key`]).
    Claim { key: String },
    /// Run this in the claimed container: the words, and `KEY=VALUE` added to its
    /// environment.
    Run { cmd: Vec<String>, env: Vec<String> },
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reply {
    Claimed {
        container: String,
        network: String,
    },
    /// None of this key is free now.
    NoneFree,
    /// The command ended with this status.
    Exited {
        code: i64,
    },
    /// The command could not run, or its container stopped under it (`code` is the
    /// container's, if it stopped).
    Failed {
        message: String,
        code: Option<i64>,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<T> {
    Control(T),
    Output(Stream, Vec<u8>),
}

pub(crate) async fn write_control<T: Serialize>(w: &mut (impl AsyncWrite + Unpin), message: &T) -> std::io::Result<()> {
    let payload = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    write_frame(w, CONTROL, &payload).await
}

pub(crate) async fn write_output(
    w: &mut (impl AsyncWrite + Unpin),
    stream: Stream,
    bytes: &[u8],
) -> std::io::Result<()> {
    let kind = match stream {
        Stream::Stdout => STDOUT,
        Stream::Stderr => STDERR,
    };
    write_frame(w, kind, bytes).await
}

async fn write_frame(w: &mut (impl AsyncWrite + Unpin), kind: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame).await?;
    w.flush().await
}

/// The next frame; `None` when the other side hung up.
pub(crate) async fn read_frame<T: for<'de> Deserialize<'de>>(
    r: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<Frame<T>>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some(match head[0] {
        CONTROL => Frame::Control(serde_json::from_slice(&payload).map_err(std::io::Error::other)?),
        STDOUT => Frame::Output(Stream::Stdout, payload),
        STDERR => Frame::Output(Stream::Stderr, payload),
        other => return Err(std::io::Error::other(format!("a frame of unknown kind {other}"))),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_arrive_as_they_were_sent() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            write_control(&mut a, &Reply::Claimed { container: "c".into(), network: "n".into() }).await.unwrap();
            write_output(&mut a, Stream::Stderr, b"\x00bytes\xff").await.unwrap();
            write_control(&mut a, &Reply::Exited { code: 3 }).await.unwrap();
        });
        let mut frames = Vec::new();
        while let Some(frame) = read_frame::<Reply>(&mut b).await.unwrap() {
            frames.push(frame);
        }
        writer.await.unwrap();
        assert_eq!(
            frames,
            [
                Frame::Control(Reply::Claimed { container: "c".into(), network: "n".into() }),
                Frame::Output(Stream::Stderr, b"\x00bytes\xff".to_vec()),
                Frame::Control(Reply::Exited { code: 3 }),
            ]
        );
    }
}
