//! The signed form of validation answers (`keyhook-answer-v2`), and its verification (what a
//! client app does offline with the tenant's public keys).
//!
//! The format itself lives in the dependency-light `keyhook-format` crate, shared with the
//! client libraries, so server and clients cannot drift apart: the body is compact JSON whose
//! last member is `"signature"`, Ed25519 over the exact bytes before it (the body up to its
//! final `,"signature":"`, then `}`). Every other member is signed, including what the answer
//! is about: `format`, `productId`, `deviceHash`, `licenseId`, `livemode`, `nonce`, `signedAt`,
//! `kid`, and the `trial`'s `productId` and `deviceHash`.

pub use keyhook_format::answer::{
    sign_answer, signed_parts, verify_answer_signature, Answer, Expected, ANSWER_FORMAT,
};
pub use keyhook_format::{PublicKeySet, VerifyError as AnswerError};

/// Verifies a validation answer (the raw response body) against a tenant's public keys
/// (`GET /api/tenants/{tenantId}/signing-keys`) and refuses any answer that is not about
/// exactly the request `expected` describes: another product, another device, another nonce
/// (a replay), another license, or an older format. `Ok` returns the answer; the app then
/// decides on `valid` and `code`, and may bound the age of `signedAt`.
pub fn verify_answer(
    keys: &PublicKeySet,
    body: &[u8],
    expected: &Expected,
) -> Result<Answer, AnswerError> {
    keyhook_format::answer::verify_answer(keys, body, expected)
}
