//! Passwords, access tokens, console session tokens and refresh tokens.
//!
//! Access tokens are short (15 minutes) EdDSA JWTs: one algorithm allowed, `exp aud iss sub`
//! required (jsonwebtoken ≥ 10.3 checks `exp`; older versions did not, CVE-2026-25537). Refresh
//! tokens are random, stored only as SHA-256, valid for weeks because a grid worker may stay
//! offline that long, and rotate on every use; presenting a spent one revokes its whole family.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use gridsync_core::{Identity, JurisdictionPath, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

pub const ISSUER: &str = "gridsync";
pub const AUDIENCE: &str = "gridsync-sync";
/// Access token lifetime.
pub const ACCESS_SECONDS: i64 = 15 * 60;
/// The console's session tokens: another audience, so a session cookie is never a sync token.
pub const CONSOLE_AUDIENCE: &str = "gridsync-console";
/// A console session lasts a working day.
pub const CONSOLE_SECONDS: i64 = 8 * 3600;
/// Refresh token lifetime: weeks, for workers who stay offline long.
pub const REFRESH_DAYS: i64 = 60;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub dev: String,
    pub role: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dept: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

impl Claims {
    /// The identity these claims speak for.
    pub fn identity(&self) -> Option<Identity> {
        let role = Role::parse(&self.role)?;
        let scope = JurisdictionPath::parse(&self.scope).ok()?;
        Identity::new(&self.sub, role, scope, self.dept.clone(), &self.dev).ok()
    }
}

/// The signing and verifying keys, shared by all servers through the database.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Loads the shared key, creating it on first start.
    pub async fn load_or_create(store: &Store) -> Result<Keys, StoreError> {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let candidate = SigningKey::from_bytes(&seed);
        let der = candidate
            .to_pkcs8_der()
            .map_err(|e| StoreError::Corrupt(format!("pkcs8: {e}")))?;
        let public = candidate.verifying_key().to_bytes();
        let (private, public) = store
            .signing_key((der.as_bytes(), &public), crate::now_ms())
            .await?;
        Ok(Keys {
            encoding: EncodingKey::from_ed_der(&private),
            decoding: DecodingKey::from_ed_der(&public),
        })
    }

    /// A 15-minute access token for `who`.
    pub fn access_token(
        &self,
        who: &Identity,
        now_s: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.token(who, now_s, AUDIENCE, ACCESS_SECONDS)
    }

    /// An 8-hour console session token for `who` (audience [`CONSOLE_AUDIENCE`]).
    pub fn console_token(
        &self,
        who: &Identity,
        now_s: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.token(who, now_s, CONSOLE_AUDIENCE, CONSOLE_SECONDS)
    }

    fn token(
        &self,
        who: &Identity,
        now_s: i64,
        audience: &str,
        seconds: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: who.user.clone(),
            dev: who.device.clone(),
            role: who.role.as_str().to_owned(),
            scope: who.scope.to_string(),
            dept: who.department.clone(),
            iss: ISSUER.into(),
            aud: audience.into(),
            iat: now_s,
            exp: now_s + seconds,
        };
        self.sign_claims(&claims)
    }

    /// Verifies signature, algorithm, `exp`, `aud`, `iss` and `sub`.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        self.verify_for(token, AUDIENCE)
    }

    /// [`Keys::verify`] for a console session token.
    pub fn verify_console(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        self.verify_for(token, CONSOLE_AUDIENCE)
    }

    fn verify_for(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[audience]);
        v.set_issuer(&[ISSUER]);
        v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
        v.leeway = 30;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map(|d| d.claims)
    }

    /// Signs arbitrary claims (tests forge expired or wrong-audience tokens with it).
    #[doc(hidden)]
    pub fn sign_claims(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
    }
}

/// Argon2id hash in PHC format.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Constant-time check of a password against its stored hash; a malformed hash is "no".
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A new random refresh token (what the phone keeps) and its hash (what the store keeps).
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

pub fn refresh_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
