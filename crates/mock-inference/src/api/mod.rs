//! The APIs, a module each: its request body, validation, plan and handler — chat
//! completions ([`chat`]), legacy completions ([`completions`]), embeddings
//! ([`embeddings`]), the OpenAI Responses API ([`responses`], its [`store`]) and the
//! Anthropic Messages API ([`messages`]). They go through [`crate::server::serve`]
//! (admission, faults, scenarios, latency, metrics; completions and embeddings through
//! [`crate::server::serve_direct`], without scenarios) and stream through
//! [`crate::stream::Job`]; the last two with their own [`crate::plan::Wire`].

pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod messages;
pub mod responses;
pub mod store;
pub mod tokenize;

use bytes::Bytes;
use serde_json::Value;

pub(crate) fn json_bytes(v: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("JSON values serialise"))
}

/// One named SSE event: `event: NAME` and its JSON data.
pub(crate) fn push_event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    serde_json::to_writer(&mut *out, data).expect("JSON values serialise");
    out.extend_from_slice(b"\n\n");
}

/// The per-token event of a stream, pre-assembled around its piece: `head`, then the
/// escaped piece, then `tail`. Built once per stream; each token only copies bytes.
pub(crate) struct TokenEvent {
    head: Vec<u8>,
    tail: &'static [u8],
}

impl TokenEvent {
    /// `event: NAME\ndata: ` + `data_head`; the piece and `tail` follow.
    pub fn new(name: &str, data_head: &str, tail: &'static [u8]) -> Self {
        let mut head = Vec::with_capacity(name.len() + data_head.len() + 16);
        head.extend_from_slice(b"event: ");
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b"\ndata: ");
        head.extend_from_slice(data_head.as_bytes());
        Self { head, tail }
    }

    /// The event of `piece` (escaped), with `extra` (a sequence number field, say) between
    /// the head and the piece.
    pub fn push(&self, out: &mut Vec<u8>, piece: &str, extra: &[u8]) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(extra);
        out.extend_from_slice(piece.as_bytes());
        out.extend_from_slice(self.tail);
        out.extend_from_slice(b"\n\n");
    }
}

/// The text of a string or of the text parts of an array of content parts (`text` of
/// parts of the given types; others, images and the like, carry no text here).
pub(crate) fn content_text(v: Option<&Value>, text_types: &[&str]) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| {
                p.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| text_types.contains(&t))
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the fuzz target checks, on every truncation and many byte flips of a full body of
    /// each new API: Ok or a 4xx, never a panic.
    #[test]
    fn mutated_bodies_never_panic() {
        let seeds = [
            include_bytes!("../../fuzz/seeds/responses").as_slice(),
            include_bytes!("../../fuzz/seeds/messages").as_slice(),
            include_bytes!("../../fuzz/seeds/tokenize").as_slice(),
            include_bytes!("../../fuzz/seeds/detokenize").as_slice(),
            include_bytes!("../../fuzz/seeds/parallel_responses").as_slice(),
            include_bytes!("../../fuzz/seeds/parallel_messages").as_slice(),
            include_bytes!("../../fuzz/seeds/parallel_tools").as_slice(),
        ];
        let check = |body: &[u8]| {
            let results = [
                responses::parse(body, false).err(),
                messages::parse(body, false, false).err(),
                messages::parse(body, true, true).err(),
                tokenize::parse_tokenize(body).err(),
                tokenize::parse_detokenize(body).err(),
            ];
            for e in results.into_iter().flatten() {
                assert!(
                    e.status.is_client_error(),
                    "{e:?} for {}",
                    String::from_utf8_lossy(body)
                );
            }
        };
        for seed in seeds {
            check(seed);
            for cut in 0..seed.len() {
                check(&seed[..cut]);
            }
            for (i, flip) in
                (0..seed.len()).zip([b'1', b'"', b'[', b'{', b'n', b'}'].iter().cycle())
            {
                let mut m = seed.to_vec();
                m[i] = *flip;
                check(&m);
            }
        }
        assert!(responses::parse(seeds[0], false).is_ok());
        assert!(messages::parse(seeds[1], false, false).is_ok());
        assert!(tokenize::parse_tokenize(seeds[2]).is_ok());
        assert!(tokenize::parse_detokenize(seeds[3]).is_ok());
        assert!(responses::parse(seeds[4], false).is_ok());
        assert!(messages::parse(seeds[5], false, false).is_ok());
        assert!(chat::parse(seeds[6], true).is_ok());
    }
}
