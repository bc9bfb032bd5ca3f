//! Setup calls through the public API (reqwest): administrations, users, MRA records, peers,
//! imports, status changes.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::serve::{PLATFORM_EMAIL, PLATFORM_PASSWORD};

pub const PASSWORD: &str = "bench-password-2026";

#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: String) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(900))
            .build()?;
        Ok(Api { base, http })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("request to {path}"))?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    /// Signs in on the `/login` page, as a browser does: the session cookie (`aeo_session=...`).
    pub async fn session(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .context("sign-in")?;
        let cookie = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("aeo_session="))
            .and_then(|value| value.split(';').next())
            .with_context(|| format!("no session for {email}: {}", response.status()))?;
        Ok(cookie.to_owned())
    }

    /// A call that must answer one of `ok`.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        ok: &[u16],
    ) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, token, body).await?;
        if !ok.contains(&status) {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let reply = self
            .expect(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
                &[200],
            )
            .await?;
        reply["access_token"].as_str().map(str::to_owned).context("no access_token")
    }

    pub async fn platform_token(&self) -> anyhow::Result<String> {
        self.login(PLATFORM_EMAIL, PLATFORM_PASSWORD).await
    }

    /// Creates the administration and its customs administrator; returns the latter's token.
    pub async fn administration(&self, platform: &str, code: &str) -> anyhow::Result<String> {
        self.expect(
            Method::POST,
            "/api/v1/administrations",
            Some(platform),
            Some(json!({"code": code, "name": format!("Aduana {code}"), "country": &code[..2], "programme": "OEA"})),
            &[201],
        )
        .await?;
        let email = format!("admin@{}.bench.aeo", code.to_lowercase());
        self.user(platform, code, &email, "customs_admin").await?;
        self.login(&email, PASSWORD).await
    }

    pub async fn user(&self, token: &str, code: &str, email: &str, role: &str) -> anyhow::Result<()> {
        self.expect(
            Method::POST,
            &format!("/api/v1/administrations/{code}/users"),
            Some(token),
            Some(json!({"email": email, "password": PASSWORD, "role": role})),
            &[201],
        )
        .await
        .map(|_| ())
    }

    /// A border officer of `code`; returns the officer's token.
    pub async fn border_officer(&self, platform: &str, code: &str) -> anyhow::Result<String> {
        let email = format!("border@{}.bench.aeo", code.to_lowercase());
        self.user(platform, code, &email, "border_officer").await?;
        self.login(&email, PASSWORD).await
    }

    /// The MRA record of `code` with `partner`: in force, security and full, every role.
    pub async fn mra(&self, token: &str, code: &str, partner: &str) -> anyhow::Result<()> {
        let mra = json!({"title": "Benchmark arrangement", "status": "in_force", "signed_on": "2018-07-21",
                         "in_force_from": "2019-07-01", "categories": ["security", "full"], "roles": []});
        self.expect(
            Method::PUT,
            &format!("/api/v1/administrations/{code}/mras/{partner}"),
            Some(token),
            Some(mra),
            &[200, 201],
        )
        .await
        .map(|_| ())
    }

    pub async fn peer(&self, token: &str, code: &str, partner: &str, body: Value) -> anyhow::Result<Value> {
        self.expect(
            Method::PUT,
            &format!("/api/v1/administrations/{code}/peers/{partner}"),
            Some(token),
            Some(body),
            &[200, 201],
        )
        .await
    }

    /// Imports a CSV body; returns how many were created and how long the request took.
    pub async fn import_csv(&self, token: &str, code: &str, body: Vec<u8>) -> anyhow::Result<(u64, Duration)> {
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/api/v1/administrations/{code}/certificates/import", self.base))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        let took = started.elapsed();
        if status != 200 {
            bail!("import answered {status}: {}", &text[..text.len().min(1000)]);
        }
        let report: Value = serde_json::from_str(&text)?;
        let created = report["created"].as_u64().context("import report without created")?;
        Ok((created, took))
    }

    pub async fn set_status(&self, token: &str, code: &str, number: &str, status: &str) -> anyhow::Result<()> {
        let body = if status == "active" {
            json!({"status": status})
        } else {
            json!({"status": status, "reason": "Benchmark"})
        };
        self.expect(
            Method::POST,
            &format!("/api/v1/administrations/{code}/certificates/{number}/status"),
            Some(token),
            Some(body),
            &[200],
        )
        .await
        .map(|_| ())
    }

    pub async fn recognition(&self, token: &str, at: &str, issuer: &str, number: &str) -> anyhow::Result<Value> {
        self.expect(
            Method::GET,
            &format!("/api/v1/administrations/{at}/recognition?issuer={issuer}&certificate={number}"),
            Some(token),
            None,
            &[200],
        )
        .await
    }
}
