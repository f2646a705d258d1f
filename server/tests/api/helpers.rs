//! Spawns the real server on port 0 against a fresh database: an SQLite file by default, or a new
//! PostgreSQL database when `TEST_DATABASE=postgres` (with `TEST_POSTGRES_URL` naming the cluster).
use std::sync::Once;

use clap::Parser;
use reqwest::header::HeaderMap;
use reqwest::{Client, Response, StatusCode, redirect};
use serde_json::Value;
use server::billing::period_rating::BillingRules;
use server::config::Settings;
use server::demo::seed_demo;
use server::portal::documents::Documents;
use server::startup::Application;
use server::store::Db;
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
    /// Shares the server's clock: setting it moves the running server through time.
    pub db: Db,
    pub rules: BillingRules,
    pub database_url: String,
    /// The server's documents, for an outbox a test drives itself.
    pub documents: std::sync::Arc<Documents>,
    pub client: Client,
    _stop: oneshot::Sender<()>,
}

pub struct Login {
    pub email: &'static str,
    pub password: &'static str,
}

pub const ACME_OWNER: Login = Login { email: "owner@acme.test", password: "acme-owner-pass" };
pub const ACME_MEMBER: Login = Login { email: "member@acme.test", password: "acme-member-pass" };
pub const GLOBEX_OWNER: Login = Login { email: "owner@globex.test", password: "globex-owner-pass" };
pub const STAFF: Login = Login { email: "admin@portal.test", password: "portal-admin-pass" };

static LOG_BACKEND: Once = Once::new();

