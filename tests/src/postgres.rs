//! A PostgreSQL database for one end-to-end test, created on the server at `AITBC_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`) and dropped afterwards; a server that cannot be reached fails the test.

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

/// A fresh database; dropped when this is.
pub struct Database {
    /// The URL to hand to `--coordinator-db`.
    pub url: String,
    server: String,
    name: String,
}

fn server() -> String {
    std::env::var("AITBC_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

impl Database {
    pub async fn create() -> anyhow::Result<Database> {
        let server = server();
        let name = format!("aitbc_e2e_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut conn = PgConnection::connect(&format!("{server}/postgres"))
            .await
            .with_context(|| {
                format!("PostgreSQL at {server} is needed (set AITBC_TEST_POSTGRES)")
            })?;
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await?;
        Ok(Database {
            url: format!("{server}/{name}"),
            server,
            name,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // A runtime of its own: this may run while the test's runtime is ending.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&format!("{server}/postgres")).await {
                    let _ = conn
                        .execute(
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                        )
                        .await;
                }
            });
        })
        .join();
    }
}
