#!/usr/bin/env bash
# A local cluster to try cluster mode: nats-server (JetStream, storage in a
# temporary folder) and three relays sharing its rooms, serving the page on
# http://127.0.0.1:8080, :8081 and :8082. Open a table on one and join it
# from another; stop one relay (its pid is printed) and the others carry on.
# Ctrl-C stops everything. Extra arguments go to every relay.
#   BITCRAPS_CLUSTER_PORTS="8080 8081 8082"  the relays' HTTP ports
#   BITCRAPS_NATS_PORT=4222                   NATS's client port
set -euo pipefail
source "$(dirname "$0")/env.sh"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-wasm.sh"
log "building the relay (release)"
cd "$ROOT"
cargo build --quiet --release -p bitcraps-relay

nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
nats_port=${BITCRAPS_NATS_PORT:-4222}
ports=(${BITCRAPS_CLUSTER_PORTS:-8080 8081 8082})
dir=$(mktemp -d -t bitcraps-cluster.XXXXXX)
pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping the cluster"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap stop INT TERM EXIT

cat > "$dir/nats.conf" <<CONF
listen: 127.0.0.1:$nats_port
jetstream { store_dir: "$dir/js" }
CONF
"$nats_bin" -c "$dir/nats.conf" > "$dir/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$nats_port") 2>/dev/null && break
    sleep 0.1
done
log "nats-server (JetStream) on nats://127.0.0.1:$nats_port, pid ${pids[0]} (log: $dir/nats.log)"

stun=3478
for port in "${ports[@]}"; do
    "$ROOT/target/release/bitcraps-relay" --web-dir "$ROOT/web" \
        --listen "127.0.0.1:$port" --stun-listen "127.0.0.1:$stun" \
        --nats "nats://127.0.0.1:$nats_port" "$@" > "$dir/relay-$port.log" 2>&1 &
    pids+=($!)
    log "relay on http://127.0.0.1:$port, pid $! (log: $dir/relay-$port.log)"
    stun=$((stun + 1))
done
log "the cluster runs; Ctrl-C stops it"
wait -n "${pids[@]}" || true
log "a process of the cluster ended (see the logs above); the others run on until Ctrl-C"
wait
