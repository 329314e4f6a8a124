//! Who may do what: API tokens (only their SHA-256 is stored) with a viewer or admin
//! role, browser sessions opened with a token, and CSRF tokens for the pages' forms.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::db::{now_ms, Db, DbError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// How long a browser session lasts.
pub const SESSION_DAYS: i64 = 30;
pub const SESSION_COOKIE: &str = "slipway_session";
/// How stale a token's `last_used_ms` may get before a check rewrites it.
const LAST_USED_PRECISION_MS: i64 = 60_000;

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, serde::Serialize)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub last_used_ms: Option<i64>,
}

impl Db {
    /// A new token; the secret is returned once and never stored.
    pub fn create_token(&self, name: &str, role: Role) -> Result<String, DbError> {
        let token = random_token("slw_");
        self.conn().execute(
            "INSERT INTO tokens (name, role, hash, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![name, role.as_str(), hash(&token), now_ms()],
        )?;
        Ok(token)
    }

    pub fn revoke_token(&self, name: &str) -> Result<bool, DbError> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE name = ?1", [name])? == 1)
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, DbError> {
        let conn = self.conn();
        let mut s = conn.prepare("SELECT name, role, created_at_ms, last_used_ms FROM tokens ORDER BY name")?;
        let rows = s
            .query_map([], |r| {
                Ok(TokenInfo {
                    name: r.get(0)?,
                    role: Role::parse(&r.get::<_, String>(1)?).unwrap_or(Role::Viewer),
                    created_at_ms: r.get(2)?,
                    last_used_ms: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The role and id of a presented token.
    pub fn check_token(&self, token: &str) -> Result<Option<(i64, Role)>, DbError> {
        let conn = self.conn();
        let found: Option<(i64, String)> = conn
            .query_row("SELECT id, role FROM tokens WHERE hash = ?1", [hash(token)], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((id, role)) = found else { return Ok(None) };
        // Once a minute is precise enough for "last used", and spares every
        // authenticated read a write to the database.
        let now = now_ms();
        conn.execute(
            "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1 AND (last_used_ms IS NULL OR last_used_ms < ?3)",
            params![id, now, now - LAST_USED_PRECISION_MS],
        )?;
        Ok(Role::parse(&role).map(|r| (id, r)))
    }

    /// A session for a token holder: the cookie value.
    pub fn open_session(&self, token_id: i64) -> Result<String, DbError> {
        let session = random_token("");
        let now = now_ms();
        let conn = self.conn();
        conn.execute("DELETE FROM sessions WHERE expires_at_ms < ?1", [now])?;
        conn.execute(
            "INSERT INTO sessions (hash, token_id, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
            params![hash(&session), token_id, now, now + SESSION_DAYS * 86_400_000],
        )?;
        Ok(session)
    }

    /// The role of a live session (a revoked token ends its sessions).
    pub fn check_session(&self, session: &str) -> Result<Option<Role>, DbError> {
        let role: Option<String> = self
            .conn()
            .query_row(
                "SELECT t.role FROM sessions s JOIN tokens t ON t.id = s.token_id
                 WHERE s.hash = ?1 AND s.expires_at_ms > ?2",
                params![hash(session), now_ms()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    pub fn close_session(&self, session: &str) -> Result<(), DbError> {
        self.conn().execute("DELETE FROM sessions WHERE hash = ?1", [hash(session)])?;
        Ok(())
    }

    /// The server's secret for CSRF tokens, made on first use.
    pub fn csrf_secret(&self) -> Result<String, DbError> {
        self.setting_or_insert("csrf_secret", || random_token(""))
    }
}

/// The CSRF token of a session: forms carry it, and only pages of this server can read it.
pub fn csrf_token(secret: &str, session: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(session.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn csrf_matches(secret: &str, session: &str, presented: &str) -> bool {
    let Ok(presented) = hex::decode(presented) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(session.as_bytes());
    mac.verify_slice(&presented).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let token = db.create_token("ci", Role::Admin).unwrap();
        assert!(token.starts_with("slw_") && token.len() > 40);
        let stored: String = db.conn().query_row("SELECT hash FROM tokens", [], |r| r.get(0)).unwrap();
        assert_ne!(stored, token);
        assert!(!stored.contains(&token[4..]));
        assert_eq!(db.check_token(&token).unwrap().map(|t| t.1), Some(Role::Admin));
        assert_eq!(db.check_token("slw_nope").unwrap(), None);
        assert!(db.create_token("ci", Role::Viewer).is_err(), "names are unique");
    }

    #[test]
    fn sessions_end_with_their_token_and_csrf_is_bound_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let token = db.create_token("wall", Role::Viewer).unwrap();
        let (id, _) = db.check_token(&token).unwrap().unwrap();
        let session = db.open_session(id).unwrap();
        assert_eq!(db.check_session(&session).unwrap(), Some(Role::Viewer));
        let secret = db.csrf_secret().unwrap();
        let csrf = csrf_token(&secret, &session);
        assert!(csrf_matches(&secret, &session, &csrf));
        assert!(!csrf_matches(&secret, "other", &csrf));
        assert!(!csrf_matches(&secret, &session, "zz"));
        db.revoke_token("wall").unwrap();
        assert_eq!(db.check_session(&session).unwrap(), None);
    }
}
