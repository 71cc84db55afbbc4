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

#[tokio::test]
async fn every_labelled_series_is_there_from_the_start_with_the_build() {
    let relay = common::start(&[]).await;
    let text = reqwest::get(format!("{}/metrics", relay.http()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for reason in relay::metrics::REJECTION_REASONS {
        let series = format!("bitcraps_rejections_total{{reason=\"{reason}\"}} 0");
        assert!(text.contains(&series), "{series} missing:\n{text}");
    }
    for reason in relay::metrics::DROP_REASONS {
        for priority in relay::metrics::PRIORITIES {
            let series = format!(
                "bitcraps_queue_drops_total{{priority=\"{priority}\",reason=\"{reason}\"}} 0"
            );
            assert!(text.contains(&series), "{series} missing:\n{text}");
        }
    }
    assert!(text.contains("bitcraps_stun_total{event=\"rate_limited\"} 0"));
    let build = format!(
        "bitcraps_build_info{{engine=\"{}\",version=\"{}\"}} 1",
        shared::ENGINE_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{build} missing:\n{text}");
    relay.stop().await;
}

#[tokio::test]
async fn static_files_are_compressed_and_revalidated() {
    let relay = common::start(&[]).await;
    let url = format!("{}/bitcraps.js", relay.http());
    let plain = std::fs::read(common::web_dir().join("bitcraps.js")).unwrap();
    let http = reqwest::Client::new();
    for encoding in ["br", "gzip"] {
        let response = http
            .get(&url)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["cache-control"], "no-cache");
        let body = response.bytes().await.unwrap();
        assert!(
            body.len() * 2 < plain.len(),
            "{encoding}: {} of {} bytes",
            body.len(),
            plain.len()
        );
    }
    // Unchanged since the browser's copy: 304, no body.
    let first = http.get(&url).send().await.unwrap();
    assert!(first.headers().get("content-encoding").is_none());
    let modified = first.headers()["last-modified"].clone();
    assert_eq!(first.bytes().await.unwrap().len(), plain.len());
    let again = http
        .get(&url)
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    relay.stop().await;
}

#[tokio::test]
async fn requests_to_the_websocket_endpoint_that_are_not_upgrades_are_refused() {
    let relay = common::start(&[]).await;
    let url = format!("{}/ws", relay.http());
    let http = reqwest::Client::new();
    let plain = http.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 400);
    let old_version = http
        .get(&url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "8")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(old_version.status(), 426);
    assert_eq!(old_version.headers()["sec-websocket-version"], "13");
    relay.stop().await;
}

/// `n` connections that each sent half a request header, once the relay
/// has taken them.
async fn half_sent_requests(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut holders = Vec::new();
    for _ in 0..n {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        holders.push(tcp);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    holders
}

/// Reads until the relay closes the connection; how long that took.
async fn closed_after(tcp: &mut tokio::net::TcpStream) -> std::time::Duration {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after 10 s"),
        }
    }
}

#[tokio::test]
async fn half_sent_headers_and_silent_connections_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let relay = common::start(&["--header-timeout-secs", "1"]).await;
    let mut slow = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    let took = closed_after(&mut slow).await;
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    let took = closed_after(&mut silent).await;
    assert!(took < std::time::Duration::from_secs(3), "{took:?}");
    relay.stop().await;
}

#[tokio::test]
async fn connections_that_are_not_websockets_are_capped() {
    let relay = common::start(&["--max-pending-http", "3", "--header-timeout-secs", "2"]).await;
    let holders = half_sent_requests(&relay.addr, 3).await;
    // A fourth is closed at once, and counted.
    let mut over = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    let took = closed_after(&mut over).await;
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    assert_eq!(relay.rejections("http_full"), 1);
    // WebSockets do not count against it once upgraded: with the holders
    // gone, three sockets and then a page request fit.
    drop(holders);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut sockets = Vec::new();
    for n in 1..=3 {
        let mut client = common::Client::connect(&relay.ws(), common::key(n)).await;
        client.join_and_roster(common::ROOM).await;
        sockets.push(client);
    }
    for _ in 0..3 {
        let page = reqwest::get(format!("{}/healthz", relay.http()))
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
    }
    relay.stop().await;
}

