//! Bad input on the widget socket: clear errors, a usable connection, nothing half-stored.

use hark_bot::server::Limits;
use hark_tests::{AppOptions, spawn_app, spawn_app_with};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn each_kind_of_bad_frame_gets_its_error_and_the_socket_stays_usable() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;

    client
        .send_json(json!({"type": "message", "client_id": "x", "text": "hi"}))
        .await?;
    assert_eq!(client.recv().await?["code"], "hello_required");
    let welcome = client.hello(None, None).await?;
    let conversation_id = welcome["conversation_id"].as_i64().unwrap_or_default();

    let too_big = format!(
        r#"{{"type":"message","client_id":"big","text":"{}"}}"#,
        "a".repeat(17 * 1024)
    );
    let cases: Vec<(Message, &str)> = vec![
        (Message::text(too_big), "frame_too_large"),
        (Message::text("{not json"), "invalid_json"),
        (
            Message::text(r#"{"type":"launch_rockets"}"#),
            "unknown_type",
        ),
        (Message::binary(vec![0xff, 0xfe, 0x00]), "invalid_utf8"),
        (
            Message::text(r#"{"type":"message","client_id":"e1"}"#),
            "bad_request",
        ),
        (
            Message::text(r#"{"type":"message","client_id":"e2","text":"   "}"#),
            "bad_request",
        ),
        (
            Message::text(r#"{"type":"message","client_id":"has space","text":"hi"}"#),
            "bad_request",
        ),
        (Message::text(r#"{"type":"hello"}"#), "bad_request"),
    ];
    for (frame, code) in cases {
        client.send_raw(frame).await?;
        let error = client.recv().await?;
        assert_eq!(error["type"], "error");
        assert_eq!(error["code"], code, "{error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Nothing from the refused frames was stored.
    assert!(
        app.state
            .engine
            .history_after(conversation_id, 0)
            .await?
            .is_empty()
    );

    // The connection still works.
    let exchange = client.ask("ok1", "how long does delivery take?").await?;
    assert_eq!(exchange.reply["author"], "bot");
    Ok(())
}

#[tokio::test]
async fn repeated_abuse_closes_with_policy_violation() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    client.hello(None, None).await?;
    for _ in 0..10 {
        client.send_raw(Message::text("garbage")).await?;
    }
    let close = loop {
        match client.recv_frame().await? {
            Message::Close(frame) => break frame,
            _ => continue,
        }
    };
    let close = close.ok_or_else(|| anyhow::anyhow!("close without a frame"))?;
    assert_eq!(u16::from(close.code), 1008);
    assert_eq!(close.reason.as_str(), "too many protocol errors");
    Ok(())
}

#[tokio::test]
async fn frames_beyond_the_hard_limit_close_the_socket_with_1009() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let mut client = app.widget().await?;
    client.hello(None, None).await?;
    client
        .send_raw(Message::text("a".repeat(70 * 1024)))
        .await?;
    let frame = client.recv_frame().await;
    let closed = match frame {
        Ok(Message::Close(Some(f))) => u16::from(f.code) == 1009,
        Ok(Message::Close(None)) | Err(_) => true,
        Ok(_) => false,
    };
    assert!(closed);
    Ok(())
}

#[tokio::test]
async fn messages_per_second_are_limited_and_refused_messages_are_not_stored() -> anyhow::Result<()>
{
    let limits = Limits {
        ws_messages_per_second: 2,
        ..Limits::default()
    };
    let app = spawn_app_with(AppOptions {
        limits,
        ..AppOptions::default()
    })
    .await?
    .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let mut client = app.widget().await?;
    let welcome = client.hello(None, None).await?;
    for i in 0..8 {
        client
            .send_json(
                json!({"type": "message", "client_id": format!("r{i}"), "text": "hello there"}),
            )
            .await?;
    }
    let mut acked = 0;
    let mut limited = Vec::new();
    while acked + limited.len() < 8 {
        let frame = client.recv().await?;
        match frame["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited");
                limited.push(frame["client_id"].clone());
            }
            _ => {}
        }
    }
    assert_eq!(acked, 4, "burst of twice the rate");
    assert_eq!(limited.len(), 4);
    let stored = app
        .state
        .engine
        .history_after(welcome["conversation_id"].as_i64().unwrap_or_default(), 0)
        .await?;
    let customer = stored
        .iter()
        .filter(|m| m.author == hark_bot::store::Author::Customer)
        .count();
    assert_eq!(customer, 4);
    Ok(())
}

#[tokio::test]
async fn connections_per_ip_are_limited() -> anyhow::Result<()> {
    let limits = Limits {
        ws_connections_per_ip: 2,
        ..Limits::default()
    };
    let app = spawn_app_with(AppOptions {
        limits,
        ..AppOptions::default()
    })
    .await?
    .ok_or_else(|| anyhow::anyhow!("sqlite"))?;
    let one = app.widget().await?;
    let _two = app.widget().await?;
    let third = app.widget().await;
    let refused = format!("{:?}", third.err());
    assert!(refused.contains("429"), "{refused}");
    // Closing one frees a place.
    one.close().await?;
    let mut ok = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok(client) = app.widget().await {
            ok = Some(client);
            break;
        }
    }
    assert!(ok.is_some());
    Ok(())
}

#[tokio::test]
async fn health_and_readiness() -> anyhow::Result<()> {
    let app = spawn_app().await?;
    let health = http_get(&app.http_url("/healthz")).await?;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = http_get(&app.http_url("/readyz")).await?;
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let widget = http_get(&app.http_url("/widget.js")).await?;
    assert!(widget.contains("text/javascript"));
    let page = http_get(&app.http_url("/")).await?;
    assert!(page.contains("/widget.js"));
    Ok(())
}

/// A minimal HTTP/1.1 GET over a raw socket: enough for status lines and bodies in tests.
pub async fn http_get(url: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("http only"))?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}
