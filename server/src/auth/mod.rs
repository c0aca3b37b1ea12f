//! Who may act, and as whom: passwords and tokens ([`tokens`]), and the sign-in policy every
//! entrance shares ([`sign_in`]): the API's phones and the console's reviewers sign in, renew and
//! sign out through the same checks, and every request is held to the device and account as the
//! store knows them now.

mod sign_in;
mod tokens;

pub use sign_in::{
    AuthError, SignIn, Tokens, active_account, console_sign_in, console_sign_out, refresh, sign_in,
    sign_out, signed_in,
};
pub use tokens::{
    ACCESS_SECONDS, AUDIENCE, CONSOLE_AUDIENCE, CONSOLE_SECONDS, Claims, ISSUER, Keys,
    REFRESH_DAYS, hash_password, new_refresh_token, refresh_hash, verify_password,
};
