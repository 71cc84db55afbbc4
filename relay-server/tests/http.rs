//! Black-box tests of the relay's HTTP surface over real loopback sockets.

mod common;

#[tokio::test]
async fn healthz_answers_ok() {
    let relay = common::start(&[]).await;
    let response = reqwest::get(format!("{}/healthz", relay.http()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    relay.stop().await;
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let relay = common::start(&[]).await;
    let response = reqwest::get(format!("{}/", relay.http())).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(response.text().await.unwrap().contains("BitCraps"));
    relay.stop().await;
}

#[tokio::test]
async fn a_missing_file_is_404() {
    let relay = common::start(&[]).await;
    let response = reqwest::get(format!("{}/no-such-file.js", relay.http()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    relay.stop().await;
}

#[tokio::test]
async fn metrics_and_stats_are_served() {
    let relay = common::start(&[]).await;
    let mut client = common::Client::connect(&relay.ws(), common::key(1)).await;
    client.join_and_roster(common::ROOM).await;
    relay.relay.publish_stats();
    let metrics = reqwest::get(format!("{}/metrics", relay.http()))
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("bitcraps_connections 1"), "{text}");
    assert!(text.contains("bitcraps_rooms 1"), "{text}");
    let stats: serde_json::Value = reqwest::get(format!("{}/api/stats", relay.http()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["connections"], 1);
    assert_eq!(stats["rooms"], 1);
    relay.stop().await;
}
