//! Readiness over a real server and poller: after a gold commit whose data file is missing,
//! `/v1/ready` answers 503 from the first failed load until a load succeeds, while the data
//! routes keep answering from the snapshot loaded before.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{SECRET, bearer, fixture, get, match_row, matches, publish_matches, start};
use eventlake_lake::Lake;
use eventlake_serving_api::auth::Auth;
use eventlake_serving_api::{AppState, Config, refresh};

/// Generous bound for anything that should happen; never asserted as a duration.
const PATIENCE: Duration = Duration::from_secs(30);

/// The poller's period.
const RELOAD: Duration = Duration::from_millis(20);

/// How long readiness is watched while every load fails: many reload periods.
const WATCH: Duration = Duration::from_secs(3);

const MATCHES: &str = "/v1/opportunities/opp-a/matches";

/// A served fixture whose newest `gold.matches` version names data files that are gone.
struct Broken {
    base: String,
    state: Arc<AppState>,
    lake: Lake,
    /// The version served before the broken commit.
    served: String,
    /// Each missing file and where it was moved.
    moved: Vec<(PathBuf, PathBuf)>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

/// The Parquet files of a table, outside its `_delta_log`.
fn data_files(table: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut folders = vec![table.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "_delta_log") {
                    folders.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.insert(path);
            }
        }
    }
    out
}

/// Serves the fixture, commits a new `gold.matches` (one row, pty-9), moves that commit's
/// data file away, and only then starts the poller, so no load can see the file.
async fn serve_a_broken_commit() -> Broken {
    let (dir, aside) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let lake = fixture(dir.path()).await;
    let config = Config {
        rate_per_second: 0.0,
        ..Config::default()
    };
    let (base, state) = start(&lake, Auth::hs256(SECRET), config, false).await;
    let served = state.current().version().to_owned();
    let table = dir.path().join("gold").join("matches");
    let before = data_files(&table);
    publish_matches(
        &lake,
        vec![match_row("tenant-a", "opp-a", "pty-9", "Engineer", 1)],
    )
    .await;
    let moved: Vec<(PathBuf, PathBuf)> = data_files(&table)
        .difference(&before)
        .map(|file| {
            let to = aside.path().join(file.file_name().unwrap());
            std::fs::rename(file, &to).unwrap();
            (file.clone(), to)
        })
        .collect();
    assert!(!moved.is_empty(), "the commit added no data file");
    tokio::spawn(refresh::run(
        lake.clone(),
        Arc::clone(&state),
        RELOAD,
        std::future::pending(),
    ));
    Broken {
        base,
        state,
        lake,
        served,
        moved,
        _dirs: (dir, aside),
    }
}

/// Polls `/v1/ready` until it answers `status`.
async fn ready_becomes(base: &str, status: u16) {
    tokio::time::timeout(PATIENCE, async {
        while get(base, "/v1/ready", None).await.status != status {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("/v1/ready never answered {status}"));
}

/// The candidates of opp-a's matches, in the order served.
fn candidates(body: &serde_json::Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {body}"))
        .iter()
        .map(|m| m["candidate_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_load_is_not_ready_until_a_load_succeeds() {
    let broken = serve_a_broken_commit().await;
    let base = broken.base.as_str();
    let token = bearer("tenant-a", &[]);
    ready_becomes(base, 503).await;

    // Every poll over many reload periods, each one retrying the load, says not ready; the
    // data routes answer from the old snapshot meanwhile.
    let until = Instant::now() + WATCH;
    let mut polls = 0u32;
    while Instant::now() < until {
        let ready = get(base, "/v1/ready", None).await;
        assert_eq!(
            ready.status, 503,
            "ready while the newest version cannot be loaded (poll {polls}): {}",
            ready.body
        );
        assert_eq!(
            ready.body["errors"][0]["code"], "UNAVAILABLE",
            "{}",
            ready.body
        );
        if polls.is_multiple_of(20) {
            let data = get(base, MATCHES, Some(&token)).await;
            assert_eq!(data.status, 200, "{}", data.body);
            assert_eq!(
                data.body["meta"]["snapshot_version"],
                broken.served.as_str()
            );
            assert_eq!(candidates(&data.body), ["pty-4", "pty-1", "pty-2"]);
        }
        polls += 1;
    }
    assert_eq!(
        broken.state.current().generation,
        0,
        "a broken load swapped"
    );

    // A good commit repairs it.
    let mut repaired = matches();
    repaired[0].candidate_id = "pty-8".into();
    publish_matches(&broken.lake, repaired).await;
    ready_becomes(base, 200).await;
    let data = get(base, MATCHES, Some(&token)).await;
    assert_eq!(data.status, 200, "{}", data.body);
    assert_ne!(
        data.body["meta"]["snapshot_version"],
        broken.served.as_str()
    );
    assert_eq!(candidates(&data.body), ["pty-4", "pty-8", "pty-2"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_load_is_retried_without_a_new_commit() {
    let broken = serve_a_broken_commit().await;
    let base = broken.base.as_str();
    ready_becomes(base, 503).await;
    // The file comes back and nothing is committed: the versions stay those of the failed
    // load, which must not count as seen.
    for (missing, aside) in &broken.moved {
        std::fs::rename(aside, missing).unwrap();
    }
    ready_becomes(base, 200).await;
    let data = get(base, MATCHES, Some(&bearer("tenant-a", &[]))).await;
    assert_eq!(data.status, 200, "{}", data.body);
    assert_ne!(
        data.body["meta"]["snapshot_version"],
        broken.served.as_str()
    );
    assert_eq!(candidates(&data.body), ["pty-9"]);
}
