//! The HTTP server: `/` the page, `/api/state` its JSON, `/metrics` for
//! Prometheus. It also runs the board's once-a-second sampler, since only
//! the charts need the rate history.

use crate::board::Board;
use crate::{metrics, state};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The page, embedded so the binary needs no files and works offline.
pub const PAGE: &str = include_str!("page.html");

/// Binds `addr` and serves `board` until the returned task is aborted or
/// the process ends. Returns the address bound (port 0 picks a free one).
///
/// A port already taken fails here, before the tool starts its work, with
/// an error that says so.
pub async fn serve(
    addr: SocketAddr,
    board: Arc<Board>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, e))?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/", get(page))
        .route("/api/state", get(api_state))
        .route("/metrics", get(prometheus))
        .with_state(board.clone());
    let handle = tokio::spawn(async move {
        let sampler = async {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                board.sample();
            }
        };
        tokio::select! {
            r = axum::serve(listener, app) => {
                if let Err(e) = r {
                    log::warn!("dashboard on {local}: {e}");
                }
            }
            () = sampler => {}
        }
    });
    Ok((local, handle))
}

fn bind_error(addr: SocketAddr, e: io::Error) -> io::Error {
    let msg = match e.kind() {
        io::ErrorKind::AddrInUse => format!("{addr}: address in use; choose another port"),
        io::ErrorKind::PermissionDenied => {
            format!("{addr}: permission denied (ports below 1024 need root); choose another port")
        }
        io::ErrorKind::AddrNotAvailable => {
            format!("{addr}: no such address on this machine; use 127.0.0.1 or an address of one of its interfaces")
        }
        _ => format!("{addr}: {e}"),
    };
    io::Error::new(e.kind(), msg)
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

async fn api_state(
    axum::extract::State(board): axum::extract::State<Arc<Board>>,
) -> impl IntoResponse {
    let body = serde_json::to_string(&state::snapshot(&board)).unwrap_or_else(|e| {
        log::warn!("dashboard: encoding the state: {e}");
        "{}".into()
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

async fn prometheus(
    axum::extract::State(board): axum::extract::State<Arc<Board>>,
) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&board),
    )
}
