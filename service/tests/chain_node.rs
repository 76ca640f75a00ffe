//! `zkinfer serve --chain-rpc --coordinator`: the node serves requests made on-chain,
//! end to end on anvil with the example lending pool and the zoo's credit model
//! (registered with the server, its verifier and attestor deployed from the server's
//! artifacts). Exactly once across `kill -9`: after the node saw a request and before it
//! delivered, and right after it sent the delivery; the chain RPC going away and coming
//! back (through a loopback proxy) while gRPC keeps serving; `--confirmations`.

mod chain_support;
#[allow(dead_code)]
mod cli_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::Filter;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use chain_support::{anvil, s, Scratch, ZOO};
use cli_support::zkinfer;
use zkinfer_service::chain::anvil::{DEV_KEY, DEV_KEY_2, DEV_KEY_3};
use zkinfer_service::chain::bindings::{ICreditLendingPool, IZkinferCoordinator};
use zkinfer_service::chain::client::CallResult;
use zkinfer_service::chain::coordinator::{deploy_contract, model_id_bytes, register_model, requested_id};
use zkinfer_service::chain::node::TEST_EXIT_AFTER_SEND_ENV;
use zkinfer_service::chain::{connect, Chain, Deployment};
use zkinfer_service::config::TEST_PAUSE_ENV;

const BIN: &str = env!("CARGO_BIN_EXE_zkinfer");

/// A `zkinfer serve` child, killed (SIGKILL) on drop.
struct Node {
    child: Child,
    log: PathBuf,
}

impl Node {
    fn start(data: &Path, rpc: &str, coordinator: Address, key: &Path, env: &[(&str, &str)]) -> Node {
        Self::start_with(data, rpc, coordinator, key, env, &[])
    }

