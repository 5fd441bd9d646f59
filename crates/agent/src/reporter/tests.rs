use std::sync::atomic::Ordering;

use flotilla_model::task::{HealthStatus, TaskStatus};

use super::*;
use crate::testutil::FakeApi;

fn report(arn: &str, status: TaskStatus) -> TaskReport {
    TaskReport {
        task_arn: arn.into(),
        status,
        containers: vec![],
        health_status: HealthStatus::Unknown,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        attachments: vec![],
    }
}

fn identity() -> Identity {
    Identity::new("default", "arn:instance")
}

#[tokio::test]
async fn reports_of_one_task_coalesce_to_the_latest() {
    let q = ReportQueue::new();
    q.push(report("a", TaskStatus::Pending));
    q.push(report("b", TaskStatus::Pending));
    q.push(report("a", TaskStatus::Running));
    let api = FakeApi::default();
    assert_eq!(
        send_once(&q, &api, &identity()).await,
        SendOutcome::Delivered
    );
    let submits = api.submits.lock().unwrap().clone();
    assert_eq!(submits.len(), 1);
    assert_eq!(submits[0].cluster, "default");
    assert_eq!(submits[0].container_instance_arn, "arn:instance");
    let statuses: Vec<_> = submits[0]
        .reports
        .iter()
        .map(|r| (r.task_arn.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![("a", TaskStatus::Running), ("b", TaskStatus::Pending)]
    );
    assert_eq!(send_once(&q, &api, &identity()).await, SendOutcome::Idle);
}

#[tokio::test]
async fn a_failed_call_requeues_the_batch() {
    let q = ReportQueue::new();
    q.push(report("a", TaskStatus::Stopped));
    let api = FakeApi::default();
    api.fail_submits.store(1, Ordering::SeqCst);
    assert_eq!(
        send_once(&q, &api, &identity()).await,
        SendOutcome::Requeued
    );
    assert_eq!(q.len(), 1);
    assert_eq!(
        send_once(&q, &api, &identity()).await,
        SendOutcome::Delivered
    );
    assert_eq!(api.delivered()[0].status, TaskStatus::Stopped);
}

#[tokio::test]
async fn rejected_reports_are_requeued_unless_superseded() {
    let q = ReportQueue::new();
    q.push(report("a", TaskStatus::Running));
    q.push(report("b", TaskStatus::Running));
    let api = FakeApi::default();
    api.reject.lock().unwrap().insert("a".into());
    assert_eq!(
        send_once(&q, &api, &identity()).await,
        SendOutcome::Requeued
    );
    let left = q.take(10);
    assert_eq!(
        left.iter()
            .map(|(_, r)| r.task_arn.as_str())
            .collect::<Vec<_>>(),
        vec!["a"]
    );

    // A newer report arriving while the old one was in flight wins.
    q.requeue(left.clone());
    let in_flight = q.take(10);
    q.push(report("a", TaskStatus::Stopped));
    q.requeue(in_flight);
    assert_eq!(q.take(10)[0].1.status, TaskStatus::Stopped);
}

#[tokio::test(start_paused = true)]
async fn the_sender_retries_with_backoff_until_delivered() {
    let q = ReportQueue::new();
    let api = Arc::new(FakeApi::default());
    api.fail_submits.store(3, Ordering::SeqCst);
    let (tx, rx) = watch::channel(false);
    let sender = tokio::spawn(run_sender(q.clone(), api.clone(), Arc::new(identity()), rx));
    q.push(report("a", TaskStatus::Stopped));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(q.is_empty());
    assert_eq!(api.delivered().len(), 1);
    tx.send(true).unwrap();
    sender.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn flush_is_bounded() {
    let q = ReportQueue::new();
    q.push(report("a", TaskStatus::Stopped));
    let api = FakeApi::default();
    api.fail_submits.store(usize::MAX, Ordering::SeqCst);
    assert!(!flush(&q, &api, &identity(), Duration::from_secs(2)).await);
    assert_eq!(q.len(), 1, "nothing lost");
    api.fail_submits.store(0, Ordering::SeqCst);
    assert!(flush(&q, &api, &identity(), Duration::from_secs(2)).await);
}