#[tokio::test]
async fn the_wasm_is_served_compressed_as_built_never_compressed_per_request() {
    let dir = std::env::temp_dir().join(format!("bitcraps-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm: Vec<u8> = (0..50_000u32).map(|i| (i % 7) as u8).collect();
    std::fs::write(dir.join("a.wasm"), &wasm).unwrap();
    std::fs::write(dir.join("a.wasm.br"), b"as built, brotli").unwrap();
    std::fs::write(dir.join("b.wasm"), &wasm).unwrap();
    let relay = common::start(&["--web-dir", dir.to_str().unwrap()]).await;
    let http = reqwest::Client::new();
    let get = |name: &str| {
        http.get(format!("{}/{name}", relay.http()))
            .header("accept-encoding", "br, gzip")
            .send()
    };
    let built = get("a.wasm").await.unwrap();
    assert_eq!(built.headers()["content-encoding"], "br");
    assert_eq!(built.headers()["content-type"], "application/wasm");
    assert_eq!(&built.bytes().await.unwrap()[..], b"as built, brotli");
    // Without a compressed copy, a wasm goes out as it is.
    let plain = get("b.wasm").await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.unwrap().len(), wasm.len());
    relay.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn one_address_cannot_hold_every_pending_connection() {
    let relay = common::start(&[
        "--max-pending-http-per-ip",
        "2",
        "--header-timeout-secs",
        "2",
    ])
    .await;
    let _holders = half_sent_requests(&relay.addr, 2).await;
    let mut over = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    let took = closed_after(&mut over).await;
    assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    assert_eq!(relay.rejections("http_ip_full"), 1);
    relay.stop().await;
}

#[tokio::test]
async fn a_connection_stays_http_no_longer_than_its_deadline() {
    use tokio::io::AsyncWriteExt;
    let relay = common::start(&["--http-deadline-secs", "2", "--header-timeout-secs", "10"]).await;
    let mut tcp = tokio::net::TcpStream::connect(&relay.addr).await.unwrap();
    let started = std::time::Instant::now();
    // A request every 300 ms keeps it from ever being idle.
    let (mut read, mut write) = tcp.split();
    let asking = async {
        loop {
            if write
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .is_err()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    };
    let reading = async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        while let Ok(n) = read.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(8), async {
        tokio::select! {
            () = asking => {}
            () = reading => {}
        }
    })
    .await
    .expect("closed by its deadline");
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(2) && took < std::time::Duration::from_secs(5),
        "{took:?}"
    );
    relay.stop().await;
}

/// The `Access-Control-Allow-Origin` a page at `origin` gets for `path`.
async fn allowed_for(relay: &common::Running, path: &str, origin: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", relay.http()))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn another_sites_page_may_load_the_element_and_the_api() {
    // (The wasm, built later in the test command, is loaded cross-origin
    // by the browser test that embeds the table from another port.)
    let relay = common::start(&[]).await;
    for path in [
        "/bitcraps-table.js",
        "/bitcraps.js",
        "/style.css",
        "/api/stun",
        "/api/tables",
    ] {
        assert_eq!(
            allowed_for(&relay, path, "http://127.0.0.1:9999")
                .await
                .as_deref(),
            Some("*"),
            "{path}"
        );
    }
    relay.stop().await;
}

#[tokio::test]
async fn only_the_origins_an_operator_allows_may_embed() {
    let relay = common::start(&["--allowed-origins", "http://a.example,http://b.example"]).await;
    assert_eq!(
        allowed_for(&relay, "/bitcraps-table.js", "http://b.example")
            .await
            .as_deref(),
        Some("http://b.example"),
        "--cors-origins defaults to --allowed-origins"
    );
    assert_eq!(
        allowed_for(&relay, "/api/tables", "http://c.example").await,
        None
    );
    relay.stop().await;
    let relay = common::start(&[
        "--allowed-origins",
        "http://a.example",
        "--cors-origins",
        "http://c.example",
    ])
    .await;
    assert_eq!(
        allowed_for(&relay, "/api/stun", "http://c.example")
            .await
            .as_deref(),
        Some("http://c.example")
    );
    assert_eq!(
        allowed_for(&relay, "/api/stun", "http://a.example").await,
        None
    );
    relay.stop().await;
}
