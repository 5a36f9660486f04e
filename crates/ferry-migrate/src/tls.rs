//! TLS for ferry's own Redis connections (the replication link of `ferry
//! sync`, `ferry proxy`'s upstreams): rustls with ring, the system's
//! trusted roots, or no verification with `#insecure`: the same rule as
//! `rediss://` endpoints that go through the redis crate.

type Result<T> = std::result::Result<T, String>;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How a server is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Security {
    #[default]
    Plain,
    /// TLS, the certificate checked against the system's roots.
    Tls,
    /// TLS without checking the certificate (`#insecure`).
    TlsInsecure,
}

/// Accepts any certificate (`#insecure`); signatures are still checked,
/// so the handshake itself stays sound.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn config(insecure: bool) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?;
    if insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs()
        .map_err(|e| format!("reading the system's TLS roots: {e}"))?;
    let (_added, _ignored) = roots.add_parsable_certificates(native);
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// The TLS handshake on a connected socket.
pub async fn connect(
    stream: TcpStream,
    host: &str,
    insecure: bool,
) -> Result<TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config(insecure)?));
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: not a TLS server name ({e})"))?;
    connector.connect(name, stream).await.map_err(|e| {
        format!(
            "{host}: TLS handshake failed ({e}); a self-signed or private certificate is accepted with rediss://...#insecure"
        )
    })
}
