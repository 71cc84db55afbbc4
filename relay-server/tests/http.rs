//! Black-box tests of the relay's HTTP surface over real loopback sockets.

use std::path::PathBuf;

use relay::shutdown;
use tokio::net::TcpListener;

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

async fn start() -> (
    String,
    shutdown::ShutdownTrigger,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (trigger, signal) = shutdown::channel();
    let task = tokio::spawn(async move {
        relay::serve(listener, relay::router(&web_dir()), signal)
            .await
            .unwrap();
    });
    (base, trigger, task)
}

#[tokio::test]
async fn healthz_answers_ok() {
    let (base, trigger, task) = start().await;
    let response = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    trigger.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let (base, trigger, task) = start().await;
    let response = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(response.text().await.unwrap().contains("BitCraps"));
    trigger.trigger();
    task.await.unwrap();
}

#[tokio::test]
async fn a_missing_file_is_404() {
    let (base, trigger, task) = start().await;
    let response = reqwest::get(format!("{base}/no-such-file.js"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    trigger.trigger();
    task.await.unwrap();
}
