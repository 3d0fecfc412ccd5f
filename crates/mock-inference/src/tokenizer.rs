//! Token counts from a real BPE tokenizer (cl100k_base, compiled into the binary by
//! `tiktoken-rs`: no download at run time). Counts of repeated texts come from a small
//! per-thread cache, so a load test sending the same prompt does not re-tokenise it.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

pub const NAME: &str = "cl100k_base";

static BPE: OnceLock<CoreBPE> = OnceLock::new();

/// Loads the tokenizer (≈0.3 s in debug builds); call before serving.
pub fn init() {
    bpe();
}

fn bpe() -> &'static CoreBPE {
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().expect("the bundled cl100k_base data loads"))
}

const CACHE_SLOTS: usize = 1024;

thread_local! {
    static CACHE: RefCell<Vec<(u64, u32)>> = RefCell::new(vec![(0, 0); CACHE_SLOTS]);
}

fn hash(text: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    // 0 marks an empty slot.
    h.finish() | 1
}

/// Number of tokens in `text`.
pub fn count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let key = hash(text);
    let slot = (key as usize) % CACHE_SLOTS;
    if let Some(n) = CACHE.with(|c| {
        let c = c.borrow();
        (c[slot].0 == key).then_some(c[slot].1)
    }) {
        return n as usize;
    }
    let n = bpe().encode_ordinary(text).len();
    CACHE.with(|c| c.borrow_mut()[slot] = (key, n as u32));
    n
}

/// The text split at token boundaries: each piece is one or more whole tokens that decode to
/// valid UTF-8 (a multi-byte character split across tokens stays in one piece).
pub fn pieces(text: &str) -> Vec<String> {
    let bpe = bpe();
    let tokens = bpe.encode_ordinary(text);
    let mut out = Vec::with_capacity(tokens.len());
    let mut pending: Vec<u8> = Vec::new();
    for bytes in bpe._decode_native_and_split(tokens) {
        pending.extend_from_slice(&bytes);
        if let Ok(s) = std::str::from_utf8(&pending) {
            out.push(s.to_owned());
            pending.clear();
        }
    }
    if !pending.is_empty() {
        out.push(String::from_utf8_lossy(&pending).into_owned());
    }
    out
}

/// Decodes token ids (completions prompts given as tokens); ids outside the vocabulary
/// are dropped.
pub fn decode_lossy(tokens: &[u32]) -> String {
    let b = bpe();
    let mut out = String::new();
    for t in tokens {
        if let Ok(s) = b.decode(vec![*t]) {
            out.push_str(&s);
        }
    }
    out
}

/// Prompt tokens of a chat request, counted as OpenAI's cookbook does for gpt-3.5/4:
/// 3 per message, 1 per name, 3 to prime the reply.
pub fn chat_prompt_tokens<'a>(
    messages: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> usize {
    let mut n = 3;
    for (role, content, name) in messages {
        n += 3 + count(role) + count(content);
        if let Some(name) = name {
            n += 1 + count(name);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_openai() {
        assert_eq!(count("hello world"), 2);
        assert_eq!(count(""), 0);
        // cached path gives the same answer
        assert_eq!(count("hello world"), 2);
    }

    #[test]
    fn pieces_rejoin_to_text() {
        let text = "Grüße, 世界! This is a mock response.";
        let p = pieces(text);
        assert!(p.len() > 5);
        assert_eq!(p.concat(), text);
    }
}
