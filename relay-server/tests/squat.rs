//! Limits that cannot be squatted, over real WebSockets: connections that
//! never join give their slots back, and silent members give their seats
//! back, so honest players get in.

mod common;

use std::time::Duration;

use common::{key, start, Client, ROOM};
use shared::codec::control;
use shared::wire::{close, error, FrameKind};

#[tokio::test]
async fn never_joiners_are_closed_and_their_slots_go_to_others() {
    let relay = start(&["--max-connections", "5", "--join-timeout-secs", "1"]).await;
    let mut squatters = Vec::new();
    for n in 0..5 {
        squatters.push(Client::connect(&relay.ws(), key(n)).await);
    }
    // The relay is full: the next one gets HTTP 503.
    let refused = tokio_tungstenite::connect_async(relay.ws()).await;
    assert!(
        refused.is_err(),
        "a sixth connection is refused while they squat"
    );
    // They answer pings (tungstenite does), but never join: closed with 4005.
    for squatter in &mut squatters {
        assert_eq!(squatter.close_code().await, Some(close::JOIN_TIMEOUT));
    }
    // They go (a browser answers the close at once), and their slots are
    // free again once the relay has seen them leave.
    drop(squatters);
    let mut tries = 0;
    while tokio_tungstenite::connect_async(relay.ws()).await.is_err() {
        tries += 1;
        assert!(tries < 100, "the slots never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut honest = Client::connect(&relay.ws(), key(9)).await;
    assert_eq!(honest.join_and_roster(ROOM).await, vec![honest.id()]);
    assert_eq!(relay.rejections("join_timeout"), 5);
    relay.stop().await;
}

#[tokio::test]
async fn silent_members_give_their_seats_back() {
    let relay = start(&["--max-peers-per-room", "3", "--room-idle-timeout-secs", "1"]).await;
    let mut strangers = Vec::new();
    for n in 0..3 {
        let mut stranger = Client::connect(&relay.ws(), key(n)).await;
        stranger.join_and_roster(ROOM).await;
        strangers.push(stranger);
    }
    let mut honest = Client::connect(&relay.ws(), key(9)).await;
    honest.join(ROOM, 0).await;
    let full = honest.recv_kind(FrameKind::Error).await;
    assert_eq!(
        control::decode_error(&full.payload).unwrap().0,
        error::ROOM_FULL
    );
    // A second later the strangers, silent since they joined, are out.
    for stranger in &mut strangers {
        let removed = stranger.recv_kind(FrameKind::Error).await;
        assert_eq!(
            control::decode_error(&removed.payload).unwrap().0,
            error::ROOM_IDLE
        );
    }
    honest.join(ROOM, 0).await;
    let roster = honest.recv_kind(FrameKind::Roster).await;
    assert_eq!(
        control::decode_roster(&roster.payload).unwrap(),
        vec![honest.id()]
    );
    // An active member keeps its seat: the honest one sends keep-alives.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        honest.send(FrameKind::Presence, ROOM, None, &[]).await;
    }
    let mut probe = Client::connect(&relay.ws(), key(10)).await;
    let mut expected = vec![honest.id(), probe.id()];
    expected.sort();
    assert_eq!(probe.join_and_roster(ROOM).await, expected);
    relay.stop().await;
}

#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let relay = start(&["--max-connections-per-ip", "2"]).await;
    let first = Client::connect(&relay.ws(), key(1)).await;
    let _second = Client::connect(&relay.ws(), key(2)).await;
    match tokio_tungstenite::connect_async(relay.ws()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!("a third connection from one address: {other:?}"),
    }
    assert_eq!(relay.rejections("ip_full"), 1);
    // Its place comes back when one goes.
    drop(first);
    let mut tries = 0;
    while tokio_tungstenite::connect_async(relay.ws()).await.is_err() {
        tries += 1;
        assert!(tries < 100, "the place never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.stop().await;
}
