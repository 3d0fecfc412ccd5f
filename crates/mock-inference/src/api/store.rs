//! The bounded in-memory store of Responses API responses behind `store` and
//! `previous_response_id`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use serde_json::Value;

use super::json_bytes;

/// Responses kept for `GET` and `previous_response_id`; the oldest goes first.
pub const STORE_CAPACITY: usize = 1024;

/// A stored response: its body for `GET`, and what a follow-up needs.
struct Stored {
    body: Value,
    /// Input and output tokens of the conversation up to and including this response.
    context_tokens: usize,
}

/// The bounded in-memory store behind `store` and `previous_response_id`.
#[derive(Default)]
pub struct Store(Mutex<StoreInner>);

#[derive(Default)]
struct StoreInner {
    by_id: HashMap<String, Stored>,
    order: VecDeque<String>,
}

impl Store {
    pub fn put(&self, id: &str, body: Value, context_tokens: usize) {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if s.order.len() >= STORE_CAPACITY
            && let Some(old) = s.order.pop_front()
        {
            s.by_id.remove(&old);
        }
        s.order.push_back(id.to_string());
        s.by_id.insert(
            id.to_string(),
            Stored {
                body,
                context_tokens,
            },
        );
    }

    pub fn context_tokens(&self, id: &str) -> Option<usize> {
        let s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.by_id.get(id).map(|r| r.context_tokens)
    }

    pub fn body(&self, id: &str) -> Option<Bytes> {
        let s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        s.by_id.get(id).map(|r| json_bytes(&r.body))
    }
}
