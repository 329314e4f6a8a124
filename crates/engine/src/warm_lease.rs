//! A run's side of a warm container: leased from the pool over its socket, held while
//! the step runs, handed back by hanging up (dropping the lease). A process killed
//! mid-step hangs up too, so its container never stays taken.

use std::path::Path;

use tokio::net::UnixStream;

use crate::runtime::Stream;
use crate::warm_protocol::{read_frame, write_control, Frame, Reply, Request};

pub(crate) struct WarmLease {
    connection: UnixStream,
    pub container: String,
    pub network: String,
}

impl WarmLease {
    /// A free container of `key` from the pool listening on `socket`; `None` if it has
    /// none or does not answer.
    pub async fn claim(socket: &Path, key: &str) -> Option<WarmLease> {
        let mut connection = UnixStream::connect(socket).await.ok()?;
        write_control(&mut connection, &Request::Claim { key: key.to_string() }).await.ok()?;
        match read_frame::<Reply>(&mut connection).await.ok()?? {
            Frame::Control(Reply::Claimed { container, network }) => Some(WarmLease { connection, container, network }),
            _ => None,
        }
    }

    /// Run `cmd` in the container, passing its output on as it comes; its exit status.
    pub async fn run(
        &mut self,
        cmd: &[String],
        env: &[String],
        mut output: impl FnMut(Stream, &[u8]),
    ) -> Result<i64, (String, Option<i64>)> {
        let lost = |e: std::io::Error| (format!("lost the warm pool while the command ran: {e}"), None);
        write_control(&mut self.connection, &Request::Run { cmd: cmd.to_vec(), env: env.to_vec() })
            .await
            .map_err(lost)?;
        loop {
            match read_frame::<Reply>(&mut self.connection).await.map_err(lost)? {
                Some(Frame::Output(stream, bytes)) => output(stream, &bytes),
                Some(Frame::Control(Reply::Exited { code })) => return Ok(code),
                Some(Frame::Control(Reply::Failed { message, code })) => return Err((message, code)),
                Some(Frame::Control(other)) => return Err((format!("the warm pool answered {other:?}"), None)),
                None => {
                    return Err((
                        "the warm pool stopped while the command ran (`slipway warm` was ended)".to_string(),
                        None,
                    ))
                }
            }
        }
    }
}