    fn start_with(data: &Path, rpc: &str, coordinator: Address, key: &Path, env: &[(&str, &str)], args: &[&str]) -> Node {
        let _ = std::fs::remove_file(data.join("server.addr"));
        let log =
            data.with_extension(format!("log{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()));
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--data", s(data), "--listen", "127.0.0.1:0", "--log", "info,halo2_base=error"])
            .args(["--chain-rpc", rpc, "--coordinator", &coordinator.to_string(), "--key-file", s(key)])
            .args(args)
            .env("ZKINFER_CACHE", data.join("cache"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("zkinfer serve starts");
        let node = Node { child, log };
        let t0 = Instant::now();
        while !data.join("server.addr").exists() {
            assert!(t0.elapsed() < Duration::from_secs(60), "the server did not start: {}", node.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }

    fn url(data: &Path) -> String {
        format!("http://{}", std::fs::read_to_string(data.join("server.addr")).unwrap().trim())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` (bounded).
    fn wait_log(&self, needle: &str, limit: Duration) {
        let t0 = Instant::now();
        while !self.log_text().contains(needle) {
            assert!(t0.elapsed() < limit, "no `{needle}` in the node's log:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback TCP proxy that can refuse and cut every connection ("the RPC goes away").
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (u, l) = (up.clone(), live.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                if !u.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                l.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, live }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for c in self.live.lock().unwrap().drain(..) {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

async fn party(url: &str, key: &str) -> Chain {
    connect(url, Some(key.parse::<PrivateKeySigner>().unwrap())).await.unwrap()
}

/// How many `InferenceDelivered` events the coordinator emitted for `id`.
async fn deliveries(chain: &Chain, coordinator: Address, id: U256) -> usize {
    let f = Filter::new()
        .address(coordinator)
        .event_signature(IZkinferCoordinator::InferenceDelivered::SIGNATURE_HASH)
        .topic1(alloy_primitives::B256::from(id))
        .from_block(0u64);
    chain.provider.get_logs(&f).await.unwrap().len()
}

/// Waits (bounded) until `id` was delivered once; returns the time it took.
async fn delivered(chain: &Chain, coordinator: Address, id: U256, limit: Duration, node: &Node) -> Duration {
    let t0 = Instant::now();
    while deliveries(chain, coordinator, id).await == 0 {
        assert!(t0.elapsed() < limit, "request {id} was not delivered; node log:\n{}", node.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t0.elapsed()
}

#[test]
fn the_node_serves_on_chain_requests_exactly_once_across_crashes_and_rpc_outages() {
    let scratch = Scratch::new("chain-node");
    let data = scratch.path("data");
    let key = scratch.key_file_for(DEV_KEY_3, "node-key");
    let owner_key = scratch.key_file();
    let chain_node = anvil();
    let url = chain_node.url();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let owner = rt.block_on(party(&url, DEV_KEY));
    let borrower = rt.block_on(party(&url, DEV_KEY_2));
    let (code, out, err) = zkinfer(&["deploy-coordinator", "--rpc", &url, "--key-file", s(&owner_key)]);
    assert_eq!(code, 0, "{err}");
    let coordinator: Address = out.trim().parse().unwrap();

    // The node, and the model registered with it.
    let node = Node::start(&data, &url, coordinator, &key, &[]);
    let server = Node::url(&data);
    let zoo = format!("{ZOO}/credit_mlp");
    let (code, out, err) = zkinfer(&[
        "register",
        &format!("{zoo}/network.onnx"),
        "--calibration",
        &format!("{zoo}/input.json"),
        "--wait",
        "--server",
        &server,
    ]);
    assert_eq!(code, 0, "{err}");
    let model_id = serde_json::from_str::<serde_json::Value>(out.lines().find(|l| l.contains("model_id")).unwrap()).unwrap()["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Its contracts, deployed from the server's artifacts.
    let dir = scratch.path("model");
    std::fs::create_dir_all(&dir).unwrap();
    for (kind, file) in [("settings", "settings.json"), ("quant", "quant.json"), ("verifier-json", "verifier.json")] {
        let (code, _, err) = zkinfer(&["fetch", &model_id, "--kind", kind, "--out", s(&dir.join(file)), "--server", &server]);
        assert_eq!(code, 0, "{kind}: {err}");
    }
    let (code, _, err) = zkinfer(&["deploy", s(&dir), "--rpc", &url, "--key-file", s(&owner_key)]);
    assert_eq!(code, 0, "{err}");
    let attestor = Deployment::read(&dir, 31337).unwrap().unwrap().attestor().unwrap();
    let mid = model_id_bytes(&model_id).unwrap();
    let (code, _, err) = zkinfer(&[
        "register-onchain",
        s(&dir),
        "--coordinator",
        &coordinator.to_string(),
        "--model-id",
        &model_id,
        "--rpc",
        &url,
        "--key-file",
        s(&owner_key),
    ]);
    assert_eq!(code, 0, "{err}");
    let (pool, _) = rt
        .block_on(deploy_contract(
            &owner,
            &chain_support::solc(),
            "CreditLendingPool",
            "",
            &(coordinator, mid, U256::from(1_000_000u64)).abi_encode_params(),
        ))
        .unwrap();

    let sample: serde_json::Value = serde_json::from_slice(&std::fs::read(format!("{zoo}/input.json")).unwrap()).unwrap();
    let settings: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("settings.json")).unwrap()).unwrap();
    let scale = settings["calibration"]["scale"].as_u64().unwrap() as i32;
    let features: Vec<alloy_primitives::I256> = sample["input_data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| alloy_primitives::I256::try_from((x.as_f64().unwrap() * 2f64.powi(scale)).round() as i64).unwrap())
        .collect();
    let fee = U256::from(1_000_000_000_000_000u64);
    let request = |b: &Chain| {
        let b = b.clone();
        let call = ICreditLendingPool::requestCreditLimitCall { features: features.clone() }.abi_encode();
        async move { requested_id(&b.send(Some(pool), call, fee).await.unwrap()).unwrap() }
    };
    let limit_of = |c: &Chain| {
        let c = c.clone();
        let call = ICreditLendingPool::creditLimitCall { borrower: c.sender.unwrap() }.abi_encode();
        async move {
            match c.call(Some(pool), call).await.unwrap() {
                CallResult::Returned(out) => ICreditLendingPool::creditLimitCall::abi_decode_returns(&out).unwrap(),
                other => panic!("{other:?}"),
            }
        }
    };

    // 1. Request -> proof -> callback; a request for an unknown model is skipped.
    rt.block_on(async {
        let stranger = deploy_contract(
            &owner,
            &chain_support::solc(),
            "CreditLendingPool",
            "",
            &(coordinator, alloy_primitives::B256::repeat_byte(7), U256::from(1u8)).abi_encode_params(),
        )
        .await
        .unwrap()
        .0;
        // Registered on the coordinator with the same attestor, but unknown to this node.
        register_model(&owner, coordinator, alloy_primitives::B256::repeat_byte(7), attestor).await.unwrap();
        let call = ICreditLendingPool::requestCreditLimitCall { features: features.clone() }.abi_encode();
        borrower.send(Some(stranger), call, fee).await.unwrap();
        let t0 = Instant::now();
        let id = request(&borrower).await;
        delivered(&borrower, coordinator, id, Duration::from_secs(180), &node).await;
        eprintln!("credit_mlp via the node: request-to-callback latency on anvil {:.2} s", t0.elapsed().as_secs_f64());
        assert!(limit_of(&borrower).await > U256::ZERO);
        assert_eq!(deliveries(&borrower, coordinator, id).await, 1);
    });
    node.wait_log("does not have: skipped", Duration::from_secs(30));

    // 2. kill -9 after the node saw the request, before it delivered: exactly once.
    node.kill9();
    let node = Node::start(&data, &url, coordinator, &key, &[(TEST_PAUSE_ENV, "3000")]);
    let id = rt.block_on(request(&borrower));
    node.wait_log("on-chain request accepted", Duration::from_secs(60));
    node.kill9();
    let node = Node::start(&data, &url, coordinator, &key, &[]);
    rt.block_on(async {
        delivered(&borrower, coordinator, id, Duration::from_secs(180), &node).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(deliveries(&borrower, coordinator, id).await, 1);
    });

    // 3. Killed right after sending the delivery: the restart does not send it again.
    node.kill9();
    let mut crashing = Node::start(&data, &url, coordinator, &key, &[(TEST_EXIT_AFTER_SEND_ENV, "1")]);
    let id = rt.block_on(request(&borrower));
    let t0 = Instant::now();
    while crashing.child.try_wait().unwrap().is_none() {
        assert!(t0.elapsed() < Duration::from_secs(180), "the node did not exit after sending: {}", crashing.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let node = Node::start(&data, &url, coordinator, &key, &[]);
    node.wait_log("nothing to send", Duration::from_secs(60));
    rt.block_on(async { assert_eq!(deliveries(&borrower, coordinator, id).await, 1) });
    drop(crashing);

    // 4. The RPC goes away and comes back: gRPC keeps serving, the node catches up.
    node.kill9();
    let proxy = Proxy::start(chain_node.port);
    let node = Node::start(&data, &proxy.url(), coordinator, &key, &[]);
    node.wait_log("connected to the chain", Duration::from_secs(30));
    proxy.set_up(false);
    let id = rt.block_on(request(&borrower));
    std::thread::sleep(Duration::from_secs(3));
    let (code, _, err) =
        zkinfer(&["fetch", &model_id, "--kind", "settings", "--out", s(&scratch.path("again.json")), "--server", &Node::url(&data)]);
    assert_eq!(code, 0, "gRPC stopped serving while the RPC was away: {err}");
    rt.block_on(async { assert_eq!(deliveries(&borrower, coordinator, id).await, 0) });
    proxy.set_up(true);
    rt.block_on(async {
        delivered(&borrower, coordinator, id, Duration::from_secs(120), &node).await;
        assert_eq!(deliveries(&borrower, coordinator, id).await, 1);
    });
    assert!(node.log_text().contains("chain follower:"), "the outage was not noticed:\n{}", node.log_text());

    // 5. With --confirmations 2 a request waits for two blocks above it.
    node.kill9();
    let node = Node::start_with(&data, &url, coordinator, &key, &[], &["--confirmations", "2"]);
    node.wait_log("connected to the chain", Duration::from_secs(30));
    let id = rt.block_on(request(&borrower));
    std::thread::sleep(Duration::from_secs(3));
    rt.block_on(async {
        assert_eq!(deliveries(&borrower, coordinator, id).await, 0, "served before its confirmations");
        for _ in 0..2 {
            let _: serde_json::Value = owner.provider.raw_request("evm_mine".into(), ()).await.unwrap();
        }
        delivered(&borrower, coordinator, id, Duration::from_secs(120), &node).await;
        assert_eq!(deliveries(&borrower, coordinator, id).await, 1);
    });
}
