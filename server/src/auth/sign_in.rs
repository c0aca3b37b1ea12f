//! The sign-in policy: passwords checked once for phones and console, a device id bound to the
//! first phone that signs in with it (proved ever after by its device secret), refresh tokens
//! that rotate and revoke their family when reused, and the check every request makes that its
//! device and account are still allowed.

use automerge::ActorId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gridsync_core::{Identity, sms};

use super::tokens::{self, Claims, Keys};
use crate::store::{self, DeviceContext, RefreshUse, Store, StoreError, UserRecord};

/// Why a sign-in, a renewal or a request was refused. Each has one code; the HTTP layer gives it
/// its status.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong user name or password")]
    InvalidCredentials,
    #[error("{0}")]
    InvalidInput(String),
    /// A sign-in from a revoked device.
    #[error("this device was revoked")]
    DeviceRevoked,
    /// A sign-in with another phone's device id (no or the wrong device secret).
    #[error("this device id belongs to another phone")]
    DeviceTaken,
    /// The Automerge actor is bound to another device.
    #[error("{0}")]
    ActorTaken(String),
    /// The device has another signing key bound (a new phone store on an old device id needs an
    /// admin's `gridsync device reset-key`).
    #[error("this device has another signing key; an administrator must reset it")]
    DeviceKeyTaken,
    /// A token of a device the store does not know.
    #[error("sign in on this device first")]
    UnknownDevice,
    /// A token of a device revoked since it was issued.
    #[error("this device was revoked")]
    TokenDeviceRevoked,
    /// A token of an account no longer signed in on its device.
    #[error("this account may not act from this device")]
    NotOnDevice,
    /// A refresh whose device was revoked or whose account left it.
    #[error("this device or account is no longer allowed")]
    NoLongerAllowed,
    #[error("this refresh token was already used; sign in again")]
    RefreshReused,
    #[error("the refresh token expired; sign in again")]
    RefreshExpired,
    #[error("the refresh token is not valid; sign in again")]
    RefreshInvalid,
    #[error("signing a token failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// The machine-readable code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::InvalidCredentials => "invalid_credentials",
            AuthError::InvalidInput(_) => "invalid_input",
            AuthError::DeviceRevoked | AuthError::TokenDeviceRevoked => "device_revoked",
            AuthError::NoLongerAllowed => "device_revoked",
            AuthError::DeviceTaken => "device_taken",
            AuthError::ActorTaken(_) => "actor_taken",
            AuthError::DeviceKeyTaken => "device_key_taken",
            AuthError::UnknownDevice => "unknown_device",
            AuthError::NotOnDevice | AuthError::RefreshInvalid => "invalid_token",
            AuthError::RefreshReused => "token_reused",
            AuthError::RefreshExpired => "token_expired",
            AuthError::Signing(_) | AuthError::Store(_) => "internal",
        }
    }
}

/// A phone's sign-in.
#[derive(Debug)]
pub struct SignIn<'a> {
    pub user: &'a str,
    pub password: &'a str,
    pub device: &'a str,
    /// The phone's Automerge actor, bound to the device here.
    pub actor: &'a ActorId,
    /// The secret the first sign-in on this device returned; required ever after.
    pub device_secret: Option<&'a str>,
    /// The phone store's public signing key, base64url (ADR 0028); bound at the first sign-in
    /// that carries one.
    pub device_key: Option<&'a str>,
}

/// What a sign-in or a renewal hands out.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub who: Identity,
    /// Only on the first sign-in on a device.
    pub device_secret: Option<String>,
    /// The server's public key (`evidence::key_text`): the phone seals the keys of the cases
    /// it captures to it (ADR 0029).
    pub server_key: String,
    /// The device certificate (`peer::Certificate`, base64url) a phone shows colleagues'
    /// phones (ADR 0030); only for a device with a bound key.
    pub certificate: Option<String>,
}

/// The account named `user` if it is enabled and `password` is its password (phones and the
/// console sign in through this one check).
pub async fn active_account(
    store: &Store,
    user: &str,
    password: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let found = store
        .user(user)
        .await?
        .filter(|u| !u.disabled && tokens::verify_password(&u.password_hash, password));
    if found.is_none() {
        tracing::info!(user = %user, "sign-in refused");
    }
    Ok(found)
}

