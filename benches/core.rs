//! Benchmarks of headwind-core's hot paths.
//!
//! - `policy/decide_minor`: one `minor` policy decision between two semver tags.
//! - `policy/best_of_1000`: picking the best allowed tag out of 1,000 (a mix of releases,
//!   prereleases and non-version tags, as a busy repository's tag list looks).
//! - `approval/end_to_end`: create a request and approve it on the in-memory backends (store
//!   compare-and-swap twice, workload read, image write, two history appends).
//!
//! Run with `cargo bench --bench core`.

use std::hint::black_box;
use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use headwind::core::ApprovalService;
use headwind::core::memory::{MemoryDeployer, MemoryHistoryStore, MemoryUpdateStore};
use headwind::core::policy::{Policy, PolicyConfig};
use headwind::core::store::UpdateStore;
use headwind::core::types::{Container, UpdateRequest, Workload, WorkloadRef};

fn tags() -> Vec<String> {
    (0..1000)
        .map(|i| match i % 10 {
            0 => format!("{}.{}.{}-rc.1", i / 100, i % 17, i % 7),
            1 => format!("build-{i}"),
            _ => format!("{}.{}.{}", i / 100, i % 17, i % 7),
        })
        .collect()
}

fn policy(c: &mut Criterion) {
    let minor = PolicyConfig::new(Policy::Minor);
    c.bench_function("policy/decide_minor", |b| {
        b.iter(|| minor.decide(black_box("1.25.3"), black_box("1.26.0")));
    });

    let tags = tags();
    c.bench_function("policy/best_of_1000", |b| {
        b.iter(|| minor.best(black_box("3.2.1"), tags.iter().map(String::as_str)));
    });
}

fn approval(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let workload = WorkloadRef::deployment("default", "web").unwrap();
    let deployer = Arc::new(MemoryDeployer::new());
    let updates = Arc::new(MemoryUpdateStore::new());
    let history = Arc::new(MemoryHistoryStore::new());
    let service = ApprovalService::new(updates.clone(), deployer.clone(), history);
    let mut n = 0u64;

    c.bench_function("approval/end_to_end", |b| {
        b.iter(|| {
            n += 1;
            let (from, to) = (format!("app:1.0.{n}"), format!("app:1.0.{}", n + 1));
            let container = Container {
                name: "app".into(),
                image: from.clone(),
            };
            deployer.insert(Workload::new(workload.clone(), vec![container]));
            let request = UpdateRequest::pending(
                &format!("u-{n}"),
                &workload,
                "app",
                (&from, &to),
                Policy::Patch,
                Utc::now(),
            );

            runtime.block_on(async {
                let key = updates.create(request).await.unwrap().key();
                service.approve(&key, "bench").await.unwrap()
            })
        });
    });
}

criterion_group!(benches, policy, approval);
criterion_main!(benches);
