//! The user pools the gateway serves: each opened on its first request (its signing key and
//! secret come from the store, sealed by the KMS) and kept across reloads while its config
//! stays the same. Codes go to the log, a webhook, or an SMTP server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use identity::pool::{CodeMessage, CodeSender, LogSender, PoolError, UserPool};
use model::{DeliveryKind, UserPoolConfig};
use parking_lot::Mutex;

/// A pool, opened on first use.
#[derive(Debug)]
pub(crate) struct PoolSlot {
    config: Arc<UserPoolConfig>,
    pool: tokio::sync::OnceCell<Arc<UserPool>>,
    /// Redis and its key prefix, where the pool counts failed sign-ins with every node.
    shared: Option<Shared>,
}

type Shared = (Arc<limits::RedisLink>, String);

/// Every pool in use, shared by the process's runtimes.
#[derive(Debug, Default)]
pub struct UserPools {
    by_name: Mutex<HashMap<String, Arc<PoolSlot>>>,
    shared: Option<Shared>,
}

impl UserPools {
    /// Pools that count failed sign-ins per address and per unknown name on Redis, under
    /// `key_prefix`, with every node.
    pub fn counting_on(link: Arc<limits::RedisLink>, key_prefix: String) -> Self {
        Self { by_name: Mutex::default(), shared: Some((link, key_prefix)) }
    }

    /// The slots of `compiled`'s pools, in its order: the slot in hand when the pool's config
    /// is unchanged, a new one otherwise. Pools no longer configured are forgotten.
    pub(crate) fn for_config(&self, compiled: &model::Compiled) -> Vec<Arc<PoolSlot>> {
        let mut by_name = self.by_name.lock();
        let slots: Vec<Arc<PoolSlot>> = compiled
            .user_pools
            .iter()
            .map(|cfg| match by_name.get(&cfg.name) {
                Some(slot) if *slot.config == **cfg => slot.clone(),
                _ => Arc::new(PoolSlot {
                    config: cfg.clone(),
                    pool: tokio::sync::OnceCell::new(),
                    shared: self.shared.clone(),
                }),
            })
            .collect();
        *by_name = slots.iter().map(|s| (s.config.name.clone(), s.clone())).collect();
        slots
    }
}

impl PoolSlot {
    /// The pool, if a request opened it already.
    pub(crate) fn opened(&self) -> Option<&Arc<UserPool>> {
        self.pool.get()
    }

    /// The pool, opened now if this is its first request.
    pub(crate) async fn get(&self, dir: &Arc<directory::Directory>, now_ms: i64) -> Result<Arc<UserPool>, PoolError> {
        self.pool
            .get_or_try_init(|| async {
                let sender = sender(&self.config)?;
                let pool = UserPool::open(self.config.clone(), dir.clone(), sender, now_ms).await?;
                Ok(Arc::new(match &self.shared {
                    Some((link, prefix)) => pool.counting_on(link.clone(), prefix),
                    None => pool,
                }))
            })
            .await
            .cloned()
    }
}

/// How often opened pools read their signing keys again (a rotation elsewhere, an overlap
/// that ended).
const KEYS_TICK: Duration = Duration::from_secs(15);

/// Keeps the opened pools' signing keys current until `stopped` turns true.
pub async fn run(gw: Arc<crate::Gateway>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(KEYS_TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let rt = gw.runtime();
        let now_ms = i64::try_from(crate::time_fmt::epoch_ms(std::time::SystemTime::now())).unwrap_or(i64::MAX);
        for pool in rt.pool_slots.iter().filter_map(|s| s.opened()) {
            match pool.reload_keys(now_ms).await {
                Ok(true) => {
                    tracing::info!(pool = %pool.config().name, kid = %pool.signer().kid(), "user pool: signing keys changed")
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(pool = %pool.config().name, error = %e, "user pool: signing keys not read"),
            }
        }
    }
}

fn sender(cfg: &UserPoolConfig) -> Result<Arc<dyn CodeSender>, PoolError> {
    let d = &cfg.code_delivery;
    if let (DeliveryKind::Smtp, Some(smtp)) = (d.kind, &d.smtp) {
        return Ok(Arc::new(Smtp::new(smtp, d.ca_file.as_deref())?));
    }
    match (d.kind, d.url.as_deref()) {
        (DeliveryKind::Webhook, Some(url)) => {
            let client = identity::http_client::client(Duration::from_secs(5), d.ca_file.as_deref())
                .map_err(PoolError::Internal)?;
            Ok(Arc::new(Webhook { client, url: url.to_owned() }))
        }
        _ => Ok(Arc::new(LogSender)),
    }
}

/// Codes POSTed as JSON to a URL: `{"pool", "username", "email", "purpose", "code"}`.
#[derive(Debug)]
struct Webhook {
    client: reqwest::Client,
    url: String,
}

impl CodeSender for Webhook {
    fn send(&self, m: CodeMessage) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let body = serde_json::json!({"pool": m.pool, "username": m.username, "email": m.email,
                                          "purpose": m.purpose, "code": m.code});
            let resp = self
                .client
                .post(&self.url)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("{}: {}", self.url, crate::http_fetch::error_chain(&e)))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("{}: status {}", self.url, resp.status()))
            }
        })
    }
}

/// Codes e-mailed through an SMTP server.
#[derive(Debug)]
struct Smtp {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl Smtp {
    fn new(cfg: &model::SmtpConfig, ca_file: Option<&std::path::Path>) -> Result<Self, PoolError> {
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        use lettre::AsyncSmtpTransport;
        let bad = |e: &dyn std::fmt::Display| PoolError::Internal(format!("smtp {}: {e}", cfg.host));
        let tls = || {
            let mut params = TlsParameters::builder(cfg.host.clone());
            if let Some(path) = ca_file {
                let pem = std::fs::read(path).map_err(|e| bad(&format!("{}: {e}", path.display())))?;
                params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad(&e))?);
            }
            params.build_rustls().map_err(|e| bad(&e))
        };
        let builder = AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(cfg.host.clone());
        let builder = match cfg.security {
            model::SmtpSecurity::Starttls => builder.tls(Tls::Required(tls()?)),
            model::SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
            model::SmtpSecurity::None => builder,
        };
        let mut builder = builder.port(cfg.port).timeout(Some(Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&cfg.username, &cfg.password) {
            builder = builder
                .credentials(lettre::transport::smtp::authentication::Credentials::new(user.clone(), password.clone()));
        }
        let from = cfg.from.parse().map_err(|e| bad(&e))?;
        Ok(Self { transport: builder.build(), from })
    }
}

impl CodeSender for Smtp {
    fn send(&self, m: CodeMessage) -> futures_util::future::BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            use lettre::AsyncTransport as _;
            let to: lettre::message::Mailbox = m.email.parse().map_err(|e| format!("recipient {:?}: {e}", m.email))?;
            let (subject, what) = match m.purpose {
                "reset" => ("Your password reset code", "reset your password"),
                _ => ("Your verification code", "confirm your account"),
            };
            let body = format!(
                "Hello {},\r\n\r\nYour code to {what} is {}.\r\n\r\nIf you did not ask for it, ignore this message.\r\n",
                m.username, m.code
            );
            let email = lettre::Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .body(body)
                .map_err(|e| e.to_string())?;
            self.transport.send(email).await.map(|_| ()).map_err(|e| format!("smtp: {e}"))
        })
    }
}
