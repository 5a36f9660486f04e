//! TLS for the replication link (`rediss://` sources): ferry-migrate's
//! connector (rustls, system roots, or `#insecure`).

use crate::{Error, Result};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub use ferry_migrate::tls::Security;

/// The TLS handshake on a connected socket.
pub async fn connect(
    stream: TcpStream,
    host: &str,
    insecure: bool,
) -> Result<TlsStream<TcpStream>> {
    ferry_migrate::tls::connect(stream, host, insecure)
        .await
        .map_err(Error::Source)
}