/// Signs a phone in: checks the password, binds the device and its actor to the account, and
/// issues a new token family.
pub async fn sign_in(
    store: &Store,
    keys: &Keys,
    req: &SignIn<'_>,
    now: i64,
) -> Result<Tokens, AuthError> {
    // The server writes its own events (supervision, console actions) from this device id: no
    // phone may claim it.
    if store::is_server_device(req.device) {
        return Err(AuthError::InvalidInput(
            "this device id is reserved for the server".into(),
        ));
    }
    let Some(user) = active_account(store, req.user, req.password).await? else {
        return Err(AuthError::InvalidCredentials);
    };
    let identity = Identity::new(
        &user.id,
        user.role,
        user.scope.clone(),
        user.department.clone(),
        req.device,
    )
    .map_err(|e| AuthError::InvalidInput(e.to_string()))?;
    if store
        .device_context(req.device)
        .await?
        .is_some_and(|ctx| ctx.revoked)
    {
        return Err(AuthError::DeviceRevoked);
    }
    // A device id proves itself with the secret its first sign-in received: knowing a colleague's
    // device id (it is in every case they wrote) must not let anyone sign in as that device.
    let known_secret = store.device_secret_hash(req.device).await?;
    if let Some(hash) = &known_secret {
        let presented = req.device_secret.map(tokens::refresh_hash);
        if presented.as_deref() != Some(hash.as_str()) {
            store
                .audit(&user.id, "login_device_taken", req.device, "", now)
                .await?;
            return Err(AuthError::DeviceTaken);
        }
    }
    let device_key = match req.device_key {
        None => None,
        Some(text) => Some(gridsync_core::evidence::key_from_text(text).ok_or_else(|| {
            AuthError::InvalidInput("device_key must be a base64url Ed25519 public key".into())
        })?),
    };
    store
        .bind_device(req.device, &user.id, req.actor, now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => AuthError::ActorTaken(m),
            other => AuthError::Store(other),
        })?;
    // Bound after the device proved itself (its secret), so a stranger cannot bind a key to a
    // colleague's device id first.
    if let Some(key) = &device_key
        && !store.bind_device_key(req.device, key).await?
    {
        store
            .audit(&user.id, "login_device_key_taken", req.device, "", now)
            .await?;
        return Err(AuthError::DeviceKeyTaken);
    }
    let new_secret = match known_secret {
        Some(_) => None,
        None => {
            let (secret, hash) = tokens::new_refresh_token();
            if !store.set_device_secret_hash(req.device, &hash).await? {
                return Err(AuthError::DeviceTaken);
            }
            Some(secret)
        }
    };
    // The secret also keys the device's urgent SMS reports; the server learns it only here,
    // where it is presented or issued.
    if let Some(secret) = new_secret.as_deref().or(req.device_secret) {
        let key = URL_SAFE_NO_PAD.encode(sms::sms_key(secret));
        store
            .set_device_sms_key(req.device, &sms::device_tag(req.device), &key)
            .await?;
    }
    let family = uuid::Uuid::new_v4().to_string();
    let mut issued = issue(store, keys, identity, &family, now).await?;
    issued.device_secret = new_secret;
    store.audit(&user.id, "login", req.device, "", now).await?;
    Ok(issued)
}

/// Renews a token family: the refresh token (by its hash) is spent and a new pair issued, while
/// its device and account are still allowed. A spent token presented again revokes the family.
pub async fn refresh(
    store: &Store,
    keys: &Keys,
    refresh_hash: &str,
    now: i64,
) -> Result<Tokens, AuthError> {
    match store.use_refresh(refresh_hash, now).await? {
        RefreshUse::Rotated {
            family,
            device,
            user,
        } => {
            let ctx = store.device_context(&device).await?;
            let Some(who) = ctx
                .filter(|c| !c.revoked)
                .and_then(|c| c.users.into_iter().find(|u| u.user == user))
            else {
                return Err(AuthError::NoLongerAllowed);
            };
            issue(store, keys, who, &family, now).await
        }
        RefreshUse::Reused { device, .. } => {
            store
                .audit("-", "refresh_token_reused", &device, "family revoked", now)
                .await?;
            Err(AuthError::RefreshReused)
        }
        RefreshUse::Expired => Err(AuthError::RefreshExpired),
        RefreshUse::Revoked | RefreshUse::Unknown => Err(AuthError::RefreshInvalid),
    }
}

