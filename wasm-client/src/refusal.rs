//! What the page gets when something is refused: a JavaScript `Error`
//! whose `code` says which refusal it is (stable, kebab-case: `not-open`,
//! `betting-closed`, `insufficient-balance`, ...) and whose message says
//! it in words, so a program branches on the code and a person reads the
//! message.

use shared::peer::PeerError;
use wasm_bindgen::JsValue;

/// A refusal, thrown to the page as an `Error` with a `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    /// A refusal with its code and message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Its code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Its message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<PeerError> for Refusal {
    fn from(error: PeerError) -> Self {
        Self::new(error.code(), error.to_string())
    }
}

impl From<Refusal> for JsValue {
    fn from(refusal: Refusal) -> Self {
        let error = js_sys::Error::new(&refusal.message);
        // (Setting a property on a fresh Error cannot fail.)
        let _ = js_sys::Reflect::set(&error, &"code".into(), &refusal.code.into());
        error.into()
    }
}
