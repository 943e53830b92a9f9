//! The rest-hook channel: one HTTP request per notification over rustls
//! (reqwest), with the subscription's `channel.header`s, a timeout, and
//! optionally an HMAC-SHA256 signature of the body so the receiver can
//! check the notification came from this server:
//! `X-Ipe-Signature: sha256=<lower-case hex of HMAC-SHA256(secret, body)>`.
//! Any 2xx answer acknowledges the notification.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::notification::Outgoing;

pub const SIGNATURE_HEADER: &str = "X-Ipe-Signature";

/// How a notification is sent besides what it is.
pub struct Send<'a> {
    pub headers: &'a [(String, String)],
    pub secret: Option<&'a str>,
    pub timeout: Duration,
}

/// Sends `out`; `Err` says why it was not acknowledged (for `$status` and
/// the logs: never the body).
pub async fn send(client: &reqwest::Client, out: &Outgoing, how: &Send<'_>) -> Result<(), String> {
    post(client, out, how).await.map(drop)
}

/// Makes the request of `out`; the answer when it is a 2xx (the message
/// channel reads it further).
pub async fn post(client: &reqwest::Client, out: &Outgoing, how: &Send<'_>) -> Result<reqwest::Response, String> {
    let mut request = client.request(out.method.clone(), &out.url).timeout(how.timeout);
    for (name, value) in how.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let body = out.body.clone().unwrap_or_default();
    if let Some(secret) = how.secret {
        request = request.header(SIGNATURE_HEADER, signature(secret, &body));
    }
    if out.body.is_some() {
        request = request.header(reqwest::header::CONTENT_TYPE, out.content_type);
    }
    let response = request.body(body).send().await.map_err(describe)?;
    let status = response.status();
    if status.is_success() {
        Ok(response)
    } else {
        Err(format!("{ANSWERED} {status}"))
    }
}

/// `sha256=<hex>` of the body under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What a failed send says (kept in `$status` and the subscription's
/// `error`); [`error_code`] reads the kind back from it.
const NO_ANSWER: &str = "the endpoint did not answer in time";
const NO_CONNECTION: &str = "cannot connect to the endpoint";
const NO_HOST: &str = "cannot resolve the endpoint's host";
pub(super) const ANSWERED: &str = "the endpoint answered";

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        NO_ANSWER.to_owned()
    } else if e.is_connect() && is_dns(&e) {
        NO_HOST.to_owned()
    } else if e.is_connect() {
        NO_CONNECTION.to_owned()
    } else {
        format!("sending failed: {e}")
    }
}

/// Whether the connection failed at name resolution (hyper's connector
/// reports it as a "dns error" somewhere in the error's causes).
fn is_dns(e: &reqwest::Error) -> bool {
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.to_string() == "dns error" {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The `http://terminology.hl7.org/CodeSystem/subscription-error` code
/// (with its display) of a failure this module (or the message channel,
/// which sends through it) described; `None` for other channels' failures.
pub fn error_code(error: &str) -> Option<(&'static str, &'static str)> {
    if error.starts_with(NO_HOST) {
        Some(("dns-resolution-error", "DNS resolution error"))
    } else if error.starts_with(NO_ANSWER) || error.starts_with(NO_CONNECTION) {
        Some(("no-response", "No response"))
    } else if error.starts_with(ANSWERED) {
        Some(("error-response", "Error response"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_subscription_error_code() {
        let code = |text: &str| error_code(text).map(|(code, _)| code);
        assert_eq!(code(NO_ANSWER), Some("no-response"));
        assert_eq!(code(NO_CONNECTION), Some("no-response"));
        assert_eq!(code(NO_HOST), Some("dns-resolution-error"));
        assert_eq!(
            code(&format!("{ANSWERED} 500 Internal Server Error")),
            Some("error-response")
        );
        assert_eq!(code("the SMTP server refused the message"), None);
    }

    #[test]
    fn signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
