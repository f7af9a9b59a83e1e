//! A task's parties as processes of their own, through the built binary: a `zkfl node` (the
//! ledger, over HTTP), a `zkfl owner` and three `zkfl provider join`, on 127.0.0.1 over real
//! sockets (libp2p between the owner and the providers), two FedAvg rounds of the default
//! digits task with every round audited.

mod common;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chain::node::NodeClient;
use common::{fails_with, ok, zkfl};
use serde_json::Value as JsonValue;

/// A port free on 127.0.0.1 when asked.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Children killed by their PID when the test ends, however it ends.
#[derive(Default)]
struct Children(Vec<(String, Child)>);

impl Children {
    /// Starts `zkfl args` as `name`, its stdout and stderr in `dir/name.out` and `.err`.
    fn spawn(&mut self, dir: &Path, name: &str, args: &[String]) -> usize {
        let out = File::create(dir.join(format!("{name}.out"))).unwrap();
        let err = File::create(dir.join(format!("{name}.err"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_zkfl"))
            .args(args)
            .env("ZKFL_KEYS", dir.join("keys"))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap();
        self.0.push((name.to_owned(), child));
        self.0.len() - 1
    }

    /// Waits up to `wait` for child `i` to exit successfully; its stdout.
    fn finish(&mut self, dir: &Path, i: usize, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        let (name, child) = &mut self.0[i];
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not finish in {wait:?}: {}",
                read(&dir.join(format!("{name}.err")))
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            status.success(),
            "{name} failed: {}",
            read(&dir.join(format!("{name}.err")))
        );
        read(&dir.join(format!("{name}.out")))
    }

    /// Kills child `i` with SIGKILL.
    fn kill(&mut self, i: usize) {
        let child = &mut self.0[i].1;
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// Waits until `check` holds, polling under a deadline.
fn wait_until(what: &str, wait: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + wait;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {wait:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network on one machine: keys, a genesis funding the owner and the providers, a task file
/// naming them, and a node serving the ledger.
struct Network {
    dir: PathBuf,
    url: String,
    owner_p2p: String,
    children: Children,
    addresses: Vec<String>,
}

impl Network {
    fn start(dir: &Path, providers: usize) -> Network {
        let key = |name: &str| -> (String, String) {
            let path = dir.join(format!("{name}.json"));
            let printed = ok(&zkfl(&["keys", "new", "--out", path.to_str().unwrap()]));
            let address = printed.split_whitespace().last().unwrap().to_owned();
            let file: JsonValue = serde_json::from_str(&read(&path)).unwrap();
            (address, file["public"].as_str().unwrap().to_owned())
        };
        key("validator");
        let mut parties = vec![key("owner")];
        for p in 0..providers {
            parties.push(key(&format!("p{p}")));
        }
        let ledger = dir.join("ledger.redb");
        let mut init = vec![
            s("chain"),
            s("init"),
            s("--ledger"),
            ledger.display().to_string(),
            s("--validator"),
            dir.join("validator.json").display().to_string(),
            s("--chain-id"),
            s("zkfl-net"),
        ];
        for (address, _) in &parties {
            init.extend([s("--alloc"), format!("{address}=100000000")]);
        }
        ok(&zkfl(&init.iter().map(String::as_str).collect::<Vec<_>>()));
        let keys: Vec<String> = parties[1..].iter().map(|(_, k)| format!("{k:?}")).collect();
        // Blocks every 250 ms: a deadline of 400 blocks gives a challenged provider 100 s.
        std::fs::write(
            dir.join("task.toml"),
            format!(
                "id = \"digits\"\nowner = \"{}\"\nproviders = [{}]\nrounds = 2\n\
                 reward = \"proportional\"\naudit = 1000\ndeadline = 400\n",
                parties[0].1,
                keys.join(", ")
            ),
        )
        .unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let mut children = Children::default();
        children.spawn(
            dir,
            "node",
            &[
                s("node"),
                s("--ledger"),
                ledger.display().to_string(),
                s("--validator"),
                dir.join("validator.json").display().to_string(),
                s("--listen"),
                format!("127.0.0.1:{port}"),
                s("--block-ms"),
                s("250"),
                s("--empty-blocks"),
            ],
        );
        let client = NodeClient::new(&url).unwrap().patience(Duration::ZERO);
        wait_until("the node answers", Duration::from_secs(30), || {
            client.status().is_ok()
        });
        Network {
            dir: dir.to_owned(),
            url,
            owner_p2p: format!("/ip4/127.0.0.1/tcp/{}", free_port()),
            children,
            addresses: parties[1..].iter().map(|(a, _)| a.clone()).collect(),
        }
    }

    /// Starts the owner as `name`, waiting `wait` seconds for its providers.
    fn owner(&mut self, name: &str, wait: u64) -> usize {
        let d = |p: &str| self.dir.join(p).display().to_string();
        let args = [
            s("owner"),
            s("--task"),
            d("task.toml"),
            s("--key"),
            d("owner.json"),
            s("--ledger"),
            self.url.clone(),
            s("--p2p"),
            self.owner_p2p.clone(),
            s("--out"),
            d("owner"),
            s("--wait"),
            wait.to_string(),
            s("--json"),
        ];
        self.children.spawn(&self.dir.clone(), name, &args)
    }

    fn provider(&mut self, client: usize) -> usize {
        let d = |p: &str| self.dir.join(p).display().to_string();
        let args = [
            s("provider"),
            s("join"),
            s("--task"),
            d("task.toml"),
            s("--key"),
            d(&format!("p{client}.json")),
            s("--client"),
            client.to_string(),
            s("--owner"),
            self.owner_p2p.clone(),
            s("--ledger"),
            self.url.clone(),
            s("--out"),
            d(&format!("provider-{client}")),
            s("--json"),
        ];
        self.children
            .spawn(&self.dir.clone(), &format!("provider-{client}"), &args)
    }

    /// Stops the node and re-applies its ledger file from genesis (every proof verified again).
    fn verify_ledger(mut self) -> String {
        self.children.kill(0);
        let ledger = self.dir.join("ledger.redb");
        ok(&zkfl(&[
            "chain",
            "verify",
            "--ledger",
            ledger.to_str().unwrap(),
        ]))
    }
}

fn json(text: &str) -> JsonValue {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn an_owner_and_three_providers_in_processes_of_their_own_settle_a_task_on_a_node() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::start(tmp.path(), 3);
    let owner = net.owner("owner", 60);
    let providers: Vec<usize> = (0..3).map(|c| net.provider(c)).collect();

    let summary = json(
        &net.children
            .finish(tmp.path(), owner, Duration::from_secs(180)),
    );
    assert_eq!(summary["rounds"], 2);
    assert!(
        summary["final_accuracy"].as_f64().unwrap() > 0.8,
        "{summary}"
    );
    let payouts = summary["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 3);
    let mut paid = 0;
    for (p, address) in payouts.iter().zip(&net.addresses) {
        assert_eq!(p["address"].as_str().unwrap(), address);
        // Every round audited: two proofs each, verified by the node's ledger.
        assert_eq!(
            (&p["credited"], &p["verified"], &p["slashed"]),
            (&2.into(), &2.into(), &0.into()),
            "{summary}"
        );
        paid += p["payout"].as_i64().unwrap();
    }
    // The escrow split by credited rounds, to the unit (what is left is less than a unit each).
    assert!((1_000_000 - 3..=1_000_000).contains(&paid), "{paid}");

    // Each provider reads the same standing from the ledger, and stops once the task closed.
    for (client, &i) in providers.iter().enumerate() {
        let own = json(&net.children.finish(tmp.path(), i, Duration::from_secs(60)));
        assert_eq!(own["address"], payouts[client]["address"]);
        assert_eq!(own["payout"], payouts[client]["payout"]);
        assert_eq!(own["balance"], payouts[client]["balance"]);
    }
    let client = NodeClient::new(&net.url).unwrap();
    let status = client
        .value(&chain::Path::parse("/tasks/digits/status").unwrap())
        .unwrap();
    assert_eq!(status.as_str(), Some("closed"));

    let verified = net.verify_ledger();
    assert!(verified.starts_with("valid:"), "{verified}");
}

#[test]
fn a_provider_killed_mid_round_is_left_out_and_a_killed_owner_started_again_settles_the_task() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::start(tmp.path(), 3);
    let owner = net.owner("owner", 60);
    let providers: Vec<usize> = (0..3).map(|c| net.provider(c)).collect();
    let log = tmp.path().join("provider-2.err");
    wait_until(
        "provider 2 starts training round 1",
        Duration::from_secs(120),
        || read(&log).contains("round 1: training"),
    );
    net.children.kill(providers[2]); // SIGKILL, mid-round

    // The owner is killed with SIGKILL once round 1 is sealed, and started again: it resumes
    // from the ledger and its cache, and its providers (which answer the ledger's challenges
    // without being asked, drawing one the owner left) go on with it.
    let node = NodeClient::new(&net.url).unwrap();
    let sealed = chain::Path::parse("/tasks/digits/rounds/1/sealed").unwrap();
    wait_until("round 1 is sealed", Duration::from_secs(120), || {
        !node.value(&sealed).unwrap().is_absent()
    });
    net.children.kill(owner);
    // With the owner down, the two live providers answer round 1's challenge unasked (and
    // draw it, unless the owner's draw landed first).
    let proven = chain::Path::parse("/tasks/digits/rounds/1/proven").unwrap();
    wait_until(
        "the live providers prove round 1 without the owner",
        Duration::from_secs(120),
        || match node.value(&proven).unwrap() {
            chain::Value::Object(by) => by.len() == 2,
            _ => false,
        },
    );
    for p in 0..2 {
        let log = read(&tmp.path().join(format!("provider-{p}.err")));
        assert!(log.contains("proven unasked"), "provider {p}: {log}");
    }
    let again = net.owner("owner-again", 10);

    let summary = json(
        &net.children
            .finish(tmp.path(), again, Duration::from_secs(180)),
    );
    let payouts = summary["payouts"].as_array().unwrap();
    for p in &payouts[..2] {
        assert_eq!(
            (&p["credited"], &p["verified"], &p["slashed"]),
            (&2.into(), &2.into(), &0.into()),
            "{summary}"
        );
        assert!(p["payout"].as_i64().unwrap() > 0);
    }
    assert_eq!(payouts[2]["credited"], 0, "{summary}");
    assert_eq!(payouts[2]["payout"], 0, "{summary}");
    for &i in &providers[..2] {
        net.children.finish(tmp.path(), i, Duration::from_secs(60));
    }
    let verified = net.verify_ledger();
    assert!(verified.starts_with("valid:"), "{verified}");
}

#[test]
fn a_party_refuses_another_chain_served_where_its_node_was() {
    let tmp = tempfile::tempdir().unwrap();
    let mut net = Network::start(tmp.path(), 1);
    let ledger = zkfl::task::remote::RemoteLedger::connect(&net.url).unwrap();
    assert!(ledger.status().is_ok());
    // An owner that stops before its providers connect leaves its cache, on this chain.
    let owner = |wait: &str| {
        let d = |p: &str| tmp.path().join(p).display().to_string();
        zkfl(&[
            "owner",
            "--task",
            &d("task.toml"),
            "--key",
            &d("owner.json"),
            "--ledger",
            &net.url,
            "--out",
            &d("owner"),
            "--p2p",
            "/ip4/127.0.0.1/tcp/0",
            "--wait",
            wait,
        ])
    };
    fails_with(&owner("0"), "no provider connected");
    // The node stops, and another chain of the same id is served at its address.
    net.children.kill(0);
    let other = tmp.path().join("other.redb");
    ok(&zkfl(&[
        "keys",
        "new",
        "--out",
        tmp.path().join("v2.json").to_str().unwrap(),
    ]));
    ok(&zkfl(&[
        "chain",
        "init",
        "--ledger",
        other.to_str().unwrap(),
        "--validator",
        tmp.path().join("v2.json").to_str().unwrap(),
        "--chain-id",
        "zkfl-net",
    ]));
    let listen = net.url.trim_start_matches("http://").to_owned();
    net.children.spawn(
        tmp.path(),
        "node-2",
        &[
            s("node"),
            s("--ledger"),
            other.display().to_string(),
            s("--validator"),
            tmp.path().join("v2.json").display().to_string(),
            s("--listen"),
            listen,
        ],
    );
    let client = NodeClient::new(&net.url).unwrap().patience(Duration::ZERO);
    wait_until("the other node answers", Duration::from_secs(30), || {
        client.status().is_ok()
    });
    let refused = ledger.status().unwrap_err();
    assert!(
        refused.is::<zkfl::task::remote::OtherChain>(),
        "{refused:#}"
    );
    assert!(refused.to_string().contains("another chain"), "{refused}");
    // Started again, the owner will not take up its cache on the other chain.
    fails_with(
        &owner("0"),
        "holds the cache of another task, party or chain",
    );
}

#[test]
fn a_party_whose_key_is_not_the_task_files_is_refused_before_it_connects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = |name: &str| dir.join(name).display().to_string();
    for name in ["owner", "stranger", "p0"] {
        ok(&zkfl(&[
            "keys",
            "new",
            "--out",
            &path(&format!("{name}.json")),
        ]));
    }
    let public = |name: &str| -> String {
        let file: JsonValue =
            serde_json::from_str(&read(&dir.join(format!("{name}.json")))).unwrap();
        file["public"].as_str().unwrap().to_owned()
    };
    std::fs::write(
        dir.join("task.toml"),
        format!(
            "id = \"digits\"\nowner = \"{}\"\nproviders = [\"{}\"]\nrounds = 1\nreward = \"proportional\"\n",
            public("owner"),
            public("p0")
        ),
    )
    .unwrap();
    // No node is needed: the key is checked first.
    let nowhere = "http://127.0.0.1:9";
    fails_with(
        &zkfl(&[
            "owner",
            "--task",
            &path("task.toml"),
            "--key",
            &path("stranger.json"),
            "--ledger",
            nowhere,
            "--out",
            &path("o"),
        ]),
        "names another key as owner",
    );
    fails_with(
        &zkfl(&[
            "provider",
            "join",
            "--task",
            &path("task.toml"),
            "--key",
            &path("stranger.json"),
            "--client",
            "0",
            "--owner",
            "/ip4/127.0.0.1/tcp/9",
            "--ledger",
            nowhere,
            "--out",
            &path("p"),
        ]),
        "names another key as providers[0]",
    );
    fails_with(
        &zkfl(&[
            "provider",
            "join",
            "--task",
            &path("task.toml"),
            "--key",
            &path("owner.json"),
            "--client",
            "5",
            "--owner",
            "/ip4/127.0.0.1/tcp/9",
            "--ledger",
            nowhere,
        ]),
        "the task has 1 providers",
    );
    std::fs::write(
        dir.join("bad.toml"),
        "id = \"digits\"\nowner = \"zz\"\nproviders = []\n",
    )
    .unwrap();
    fails_with(
        &zkfl(&[
            "owner",
            "--task",
            &path("bad.toml"),
            "--key",
            &path("owner.json"),
            "--ledger",
            nowhere,
        ]),
        "owner is not 64 hex digits",
    );
    // A party takes one role, and each provider a key of its own.
    for (providers, needle) in [
        (
            format!("\"{}\"", public("owner")),
            "providers[0] is the owner's key",
        ),
        (
            format!("\"{0}\", \"{0}\"", public("p0")),
            "providers[0] and providers[1] are the same key",
        ),
    ] {
        std::fs::write(
            dir.join("roles.toml"),
            format!(
                "id = \"digits\"\nowner = \"{}\"\nproviders = [{providers}]\n",
                public("owner")
            ),
        )
        .unwrap();
        fails_with(
            &zkfl(&[
                "owner",
                "--task",
                &path("roles.toml"),
                "--key",
                &path("owner.json"),
                "--ledger",
                nowhere,
            ]),
            needle,
        );
    }
    std::fs::write(dir.join("typo.toml"), "id = \"digits\"\nownr = \"x\"\n").unwrap();
    fails_with(
        &zkfl(&[
            "owner",
            "--task",
            &path("typo.toml"),
            "--key",
            &path("owner.json"),
            "--ledger",
            nowhere,
        ]),
        "unknown field",
    );
}
