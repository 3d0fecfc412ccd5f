//! The per-worker decode loop: every stream of a worker thread whose next event has come is
//! written in one pass, as an inference engine's decode step emits one token for every
//! running sequence.
//!
//! Why not a task and a timer per stream: at 2,000 streams × 50 tokens/s, waking each
//! stream's task through tokio's timer wheel (the wheel's entry, the task's header, the
//! connection future's state, each in its own cold cache line) cost more user CPU per token
//! than rendering and writing the token did (perf: `Wheel::poll`, task transitions and the
//! future's poll together ~1.3 µs a token). Here a stream is an entry in one heap ordered by
//! its next event's time; the loop sleeps on a single timer until the earliest, then for each
//! due entry renders the events and writes them to the socket itself. The connection's task
//! sleeps until its stream ends, or until the socket does not take a write whole (it then
//! writes the rest with the ordinary async write and hands the stream back).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write as _};
use std::os::fd::AsFd as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use tokio::net::TcpStream;
use tokio::time::Instant;

/// A streamed response's events, written as their times come.
pub trait Events: Send + 'static {
    /// Whether the next event can go out at `now` without waiting.
    fn due(&self, now: Instant) -> bool;
    /// When the next event is due, asked when it is not due at `now` (a stall fault due
    /// now starts here, so its end is the time).
    fn wake_at(&mut self, now: Instant) -> Instant;
    /// Appends the next event(s) to `out`, assuming their time has come; `now` is the clock
    /// read that found them due (one read per round, not one per event).
    fn emit(&mut self, now: Instant, out: &mut Vec<u8>) -> Emit;
}

/// What [`Events::emit`] produced.
pub enum Emit {
    /// An event (or several, ready together) was appended.
    Event,
    /// The injected `reset` fault: close the connection with a TCP reset.
    Reset,
    /// The stream is over.
    End,
}

/// `data` as one chunk of a chunked body.
pub fn push_chunk(out: &mut Vec<u8>, data: &[u8]) {
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = data.len();
    loop {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// One worker's decode loop and its streams. Cloned into every connection of the worker;
/// [`Decoder::run`] is the loop, spawned once on the worker's runtime.
pub struct Decoder<E>(Arc<Mutex<Streams<E>>>);

impl<E> Clone for Decoder<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<E: Events> Default for Decoder<E> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Streams {
            slots: Vec::new(),
            free: Vec::new(),
            due: BinaryHeap::new(),
            loop_waker: None,
            loop_deadline: None,
            event: Vec::new(),
            frame: Vec::new(),
            again: Vec::new(),
            partial_writes: 0,
        })))
    }
}

struct Streams<E> {
    slots: Vec<Slot<E>>,
    free: Vec<usize>,
    /// (time of the next event, slot, the slot's generation): a removed stream's entries
    /// stay until popped and are skipped by their generation.
    due: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// The loop's task, woken when a stream comes due before what it sleeps until.
    loop_waker: Option<Waker>,
    loop_deadline: Option<Instant>,
    /// The buffers every stream's events are rendered and framed in: one pair per worker
    /// stays in cache; each connection's own would be cold by its next token.
    event: Vec<u8>,
    frame: Vec<u8>,
    /// A pass's streams to schedule again, kept between passes (no allocation per tick).
    again: Vec<Reverse<(Instant, usize, u64)>>,
    /// Rounds the socket did not take whole (a reader slower than its stream).
    partial_writes: u64,
}

struct Slot<E> {
    generation: u64,
    stream: Option<Stream<E>>,
}

struct Stream<E> {
    events: E,
    /// A second descriptor of the connection's socket: the loop writes through it without
    /// the connection's task, and it keeps the socket open while the entry exists.
    socket: std::net::TcpStream,
    /// Set when the connection's task has something to do; it is woken.
    outcome: Option<Outcome>,
    waker: Option<Waker>,
}

