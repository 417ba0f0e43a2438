//! A client for the agents' console API and socket, as the browser uses them: session cookie,
//! CSRF header, same-origin socket.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::TestApp;

pub struct ConsoleClient {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

impl ConsoleClient {
    pub fn new(app: &TestApp) -> Self {
        ConsoleClient {
            base: format!("http://{}", app.addr),
            http: reqwest::Client::new(),
            cookie: None,
            csrf: None,
        }
    }

    /// Logs in; returns the status and body. On success keeps the cookie and CSRF token.
    pub async fn login(
        &mut self,
        email: &str,
        password: &str,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(format!("{}/api/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let status = response.status();
        if let Some(set) = response.headers().get("set-cookie") {
            let set = set.to_str()?.to_owned();
            self.cookie = set.split(';').next().map(str::to_owned);
            anyhow::ensure!(set.contains("HttpOnly"), "cookie not HttpOnly: {set}");
            anyhow::ensure!(
                set.contains("SameSite=Strict"),
                "cookie not SameSite: {set}"
            );
        }
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            self.csrf = body["csrf_token"].as_str().map(str::to_owned);
        }
        Ok((status, body))
    }

    fn with_session(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .with_session(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// POSTs JSON with the session's CSRF token.
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .with_session(self.http.post(format!("{}{path}", self.base)))
            .json(&body);
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Opens the live socket with the session cookie and this server as the origin.
    pub async fn socket(&self) -> anyhow::Result<ConsoleSocket> {
        self.socket_from(&self.base).await
    }

    /// Opens the live socket claiming to come from `origin`.
    pub async fn socket_from(&self, origin: &str) -> anyhow::Result<ConsoleSocket> {
        let url = format!("{}/ws/console", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request()?;
        request.headers_mut().insert("origin", origin.parse()?);
        if let Some(cookie) = &self.cookie {
            request.headers_mut().insert("cookie", cookie.parse()?);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(ConsoleSocket { socket })
    }
}

pub struct ConsoleSocket {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl ConsoleSocket {
    pub async fn send(&mut self, value: Value) -> anyhow::Result<()> {
        self.socket.send(Message::text(value.to_string())).await?;
        Ok(())
    }

    pub async fn recv(&mut self) -> anyhow::Result<Value> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .context("no console frame within 10 s")?;
            match frame {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
                Some(Ok(Message::Close(close))) => bail!("socket closed: {close:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("socket ended"),
            }
        }
    }

    /// Follows a conversation and waits until the server confirms: every message stored from
    /// then on reaches this socket.
    pub async fn follow(&mut self, conversation_id: i64) -> anyhow::Result<()> {
        self.send(serde_json::json!({"type": "follow", "conversation_id": conversation_id}))
            .await?;
        self.recv_until(|f| f["type"] == "following" && f["conversation_id"] == conversation_id)
            .await?;
        Ok(())
    }

    /// Frames until one matches `pred`; returns it.
    pub async fn recv_until(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        loop {
            let frame = self.recv().await?;
            if pred(&frame) {
                return Ok(frame);
            }
        }
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        self.socket.close(None).await?;
        Ok(())
    }
}