/// Signs out of the device the refresh token's family belongs to: the family is revoked and the
/// access token stops working there at once. An unknown token signs nobody out.
pub async fn sign_out(store: &Store, refresh_hash: &str, now: i64) -> Result<(), AuthError> {
    if let Some((device, user)) = store.revoke_refresh_family_of(refresh_hash).await? {
        store.sign_out(&device, &user).await?;
        store.audit(&user, "logout", &device, "", now).await?;
    }
    Ok(())
}

/// The device and the identity a token speaks for, as the store knows them now: a revoked device
/// or a disabled account is refused here, on every request.
pub async fn signed_in(
    store: &Store,
    claims: &Claims,
) -> Result<(DeviceContext, Identity), AuthError> {
    let Some(ctx) = store.device_context(&claims.dev).await? else {
        return Err(AuthError::UnknownDevice);
    };
    if ctx.revoked {
        return Err(AuthError::TokenDeviceRevoked);
    }
    let Some(who) = ctx.users.iter().find(|u| u.user == claims.sub).cloned() else {
        return Err(AuthError::NotOnDevice);
    };
    Ok((ctx, who))
}

/// Signs a reviewer in to the console: the same password check as phones, on the account's own
/// console device; returns the session token.
pub async fn console_sign_in(
    store: &Store,
    keys: &Keys,
    user: &str,
    password: &str,
    now: i64,
) -> Result<String, AuthError> {
    let Some(user) = active_account(store, user, password).await? else {
        return Err(AuthError::InvalidCredentials);
    };
    let device = store::console_device_id(&user.id);
    let who = Identity::new(&user.id, user.role, user.scope, user.department, &device)
        .map_err(|e| AuthError::InvalidInput(e.to_string()))?;
    store.bind_console(&device, &user.id, now).await?;
    store
        .audit(&user.id, "console_login", &device, "", now)
        .await?;
    Ok(keys.console_token(&who, now / 1000)?)
}

/// Ends a console session on the server too: the console device is revoked until the next
/// sign-in with the password, so a copied cookie stops working at once.
pub async fn console_sign_out(store: &Store, claims: &Claims, now: i64) -> Result<(), AuthError> {
    if claims.dev != store::console_device_id(&claims.sub) {
        return Ok(());
    }
    store.revoke_device(&claims.dev).await?;
    store
        .audit(&claims.sub, "console_logout", &claims.dev, "", now)
        .await?;
    Ok(())
}

async fn issue(
    store: &Store,
    keys: &Keys,
    who: Identity,
    family: &str,
    now: i64,
) -> Result<Tokens, AuthError> {
    let access_token = keys.access_token(&who, now / 1000)?;
    let (refresh_token, hash) = tokens::new_refresh_token();
    let expires = now + tokens::REFRESH_DAYS * 24 * 3600 * 1000;
    store
        .store_refresh(&hash, family, &who.device, &who.user, now, expires)
        .await?;
    let change_key = store.change_key().await?;
    // A phone with a bound key gets the certificate it shows colleagues' phones (ADR 0030).
    let certificate = match store.device_sign_key(&who.device).await? {
        Some(key) => {
            let bytes = gridsync_core::peer::Certificate::of(&who, &key, now)
                .sign(change_key.signing())
                .map_err(StoreError::from)?;
            Some(base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                bytes,
            ))
        }
        None => None,
    };
    Ok(Tokens {
        access_token,
        refresh_token,
        who,
        device_secret: None,
        server_key: gridsync_core::evidence::key_text(&change_key.public().to_bytes()),
        certificate,
    })
}