/// How a stream's round of events ended, for its connection's task.
pub enum Outcome {
    /// Written whole, more to come: the stream waits in the loop.
    Scheduled,
    /// The socket did not take these bytes now; after them the stream goes on or ends as
    /// [`Then`] says.
    Unsent(Vec<u8>, Then),
    /// The stream is over: the zero chunk is written.
    End,
    /// The injected `reset` fault: close with a TCP reset.
    Reset,
    Failed(io::Error),
}

/// What follows unsent bytes.
pub enum Then {
    More,
    End,
    Reset,
}

/// Scratch capacity kept between rounds: an outsized event's buffer is given back.
const SCRATCH_KEPT: usize = 1 << 20;

impl<E: Events> Decoder<E> {
    /// A decoder with its loop spawned on the current runtime (one per worker thread).
    pub fn start() -> Self {
        let decoder = Self::default();
        tokio::spawn(decoder.clone().run());
        decoder
    }

    fn lock(&self) -> MutexGuard<'_, Streams<E>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Streams in the loop now.
    pub fn streams(&self) -> usize {
        self.lock()
            .slots
            .iter()
            .filter(|s| s.stream.is_some())
            .count()
    }

    /// Rounds so far whose write the socket did not take whole.
    pub fn partial_writes(&self) -> u64 {
        self.lock().partial_writes
    }

    /// Writes `events` to `tcp` as their times come, after `head` (the response head, sent
    /// with the first round). Ok(true) when the stream ended, Ok(false) after a reset.
    pub async fn stream(&self, tcp: &mut TcpStream, head: &[u8], events: E) -> io::Result<bool> {
        use tokio::io::AsyncWriteExt as _;
        let socket = std::net::TcpStream::from(tcp.as_fd().try_clone_to_owned()?);
        let entry = self.enroll(events, socket);
        let mut outcome = self.lock().round(entry.slot, head, Instant::now());
        loop {
            match outcome {
                Outcome::Scheduled => outcome = entry.finished().await,
                Outcome::Unsent(bytes, then) => {
                    tcp.write_all(&bytes).await?;
                    match then {
                        Then::More => outcome = self.lock().round(entry.slot, &[], Instant::now()),
                        Then::End => return Ok(true),
                        Then::Reset => return tcp.set_zero_linger().map(|()| false),
                    }
                }
                Outcome::End => return Ok(true),
                // SO_LINGER 0 is the socket's, so the loop's descriptor (closed when `entry`
                // drops, before the connection's) does not matter: the reset goes out at the
                // last close.
                Outcome::Reset => return tcp.set_zero_linger().map(|()| false),
                Outcome::Failed(e) => return Err(e),
            }
        }
    }

    fn enroll(&self, events: E, socket: std::net::TcpStream) -> Entry<'_, E> {
        let mut s = self.lock();
        let stream = Stream {
            events,
            socket,
            outcome: None,
            waker: None,
        };
        let slot = match s.free.pop() {
            Some(i) => {
                s.slots[i].stream = Some(stream);
                i
            }
            None => {
                s.slots.push(Slot {
                    generation: 0,
                    stream: Some(stream),
                });
                s.slots.len() - 1
            }
        };
        Entry {
            decoder: self,
            slot,
        }
    }

    /// The loop: sleeps until the earliest stream's next event, then runs every due stream's
    /// round. Runs for the life of the worker's runtime.
    async fn run(self) {
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        std::future::poll_fn(|cx| {
            loop {
                let next = {
                    let mut s = self.lock();
                    s.pass(Instant::now());
                    let next = s.due.peek().map(|Reverse((at, _, _))| *at);
                    s.loop_deadline = next;
                    if !s
                        .loop_waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                    {
                        s.loop_waker = Some(cx.waker().clone());
                    }
                    next
                };
                let Some(at) = next else {
                    return Poll::Pending;
                };
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        })
        .await
    }
}

/// A stream's place in the loop; dropping it (the stream ended, or its connection's task was
/// dropped) removes the stream.
struct Entry<'a, E: Events> {
    decoder: &'a Decoder<E>,
    slot: usize,
}

