use super::*;

const INSTANCE: &str = "arn:aws:ecs:us-east-1:000000000000:container-instance/default/i";

fn command() -> Command {
    Command {
        instance_arn: INSTANCE.into(),
        task_arn: "arn:task".into(),
        container_name: "web".into(),
        runtime_id: "abc".into(),
        command: "sh".into(),
    }
}

/// A poll of [`INSTANCE`]'s agent, once the hub holds it.
async fn held_poll(hub: &ExecHub) -> tokio::task::JoinHandle<Vec<ExecRequest>> {
    let poll = tokio::spawn({
        let hub = hub.clone();
        async move { hub.poll(INSTANCE, Duration::from_secs(20)).await }
    });
    while hub
        .lock()
        .agents
        .get(INSTANCE)
        .is_none_or(|s| s.waiting == 0)
    {
        tokio::task::yield_now().await;
    }
    poll
}

/// A hub whose agent for [`INSTANCE`] is waiting in a poll, and that poll.
async fn with_agent() -> (ExecHub, tokio::task::JoinHandle<Vec<ExecRequest>>) {
    let hub = ExecHub::default();
    let poll = held_poll(&hub).await;
    (hub, poll)
}

#[tokio::test]
async fn a_session_needs_the_agent_waiting_here() {
    let hub = ExecHub::default();
    assert_eq!(hub.open(command()).unwrap_err(), OpenError::NotConnected);
}

#[tokio::test]
async fn the_waiting_agent_is_told_and_the_ends_are_joined() {
    let (hub, poll) = with_agent().await;
    let opened = hub.open(command()).unwrap();
    let told = poll.await.unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].session_id, opened.session_id);
    assert_eq!(told[0].runtime_id, "abc");
    assert_ne!(told[0].token, opened.token);

    // Each end proves itself with its own token, once.
    assert_eq!(
        hub.attach(&opened.session_id, End::Agent, &opened.token)
            .err(),
        Some(AttachError::Forbidden)
    );
    let mut client = hub
        .attach(&opened.session_id, End::Client, &opened.token)
        .unwrap();
    assert_eq!(
        hub.attach(&opened.session_id, End::Client, &opened.token)
            .err(),
        Some(AttachError::Taken)
    );
    let mut agent = hub
        .attach(&opened.session_id, End::Agent, &told[0].token)
        .unwrap();
    assert_eq!(hub.pending(), 0, "a joined session is no longer kept");

    client
        .inbound
        .send(Bytes::from_static(b"to agent"))
        .await
        .unwrap();
    assert_eq!(agent.outbound.recv().await.unwrap(), "to agent");
    agent
        .inbound
        .send(Bytes::from_static(b"to client"))
        .await
        .unwrap();
    assert_eq!(client.outbound.recv().await.unwrap(), "to client");
    // One end going away ends the other's stream.
    drop(agent.inbound);
    assert_eq!(client.outbound.recv().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_client_left_alone_is_told_why_when_the_session_expires() {
    let (hub, poll) = with_agent().await;
    let opened = hub.open(command()).unwrap();
    poll.await.unwrap();
    let mut client = hub
        .attach(&opened.session_id, End::Client, &opened.token)
        .unwrap();
    tokio::time::sleep(ATTACH_WITHIN + Duration::from_secs(1)).await;
    let bytes = client.outbound.recv().await.unwrap();
    let mut decoder = flotilla_model::exec::Decoder::new();
    decoder.push(&bytes);
    let frame = decoder.next_frame().unwrap().unwrap();
    assert!(matches!(frame, Frame::Error(m) if m.contains("did not attach")));
    assert_eq!(client.outbound.recv().await, None);
    assert_eq!(
        hub.attach(&opened.session_id, End::Agent, "x").err(),
        Some(AttachError::Unknown)
    );
}

#[tokio::test(start_paused = true)]
async fn an_agent_that_stopped_polling_is_not_connected() {
    let (hub, poll) = with_agent().await;
    // The poll ends empty; the agent does not come back.
    hub.lock().agents.get(INSTANCE).unwrap().notify.notify_one();
    assert!(poll.await.unwrap().is_empty());
    hub.lock().agents.get_mut(INSTANCE).unwrap().seen = Instant::now() - SEEN_WITHIN;
    assert_eq!(hub.open(command()).unwrap_err(), OpenError::NotConnected);
}

#[tokio::test]
async fn pending_sessions_are_bounded() {
    let (hub, _poll) = with_agent().await;
    for _ in 0..MAX_PENDING {
        hub.open(command()).unwrap();
    }
    assert_eq!(hub.open(command()).unwrap_err(), OpenError::TooMany);
}

#[tokio::test]
async fn closing_answers_held_polls_and_opens_nothing() {
    let (hub, poll) = with_agent().await;
    let opened = hub.open(command()).unwrap();
    poll.await.unwrap();
    let held = held_poll(&hub).await;
    let closed = tokio::spawn({
        let hub = hub.clone();
        async move { hub.closed().await }
    });
    hub.close();
    assert!(held.await.unwrap().is_empty());
    closed.await.unwrap();
    assert_eq!(hub.open(command()).unwrap_err(), OpenError::Closed);
    assert!(hub.poll(INSTANCE, Duration::from_secs(20)).await.is_empty());
    drop(opened);
}
