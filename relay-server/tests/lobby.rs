//! The lobby over real loopback sockets: a house lists its table, the
//! relay shows it at `GET /api/tables` with its limits and players, and
//! takes it off when the house leaves; nobody else can list a house's table.

mod common;

use shared::hex;

use shared::peer::listing;
use shared::session::GameConfig;
use shared::wire::{error, FrameKind};

async fn tables(relay: &common::Running) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::get(format!("{}/api/tables", relay.http()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["tables"].as_array().unwrap().clone()
}

/// Waits (a few seconds at most) until the lobby holds `n` tables.
async fn lobby_of(relay: &common::Running, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let listed = tables(relay).await;
        if listed.len() == n {
            return listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    panic!("the lobby never held {n} tables: {:?}", tables(relay).await);
}

#[tokio::test]
async fn a_listed_table_shows_with_its_limits_and_players_until_the_house_leaves() {
    let relay = common::start(&[]).await;
    let mut house = common::Client::connect(&relay.ws(), common::key(1)).await;
    house.join_and_roster(common::ROOM).await;
    // An unlisted room is not in the lobby.
    assert!(tables(&relay).await.is_empty());
    let mut config = GameConfig::new(common::ROOM, house.id(), 250_000);
    config.rules.min_bet = 5;
    config.rules.max_bet = 500;
    let payload = listing::encode(&config, "Zoë's <b>table</b>").unwrap();
    house
        .send(FrameKind::Presence, common::ROOM, None, &payload)
        .await;
    let mut player = common::Client::connect(&relay.ws(), common::key(2)).await;
    player.join_and_roster(common::ROOM).await;
    let listed = lobby_of(&relay, 1).await;
    let t = &listed[0];
    assert_eq!(t["table"], hex(&common::ROOM));
    assert_eq!(
        t["name"], "Zoë's <b>table</b>",
        "as given: the page escapes it"
    );
    assert_eq!(t["house"], hex(&house.id()));
    assert_eq!(t["minBet"], 5);
    assert_eq!(t["maxBet"], 500);
    assert_eq!(t["bankroll"], 250_000);
    assert_eq!(t["players"], 1);
    assert_eq!(t["full"], false);
    // The listing is not fanned out: the player gets nothing of it (its
    // next frame is the keep-alive's absence; a chat line comes through).
    house
        .send(FrameKind::Presence, common::ROOM, None, &[1, b'h', b'i'])
        .await;
    let got = player.recv_kind(FrameKind::Presence).await;
    assert_eq!(got.payload, vec![1, b'h', b'i']);
    // The house leaves: its table is gone from the lobby.
    house.send(FrameKind::Leave, common::ROOM, None, &[]).await;
    lobby_of(&relay, 0).await;
    relay.stop().await;
}

#[tokio::test]
async fn only_the_house_lists_its_table_and_junk_is_refused() {
    let relay = common::start(&[]).await;
    let mut house = common::Client::connect(&relay.ws(), common::key(1)).await;
    house.join_and_roster(common::ROOM).await;
    let mut other = common::Client::connect(&relay.ws(), common::key(2)).await;
    other.join_and_roster(common::ROOM).await;
    // Another player lists the house's table, or its own config in this
    // room: refused, counted, and nothing listed.
    let config = GameConfig::new(common::ROOM, house.id(), 1_000);
    let forged = listing::encode(&config, "not mine").unwrap();
    other
        .send(FrameKind::Presence, common::ROOM, None, &forged)
        .await;
    let refusal = other.recv_kind(FrameKind::Error).await;
    assert_eq!(
        shared::codec::control::decode_error(&refusal.payload)
            .unwrap()
            .0,
        error::BAD_LISTING
    );
    // A listing cut short.
    house
        .send(FrameKind::Presence, common::ROOM, None, &forged[..40])
        .await;
    let refusal = house.recv_kind(FrameKind::Error).await;
    assert_eq!(
        shared::codec::control::decode_error(&refusal.payload)
            .unwrap()
            .0,
        error::BAD_LISTING
    );
    assert_eq!(relay.rejections("bad_listing"), 2);
    assert!(tables(&relay).await.is_empty());
    // The house's own listing stands; the others are still at the table.
    house
        .send(FrameKind::Presence, common::ROOM, None, &forged)
        .await;
    assert_eq!(lobby_of(&relay, 1).await[0]["players"], 1);
    relay.stop().await;
}
