//! Any bytes through every request parser (chat, completions, embeddings, Responses,
//! Anthropic Messages and count_tokens, vLLM's tokenize and detokenize): it must answer Ok
//! or a 4xx OpenAI error, never panic, never a 5xx.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mock_inference::api::{chat, completions, embeddings, messages, responses, tokenize};

fuzz_target!(|data: &[u8]| {
    for strict in [false, true] {
        let errors = [
            chat::parse(data, strict).err(),
            completions::parse(data, strict).err(),
            embeddings::parse(data, strict, 4096).err(),
            responses::parse(data, strict).err(),
            messages::parse(data, strict, false).err(),
            messages::parse(data, strict, true).err(),
            tokenize::parse_tokenize(data).err(),
            tokenize::parse_detokenize(data).err(),
        ];
        for e in errors.into_iter().flatten() {
            assert!(e.status.is_client_error(), "{e:?}");
            assert!(!e.message.is_empty());
            let body = e.body();
            assert!(body["error"]["type"].is_string());
        }
    }
});
