//! Admission: the running limit (`--max-running`) with its bounded queue (`--max-queue`),
//! and the [`Running`] slot a request holds until its response ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Who may run now: a semaphore of running slots and a queue in front of it (none without
/// a running limit).
pub struct Admission {
    limiter: Option<Limiter>,
    metrics: Arc<Metrics>,
    retry_after_secs: u64,
    /// Every running request beyond the first multiplies latencies by (1 + this).
    concurrency_slowdown: f64,
}

struct Limiter {
    slots: Arc<Semaphore>,
    max_queue: usize,
    waiting: AtomicUsize,
}

impl Admission {
    /// `max_running` 0: no limit.
    pub fn new(
        max_running: usize,
        max_queue: usize,
        retry_after_secs: u64,
        concurrency_slowdown: f64,
        metrics: Arc<Metrics>,
    ) -> Self {
        let limiter = (max_running > 0).then(|| Limiter {
            slots: Arc::new(Semaphore::new(max_running)),
            max_queue,
            waiting: AtomicUsize::new(0),
        });
        Self {
            limiter,
            metrics,
            retry_after_secs,
            concurrency_slowdown,
        }
    }

    /// True when a request never waits for a slot.
    pub fn unlimited(&self) -> bool {
        self.limiter.is_none()
    }

    /// Waits for a running slot (or refuses with 429 when the queue is full).
    pub async fn admit(&self) -> Result<Running, ApiError> {
        let permit = match &self.limiter {
            None => None,
            Some(l) => match l.slots.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    if l.waiting.fetch_add(1, Ordering::AcqRel) >= l.max_queue {
                        l.waiting.fetch_sub(1, Ordering::AcqRel);
                        self.metrics.rejected();
                        return Err(ApiError::queue_full(self.retry_after_secs));
                    }
                    self.metrics.waiting.fetch_add(1, Ordering::Relaxed);
                    // Decrements even when the client goes away while queued.
                    let _queued = WaitingGuard(self, l);
                    let p = l.slots.clone().acquire_owned().await;
                    Some(p.expect("the semaphore is never closed"))
                }
            },
        };
        Ok(self.running(permit))
    }

    /// A running slot taken at once (no limit to wait for).
    pub fn running(&self, permit: Option<OwnedSemaphorePermit>) -> Running {
        let running = self.metrics.running.fetch_add(1, Ordering::Relaxed) + 1;
        Running {
            metrics: self.metrics.clone(),
            permit,
            finished: false,
            slowdown: 1.0 + self.concurrency_slowdown * (running - 1).max(0) as f64,
            kv_tokens: 0,
            lora: None,
        }
    }
}

struct WaitingGuard<'a>(&'a Admission, &'a Limiter);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
        self.1.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request holding a running slot; the gauge drops with it (also on client disconnect).
pub struct Running {
    pub metrics: Arc<Metrics>,
    permit: Option<OwnedSemaphorePermit>,
    /// Set once [`Running::finish`] has given everything back.
    finished: bool,
    /// Latency multiplier from the requests running beside this one.
    pub slowdown: f64,
    /// Tokens it holds in the KV cache (prompt and output) while it runs.
    kv_tokens: u64,
    /// The LoRA adapter it runs on.
    lora: Option<usize>,
}

impl Running {
    /// Marks `tokens` of the KV cache as this request's until it ends
    /// (`vllm:kv_cache_usage_perc`).
    pub fn hold_kv(&mut self, tokens: usize) {
        self.metrics
            .kv_tokens
            .fetch_add(tokens as u64, Ordering::Relaxed);
        self.kv_tokens += tokens as u64;
    }

    /// Marks the request as running on LoRA adapter `lora` until it ends
    /// (`vllm:lora_requests_info`).
    pub fn on_lora(&mut self, lora: Option<usize>) {
        if let (Some(i), None) = (lora, self.lora) {
            self.metrics.lora_running[i].fetch_add(1, Ordering::Relaxed);
            self.lora = lora;
        }
    }

    /// Ends the request's run: its slot, KV cache and adapter are free from now on. A stream
    /// calls this as it renders its last event, so a client that has read the whole stream
    /// finds the gauges already without it (as vLLM frees a request's blocks when it
    /// finishes, before the last output reaches the client); dropping the request (also on
    /// client disconnect) ends it otherwise. A second call does nothing.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.permit = None;
        self.metrics.running.fetch_sub(1, Ordering::Relaxed);
        if self.kv_tokens > 0 {
            self.metrics
                .kv_tokens
                .fetch_sub(self.kv_tokens, Ordering::Relaxed);
        }
        if let Some(i) = self.lora {
            self.metrics.lora_running[i].fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.finish();
    }
}