pub async fn fresh_database_url() -> String {
    let unique = format!("t{}", server::shared::ids::new_id(server::shared::ids::IdKind::User, 0).replace("usr_", ""));
    match std::env::var("TEST_DATABASE").as_deref() {
        Ok("postgres") => {
            let cluster = std::env::var("TEST_POSTGRES_URL").expect("TEST_POSTGRES_URL names the test cluster");
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
    spawn_app_at(None, extra).await
}

/// With `start`, the server's clock stands still at that instant (unix ms) until the test moves
/// it, and the demo data is created then.
pub async fn spawn_app_at(start: Option<i64>, extra: &[&str]) -> TestApp {
    let url = fresh_database_url().await;
    let app = spawn_instance(&url, start, extra).await;
    seed_demo(&app.db, None).await.expect("seed demo data");
    app
}

/// One more server on an existing database (a second instance behind the same load balancer).
pub async fn spawn_instance(url: &str, start: Option<i64>, extra: &[&str]) -> TestApp {
    let mut args = vec![
        "server",
        "--database-url",
        url,
        "--listen-addr",
        "127.0.0.1:0",
        "--public-base-url",
        ORIGIN,
        "--log-level",
        "warn",
    ];
    // Tests drive payments themselves unless they ask for the background job.
    if !extra.contains(&"--payments-interval-seconds") {
        args.extend_from_slice(&["--payments-interval-seconds", "3600"]);
    }
    args.extend_from_slice(extra);
    let settings = TestCli::parse_from(args).settings;
    let app = Application::build(&settings).await.expect("build the application");
    let address = format!("http://127.0.0.1:{}", app.port());
    let mut db = Db::connect(url).await.expect("connect to the test database");
    db.clock = app.clock();
    if let Some(start) = start {
        db.clock.set(start);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let rules = settings.billing_rules();
    let documents = std::sync::Arc::new(Documents {
        db: db.clone(),
        seller: settings.seller(),
        public_base_url: settings.public_base_url.clone(),
    });
    TestApp { address, db, rules, database_url: url.to_owned(), documents, client: new_client(), _stop: stop }
}

/// A response that never ends (a hung render) fails its test after a minute instead of holding CI.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
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

    pub async fn call_with(&self, client: &Client, function: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(&format!("/api/{function}")))
            .header("origin", ORIGIN)
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn login(&self, login: &Login) -> Response {
        self.call("login", &[("email", login.email), ("password", login.password)]).await
    }

    /// A fresh client logged in as `login`.
    pub async fn client_for(&self, login: &Login) -> Client {
        let client = new_client();
        let response = self.call_with(&client, "login", &[("email", login.email), ("password", login.password)]).await;
        assert_eq!(response.status(), StatusCode::OK, "login as {}", login.email);
        client
    }

    pub async fn get_page(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).header("accept", "text/html").send().await.expect("request")
    }

    /// The body of a GET of `path` as `client`.
    pub async fn text_at(&self, client: &Client, path: &str) -> String {
        client.get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    pub async fn organization_id(&self, name: &str) -> String {
        sqlx::query_scalar("select id from organizations where name = $1")
            .bind(name)
            .fetch_one(&self.db.pool)
            .await
            .expect("organization")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.db.pool).await.expect("count")
    }

    pub fn api(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        new_client().request(method, self.url(path)).bearer_auth(key)
    }
}

pub async fn json(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

pub fn set_cookie(headers: &HeaderMap) -> String {
    headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join("\n")
}

impl TestApp {
    /// A fresh API key of the organization, made by its owner through the portal.
    pub async fn api_key(&self, owner: &Login, organization: &str) -> String {
        let client = self.client_for(owner).await;
        let organization_id = self.organization_id(organization).await;
        let created = self
            .call_with(&client, "create_api_key", &[("organization_id", &organization_id), ("name", "test key")])
            .await;
        json(created).await["secret"].as_str().expect("secret").to_owned()
    }

    pub async fn send_events(&self, key: &str, events: &Value) -> Response {
        self.api(reqwest::Method::POST, "/v1/usage/events", key).json(events).send().await.expect("request")
    }

    /// Waits until the rollup worker has recomputed (or set aside) every marked hour.
    pub async fn wait_for_rollups(&self) {
        for _ in 0..200 {
            if self.count("select count(*) from usage_dirty_hours").await == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("rollups did not catch up within 5 s");
    }

    /// Waits until `sql` counts `want` (work a background job finishes), for up to 10 s.
    pub async fn wait_for_count(&self, sql: &str, want: i64) {
        for _ in 0..100 {
            if self.count(sql).await == want {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(self.count(sql).await, want, "{sql}");
    }

    /// (namespace name, hour, total) of every stored rollup of `metric`.
    pub async fn rollups(&self, metric: &str) -> Vec<(String, i64, i64)> {
        sqlx::query_as(
            "select n.name, h.hour, h.total from usage_hourly h join namespaces n on n.id = h.namespace_id
             where h.metric = $1 order by n.name, h.hour",
        )
        .bind(metric)
        .fetch_all(&self.db.pool)
        .await
        .expect("rollups")
    }
}

/// An RFC 3339 time `minutes_ago` before now, on a whole minute.
pub fn minutes_ago(minutes: i64) -> String {
    let now = time::OffsetDateTime::now_utc().replace_second(0).unwrap().replace_nanosecond(0).unwrap();
    (now - time::Duration::minutes(minutes)).format(&time::format_description::well_known::Rfc3339).unwrap()
}

/// A relay that accepts every message and keeps its text.
pub async fn fake_smtp() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake relay\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer: &[u8] = match line.split(' ').next().unwrap_or_default() {
                        "EHLO" => b"250-fake relay\r\n250 8BITMIME\r\n",
                        // One mailbox that does not exist, one that is full for now.
                        "RCPT" if line.contains("refused@") => b"550 5.1.1 no such user\r\n",
                        "RCPT" if line.contains("later@") => b"451 4.2.2 mailbox full, try later\r\n",
                        "DATA" => {
                            write.write_all(b"354 go on\r\n").await.unwrap();
                            let mut text = String::new();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                text.push_str(&line);
                                text.push('\n');
                            }
                            kept.lock().unwrap().push(text);
                            b"250 queued\r\n"
                        }
                        "QUIT" => break,
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(answer).await.unwrap();
                }
            });
        }
    });
    (address, received)
}
