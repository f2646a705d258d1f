//! Spawns the real server on port 0 against a fresh database: an SQLite file by default, or a new
//! PostgreSQL database when `TEST_DATABASE=postgres` (with `TEST_POSTGRES_URL` naming the cluster).
use std::sync::Once;

use clap::Parser;
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::Value;
use server::config::Settings;
use server::db::Db;
use server::services::demo::seed_demo;
use server::startup::Application;
use sqlx::Connection;
use tokio::sync::oneshot;

pub const ORIGIN: &str = "http://portal.test";

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    settings: Settings,
}

pub struct TestApp {
    pub address: String,
    pub db: Db,
    pub client: Client,
    _stop: oneshot::Sender<()>,
}

pub struct Login {
    pub email: &'static str,
    pub password: &'static str,
}

pub const ACME_OWNER: Login = Login {
    email: "owner@acme.test",
    password: "acme-owner-pass",
};
pub const ACME_MEMBER: Login = Login {
    email: "member@acme.test",
    password: "acme-member-pass",
};
pub const GLOBEX_OWNER: Login = Login {
    email: "owner@globex.test",
    password: "globex-owner-pass",
};
pub const STAFF: Login = Login {
    email: "admin@portal.test",
    password: "portal-admin-pass",
};

static LOG_BACKEND: Once = Once::new();

async fn fresh_database_url() -> String {
    let unique = format!(
        "t{}",
        server::domain::ids::new_id(server::domain::ids::IdKind::User, 0).replace("usr_", "")
    );
    match std::env::var("TEST_DATABASE").as_deref() {
        Ok("postgres") => {
            let cluster = std::env::var("TEST_POSTGRES_URL")
                .expect("TEST_POSTGRES_URL names the test cluster");
            LOG_BACKEND.call_once(|| eprintln!("api tests run on PostgreSQL at {cluster}"));
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&format!("{cluster}/postgres"))
                .await
                .expect("connect to the test cluster");
            sqlx::query(&format!("create database {unique}"))
                .execute(&mut admin)
                .await
                .expect("create a test database");
            format!("{cluster}/{unique}")
        }
        _ => {
            LOG_BACKEND.call_once(|| eprintln!("api tests run on SQLite"));
            let dir = std::env::temp_dir().join("portal-api-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite:{}", dir.join(format!("{unique}.db")).display())
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// `extra` are more command-line settings, e.g. `["--login-max-failures", "3"]`.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let url = fresh_database_url().await;
    let mut args = vec![
        "server",
        "--database-url",
        &url,
        "--listen-addr",
        "127.0.0.1:0",
        "--public-base-url",
        ORIGIN,
        "--log-level",
        "warn",
    ];
    args.extend_from_slice(extra);
    let settings = TestCli::parse_from(args).settings;
    let app = Application::build(&settings)
        .await
        .expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = Db::connect(&url)
        .await
        .expect("connect to the test database");
    seed_demo(&db).await.expect("seed demo data");
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        db,
        client: new_client(),
        _stop: stop,
    }
}

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .expect("http client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Calls a server function the way the browser bundle does: a same-origin form POST.
    pub async fn call(&self, function: &str, form: &[(&str, &str)]) -> Response {
        self.call_with(&self.client, function, form).await
    }

    pub async fn call_with(
        &self,
        client: &Client,
        function: &str,
        form: &[(&str, &str)],
    ) -> Response {
        client
            .post(self.url(&format!("/api/{function}")))
            .header("origin", ORIGIN)
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn login(&self, login: &Login) -> Response {
        self.call(
            "login",
            &[("email", login.email), ("password", login.password)],
        )
        .await
    }

    /// A fresh client logged in as `login`.
    pub async fn client_for(&self, login: &Login) -> Client {
        let client = new_client();
        let response = self
            .call_with(
                &client,
                "login",
                &[("email", login.email), ("password", login.password)],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login as {}",
            login.email
        );
        client
    }

    pub async fn get_page(&self, client: &Client, path: &str) -> Response {
        client
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("request")
    }

    pub async fn organization_id(&self, name: &str) -> String {
        sqlx::query_scalar("select id from organizations where name = $1")
            .bind(name)
            .fetch_one(&self.db.pool)
            .await
            .expect("organization")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }

    pub fn api(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        new_client()
            .request(method, self.url(path))
            .bearer_auth(key)
    }
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

pub fn set_cookie(headers: &HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("\n")
}