impl<E: Events> Entry<'_, E> {
    /// Resolves when the loop has something for the connection's task.
    async fn finished(&self) -> Outcome {
        std::future::poll_fn(|cx| {
            let mut s = self.decoder.lock();
            let stream = s.slots[self.slot]
                .stream
                .as_mut()
                .expect("an entry's stream stays until the entry drops");
            match stream.outcome.take() {
                Some(outcome) => Poll::Ready(outcome),
                None => {
                    if !stream
                        .waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                    {
                        stream.waker = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<E: Events> Drop for Entry<'_, E> {
    fn drop(&mut self) {
        let mut s = self.decoder.lock();
        let slot = &mut s.slots[self.slot];
        slot.stream = None;
        slot.generation += 1;
        s.free.push(self.slot);
    }
}

impl<E: Events> Streams<E> {
    /// Runs the round of every stream due at `now`. Streams scheduled again go back after the
    /// pass, so none runs twice in one.
    fn pass(&mut self, now: Instant) {
        let mut again = std::mem::take(&mut self.again);
        while let Some(&Reverse((at, slot, generation))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            if self.slots[slot].generation != generation || self.slots[slot].stream.is_none() {
                continue;
            }
            match self.run_round(slot, &[], now) {
                Outcome::Scheduled => {
                    let s = self.slots[slot].stream.as_mut().expect("checked above");
                    again.push(Reverse((s.events.wake_at(now), slot, generation)));
                }
                outcome => {
                    let s = self.slots[slot].stream.as_mut().expect("checked above");
                    s.outcome = Some(outcome);
                    if let Some(w) = s.waker.take() {
                        w.wake();
                    }
                }
            }
        }
        self.due.extend(again.drain(..));
        self.again = again;
    }

    /// A round run by a connection's task: scheduled in the loop when more is to come.
    fn round(&mut self, slot: usize, head: &[u8], now: Instant) -> Outcome {
        let outcome = self.run_round(slot, head, now);
        if let Outcome::Scheduled = outcome {
            let generation = self.slots[slot].generation;
            let s = self.slots[slot].stream.as_mut().expect("a live entry");
            let at = s.events.wake_at(now);
            self.due.push(Reverse((at, slot, generation)));
            if self.loop_deadline.is_none_or(|d| at < d) {
                self.loop_deadline = Some(at);
                if let Some(w) = &self.loop_waker {
                    w.wake_by_ref();
                }
            }
        }
        outcome
    }

    /// `head` and the events due at `now` (one clock read per round: an event that comes due
    /// meanwhile waits for the next), framed as chunks in one write.
    fn run_round(&mut self, slot: usize, head: &[u8], now: Instant) -> Outcome {
        let Self {
            slots,
            event,
            frame,
            ..
        } = self;
        let s = slots[slot].stream.as_mut().expect("a live entry");
        frame.clear();
        frame.extend_from_slice(head);
        let mut then = Then::More;
        while s.events.due(now) {
            event.clear();
            match s.events.emit(now, event) {
                Emit::Event => push_chunk(frame, event),
                Emit::End => {
                    frame.extend_from_slice(b"0\r\n\r\n");
                    then = Then::End;
                    break;
                }
                Emit::Reset => {
                    then = Then::Reset;
                    break;
                }
            }
        }
        // The socket nearly always takes a round's write whole; what it does not take now
        // goes to the connection's task, which waits until it can write.
        let sent = if frame.is_empty() {
            0
        } else {
            match (&s.socket).write(frame) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) =>
                {
                    0
                }
                Err(e) => return Outcome::Failed(e),
            }
        };
        let outcome = if sent < frame.len() {
            self.partial_writes += 1;
            Outcome::Unsent(frame[sent..].to_vec(), then)
        } else {
            match then {
                Then::More => Outcome::Scheduled,
                Then::End => Outcome::End,
                Then::Reset => Outcome::Reset,
            }
        };
        if frame.capacity() > SCRATCH_KEPT {
            *frame = Vec::new();
            *event = Vec::new();
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// `count` events of `size` bytes, `every` apart, each opening with its number.
    struct Numbered {
        next: usize,
        count: usize,
        size: usize,
        at: Instant,
        every: Duration,
    }

    impl Numbered {
        fn new(count: usize, size: usize, every: Duration) -> Self {
            let at = Instant::now();
            Self {
                next: 0,
                count,
                size,
                at,
                every,
            }
        }
    }

    impl Events for Numbered {
        fn due(&self, now: Instant) -> bool {
            self.at <= now
        }
        fn wake_at(&mut self, _: Instant) -> Instant {
            self.at
        }
        fn emit(&mut self, _: Instant, out: &mut Vec<u8>) -> Emit {
            if self.next == self.count {
                return Emit::End;
            }
            out.extend_from_slice(format!("{:08}", self.next).as_bytes());
            out.resize(out.len() + self.size, b'x');
            self.next += 1;
            self.at += self.every;
            Emit::Event
        }
    }

    /// The chunks of a chunked body (after `head`), up to the zero chunk.
    fn chunks(mut body: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        loop {
            let line = body
                .iter()
                .position(|b| *b == b'\r')
                .expect("a chunk size line");
            let len = usize::from_str_radix(std::str::from_utf8(&body[..line]).unwrap(), 16)
                .expect("a hex chunk size");
            if len == 0 {
                assert_eq!(&body[line..], b"\r\n\r\n", "nothing after the zero chunk");
                return out;
            }
            out.push(&body[line + 2..line + 2 + len]);
            assert_eq!(&body[line + 2 + len..line + 4 + len], b"\r\n");
            body = &body[line + 4 + len..];
        }
    }

    async fn serve_one(
        decoder: &Decoder<Numbered>,
        events: Numbered,
    ) -> (TcpStream, tokio::task::JoinHandle<io::Result<bool>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut tcp, _) = listener.accept().await.unwrap();
        let decoder = decoder.clone();
        let server =
            tokio::spawn(async move { decoder.stream(&mut tcp, b"HEAD\r\n", events).await });
        (client, server)
    }

    /// A client that does not read for a while fills the socket: the loop's writes come back
    /// partial, the connection's task writes the rest, and every event still arrives whole
    /// and in order.
    #[tokio::test]
    async fn a_reader_slower_than_its_stream_gets_every_event_in_order() {
        let decoder = Decoder::start();
        let (count, size) = (64, 256 * 1024);
        let (mut client, server) = serve_one(
            &decoder,
            Numbered::new(count, size, Duration::from_millis(1)),
        )
        .await;
        // The slow reader reads nothing until the socket has refused part of a write (16 MiB
        // of events come due 1 ms apart; the socket's buffers take a few MiB).
        let deadline = Instant::now() + Duration::from_secs(10);
        while decoder.partial_writes() == 0 {
            assert!(
                Instant::now() < deadline,
                "the socket never refused a write"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(
            server.await.unwrap().unwrap(),
            "the stream ends, not resets"
        );
        let body = got
            .strip_prefix(b"HEAD\r\n".as_slice())
            .expect("the head first");
        let events = chunks(body);
        assert_eq!(events.len(), count);
        for (i, e) in events.iter().enumerate() {
            assert_eq!(
                &e[..8],
                format!("{i:08}").as_bytes(),
                "event {i} in its place"
            );
            assert_eq!(e.len(), 8 + size);
        }
        assert_eq!(decoder.streams(), 0, "an ended stream leaves the loop");
    }

    /// A client gone mid-stream ends the stream with the write's error, and the stream leaves
    /// the loop (its socket descriptor with it).
    #[tokio::test]
    async fn a_client_gone_mid_stream_ends_it_and_frees_its_place() {
        let decoder = Decoder::start();
        let (mut client, server) =
            serve_one(&decoder, Numbered::new(1000, 100, Duration::from_millis(2))).await;
        let mut first = [0u8; 64];
        let n = client.read(&mut first).await.unwrap();
        assert!(n > 0 && first.starts_with(b"HEAD"));
        assert_eq!(decoder.streams(), 1);
        client.shutdown().await.unwrap();
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(10), server).await;
        let ended = ended
            .expect("the stream ends soon after its client goes")
            .unwrap();
        assert!(
            ended.is_err(),
            "a write to a closed connection fails: {ended:?}"
        );
        assert_eq!(decoder.streams(), 0);
    }
}
