//! Relevo's sync: the session that brings two replicas to the same log.
//!
//! A session exchanges version vectors, then sends each side exactly the ops
//! it lacks, in per-device sequence order, in bounded pages; each page is
//! taken in by one store transaction. It is idempotent and resumable: a
//! session cut off halfway leaves both sides consistent (every page is whole
//! or absent) and the next one continues where the vectors say.
//!
//! The same logic runs over HTTP to the hub ([`http`]), in process (tests),
//! and through a bundle file carried on a USB stick ([`bundle`]).
//!
//! - [`plan`] is pure: what one side holds that the other lacks.
//! - [`respond`] is the answering side (the hub): take in what was pushed,
//!   answer with a page of what the asker lacks.
//! - [`run`] is the asking side (a device).

pub mod bundle;
pub mod http;
pub mod tls;
pub mod wire;

use relevo_core::head::{HeadEntry, HubHead};
use relevo_core::{DeviceId, Op, OpRef};
use relevo_store::{Ingest, Range, Store, Vector};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;
use std::collections::BTreeMap;
use wire::{capped, pack, runs, unpack, unrun, Run, WireError, WireVector};

/// Ops per page unless the asker wants fewer.
pub const PAGE: u32 = 2000;

/// Bytes of ops one page carries at most (payloads plus what every op
/// carries besides): a page of ops with large payloads is cut short, never
/// larger. A single op larger than this still travels alone.
pub const PAGE_BYTES: usize = 4 << 20;

/// What an op carries on the wire besides its kind and payload (keys,
/// signature, numbers), rounded up.
const OP_OVERHEAD: usize = 160;

/// Ops one pushed page may carry: more is refused as it is read.
pub const MAX_PUSH: usize = 10_000;

/// Reasons a session report keeps word for word (the rest are counted).
pub const MAX_REASONS: usize = 100;

/// Rounds one session may take: at a page of 2,000 ops, twenty million ops,
/// more than any crisis holds. An answering side that keeps claiming news
/// without end cannot keep a device busy for ever.
pub const MAX_ROUNDS: u32 = 10_000;

const REQUEST_MAGIC: &[u8; 4] = b"RLVQ";
const RESPONSE_MAGIC: &[u8; 4] = b"RLVA";

/// The ranges of ops `have` holds and `other` lacks, device by device.
pub fn plan(have: &Vector, other: &Vector) -> Vec<Range> {
    have.iter()
        .filter_map(|(device, &to)| {
            let from = other.get(device).copied().unwrap_or(0).saturating_add(1);
            (from <= to).then_some(Range {
                device: *device,
                from,
                to,
            })
        })
        .collect()
}

/// How many ops the ranges hold.
pub fn count(ranges: &[Range]) -> u64 {
    ranges
        .iter()
        .fold(0u64, |n, r| n.saturating_add(r.to - r.from + 1))
}

/// Each device's highest seq in either vector.
pub fn join(a: &Vector, b: &Vector) -> Vector {
    let mut out = a.clone();
    for (device, &seq) in b {
        let held = out.entry(*device).or_insert(0);
        *held = (*held).max(seq);
    }
    out
}

/// At most `limit` ops of `ranges`: the hub's own ops (grants, revocations)
/// first, then merged by clock, so that a receiver rarely holds an op back
/// for a grant or for another device's op it names; each device's ops stay
/// in sequence order. Reads each range in chunks, so memory stays bounded
/// whatever the ranges hold.
pub fn page(
    store: &Store,
    ranges: &[Range],
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<Op>, relevo_store::Error> {
    const CHUNK: u64 = 256;
    struct Cursor {
        range: Range,
        buf: std::collections::VecDeque<Op>,
        done: bool,
    }
    let mut cursors: Vec<Cursor> = ranges
        .iter()
        .map(|r| Cursor {
            range: *r,
            buf: Default::default(),
            done: false,
        })
        .collect();
    let hub = store.hub();
    let mut out: Vec<Op> = Vec::with_capacity(limit.min(4096));
    let mut bytes = 0usize;
    while out.len() < limit && (out.is_empty() || bytes < max_bytes) {
        let mut best: Option<(usize, (bool, relevo_core::Hlc, DeviceId))> = None;
        for (i, c) in cursors.iter_mut().enumerate() {
            if c.buf.is_empty() && !c.done {
                let ops = store.ops_range_limited(c.range, CHUNK)?;
                match ops.last() {
                    Some(last) if (ops.len() as u64) == CHUNK && last.body.seq < c.range.to => {
                        c.range.from = last.body.seq + 1;
                    }
                    _ => c.done = true,
                }
                c.buf.extend(ops);
            }
            if let Some(head) = c.buf.front() {
                let key = (
                    Some(head.body.device) != hub,
                    head.body.hlc,
                    head.body.device,
                );
                if best.is_none_or(|(_, k)| key < k) {
                    best = Some((i, key));
                }
            }
        }
        let Some((i, _)) = best else { break };
        let next = cursors[i].buf.front().expect("chosen cursor has a head");
        let size = next.body.payload.len() + next.body.kind.len() + OP_OVERHEAD;
        if !out.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        out.push(
            cursors[i]
                .buf
                .pop_front()
                .expect("chosen cursor has a head"),
        );
    }
    Ok(out)
}

/// A sync request: what the asker holds, a page of what the answerer lacks,
/// and how many ops it wants back at most.
#[derive(Debug, Clone)]
pub struct Request {
    pub vector: Vector,
    pub push: Vec<Op>,
    pub want: u32,
}

/// The answer: what the answerer now holds, the pushed ops it refused (and
/// why), those it holds waiting, and a page of what the asker lacks.
#[derive(Debug, Clone)]
pub struct Response {
    pub vector: Vector,
    pub refused: Vec<(OpRef, String)>,
    /// Pushed ops the answerer keeps but cannot apply yet (they wait for
    /// ops they name, or for their time): not in its vector, not to be
    /// pushed again in this session.
    pub waiting: Vec<OpRef>,
    pub pull: Vec<Op>,
    /// More is waiting beyond this page.
    pub more: bool,
    /// From a hub: when it received each op of `pull` (0 where unknown).
    pub receipts: Vec<u64>,
    /// From a hub: when it stored the pushed ops it kept.
    pub stored_at: u64,
    /// From a hub: its signed head after taking in the push.
    pub head: Option<HubHead>,
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    vector: WireVector,
    #[serde(deserialize_with = "capped")]
    push: Vec<Run>,
    want: u32,
}

#[derive(Serialize, Deserialize)]
struct WireRefusal {
    device: ByteArray<32>,
    seq: u64,
    reason: String,
}

#[derive(Serialize, Deserialize)]
struct WireRef {
    device: ByteArray<32>,
    seq: u64,
}

#[derive(Serialize, Deserialize)]
struct WireResponse {
    vector: WireVector,
    #[serde(deserialize_with = "capped")]
    refused: Vec<WireRefusal>,
    #[serde(deserialize_with = "capped")]
    waiting: Vec<WireRef>,
    pull: Vec<Run>,
    more: bool,
    #[serde(deserialize_with = "capped")]
    receipts: Vec<u64>,
    stored_at: u64,
    head: Option<WireHead>,
}

#[derive(Serialize, Deserialize)]
struct WireHead {
    at_ms: u64,
    /// (device 32 bytes, seq 8 bytes big-endian) per entry.
    #[serde(with = "serde_bytes")]
    entries: Vec<u8>,
    #[serde(with = "serde_bytes")]
    root: Vec<u8>,
    #[serde(with = "serde_bytes")]
    signature: Vec<u8>,
}

impl WireHead {
    fn from_head(h: &HubHead) -> WireHead {
        let mut entries = Vec::with_capacity(h.entries.len() * 40);
        for e in &h.entries {
            entries.extend_from_slice(e.device.as_bytes());
            entries.extend_from_slice(&e.seq.to_be_bytes());
        }
        WireHead {
            at_ms: h.at_ms,
            entries,
            root: h.root.to_vec(),
            signature: h.signature.to_vec(),
        }
    }

    fn into_head(self, what: &'static str) -> Result<HubHead, WireError> {
        let bad = |detail: &str| WireError::Malformed {
            what,
            detail: format!("the hub head {detail}"),
        };
        if !self.entries.len().is_multiple_of(40) {
            return Err(bad("has a malformed entry list"));
        }
        let entries = self
            .entries
            .chunks(40)
            .map(|c| HeadEntry {
                device: DeviceId::from_bytes(c[..32].try_into().expect("32 bytes")),
                seq: u64::from_be_bytes(c[32..].try_into().expect("8 bytes")),
            })
            .collect();
        Ok(HubHead {
            at_ms: self.at_ms,
            entries,
            root: self
                .root
                .try_into()
                .map_err(|_| bad("root has the wrong length"))?,
            signature: self
                .signature
                .try_into()
                .map_err(|_| bad("signature has the wrong length"))?,
        })
    }
}

impl Request {
    pub fn encode(&self) -> Vec<u8> {
        pack(
            REQUEST_MAGIC,
            &WireRequest {
                vector: WireVector::from_vector(&self.vector),
                push: runs(&self.push),
                want: self.want,
            },
        )
    }

    pub fn decode(data: &[u8]) -> Result<Request, WireError> {
        const WHAT: &str = "sync request";
        let w: WireRequest = unpack(REQUEST_MAGIC, WHAT, data)?;
        let pushed: usize = w.push.iter().map(|r| r.len()).sum();
        if pushed > MAX_PUSH {
            return Err(WireError::Malformed {
                what: WHAT,
                detail: format!("it pushes {pushed} ops; a page carries at most {MAX_PUSH}"),
            });
        }
        Ok(Request {
            vector: w.vector.to_vector(WHAT)?,
            push: unrun(w.push, WHAT)?,
            want: w.want,
        })
    }
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        pack(
            RESPONSE_MAGIC,
            &WireResponse {
                vector: WireVector::from_vector(&self.vector),
                refused: self
                    .refused
                    .iter()
                    .map(|(r, why)| WireRefusal {
                        device: ByteArray::new(*r.device.as_bytes()),
                        seq: r.seq,
                        reason: why.clone(),
                    })
                    .collect(),
                waiting: self
                    .waiting
                    .iter()
                    .map(|r| WireRef {
                        device: ByteArray::new(*r.device.as_bytes()),
                        seq: r.seq,
                    })
                    .collect(),
                pull: runs(&self.pull),
                more: self.more,
                receipts: self.receipts.clone(),
                stored_at: self.stored_at,
                head: self.head.as_ref().map(WireHead::from_head),
            },
        )
    }

    pub fn decode(data: &[u8]) -> Result<Response, WireError> {
        const WHAT: &str = "sync response";
        let w: WireResponse = unpack(RESPONSE_MAGIC, WHAT, data)?;
        let op_ref = |device: ByteArray<32>, seq| OpRef {
            device: DeviceId::from_bytes(device.into_array()),
            seq,
        };
        let refused = w
            .refused
            .into_iter()
            .map(|r| (op_ref(r.device, r.seq), r.reason))
            .collect();
        let waiting = w
            .waiting
            .into_iter()
            .map(|r| op_ref(r.device, r.seq))
            .collect();
        let pull = unrun(w.pull, WHAT)?;
        if !w.receipts.is_empty() && w.receipts.len() != pull.len() {
            return Err(WireError::Malformed {
                what: WHAT,
                detail: "the receipt times do not match the ops sent".into(),
            });
        }
        Ok(Response {
            vector: w.vector.to_vector(WHAT)?,
            refused,
            waiting,
            pull,
            more: w.more,
            receipts: w.receipts,
            stored_at: w.stored_at,
            head: w.head.map(|h| h.into_head(WHAT)).transpose()?,
        })
    }
}

/// Why a pushed op was not kept, in words.
fn refusal(outcome: &Result<Ingest, relevo_store::Error>) -> Option<String> {
    match outcome {
        Err(e) => Some(e.to_string()),
        Ok(Ingest::Forked) => Some(
            "it contradicts its device's history held by the hub (a cloned or restored device?): quarantined for a director"
                .into(),
        ),
        Ok(_) => None,
    }
}

/// The answering side of a session: takes in the pushed page (one
/// transaction), then answers with a page of what the asker lacks.
pub fn respond(
    store: &mut Store,
    request: Request,
    max_page: u32,
) -> Result<Response, relevo_store::Error> {
    let outcomes = store.ingest_batch(&request.push)?;
    let mut asker = request.vector;
    let mut refused = Vec::new();
    let mut waiting = Vec::new();
    for (op, outcome) in request.push.iter().zip(&outcomes) {
        match refusal(outcome) {
            Some(why) => refused.push((op.op_ref(), why)),
            None => {
                if matches!(outcome, Ok(Ingest::Pending)) {
                    waiting.push(op.op_ref());
                }
                let held = asker.entry(op.body.device).or_insert(0);
                *held = (*held).max(op.body.seq);
            }
        }
    }
    let vector = store.sync_vector()?;
    let ranges = plan(&vector, &asker);
    let limit = request.want.clamp(1, max_page) as usize;
    let pull = page(store, &ranges, limit, PAGE_BYTES)?;
    let more = count(&ranges) > pull.len() as u64;
    // A hub says when it received what it sends, and signs what it holds.
    let (receipts, stored_at, head) = if store.is_hub() {
        (
            store.receipt_times(&pull)?,
            relevo_store_now(),
            store.signed_head()?,
        )
    } else {
        (Vec::new(), 0, None)
    };
    Ok(Response {
        vector,
        refused,
        waiting,
        pull,
        more,
        receipts,
        stored_at,
        head,
    })
}

/// Why a session stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the hub cannot be reached: {0}")]
    Offline(String),
    #[error("the hub does not know this device: enrol it again with a new invitation")]
    Unauthorized,
    #[error("this device was revoked by the hub: it can no longer sync")]
    Revoked,
    #[error("the hub refused the request ({status}): {message}")]
    Http { status: u16, message: String },
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error(transparent)]
    Store(#[from] relevo_store::Error),
    #[error("this device is not enrolled with a hub: enrol it first (`relevo enrol --hub URL --code CODE`)")]
    NotEnrolled,
    #[error("{0}")]
    Bundle(String),
    /// A file the person named (a bundle) could not be read or written.
    #[error("{0}")]
    File(String),
    /// The hub refused the invitation code or the enrolment (its HTTP
    /// status: 401 unknown, 422 wrong or spent, 409 already enrolled…).
    #[error("{message}")]
    Enrolment { status: u16, message: String },
    #[error("the hub refused {count} op(s) and the session cannot go on: {first}")]
    Refused { count: usize, first: String },
    /// The connection would not be private or not be with the real hub:
    /// plain http across a network, or a certificate that is not the pinned
    /// one. Waiting does not mend it.
    #[error("{0}")]
    Insecure(String),
}

impl SyncError {
    /// The class of the failure, for the app and the CLI's exit status.
    pub fn code(&self) -> relevo_core::api::ErrorCode {
        use relevo_core::api::ErrorCode;
        match self {
            SyncError::Store(e) => e.code(),
            _ if self.is_offline() => ErrorCode::Offline,
            SyncError::Unauthorized | SyncError::Revoked => ErrorCode::Revoked,
            SyncError::Enrolment { .. } => ErrorCode::Enrolment,
            SyncError::File(_) => ErrorCode::Io,
            SyncError::NotEnrolled => ErrorCode::NotInitialised,
            _ => ErrorCode::Sync,
        }
    }

    /// Will trying again later help by itself?
    pub fn is_offline(&self) -> bool {
        matches!(self, SyncError::Offline(_))
            || matches!(self, SyncError::Http { status, .. } if *status >= 500 || *status == 429)
    }
}

/// Carries one request to the answering side and brings its answer back.
pub trait Transport {
    fn exchange(&mut self, request: &[u8]) -> Result<Vec<u8>, SyncError>;
}

/// How far a session has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Ops sent and kept by the other side.
    pub sent: u64,
    /// Ops received and taken in.
    pub received: u64,
    /// Ops still to send, as far as known.
    pub to_send: u64,
    /// The other side has more to send.
    pub more: bool,
}

/// What a finished session did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub sent: u64,
    pub received: u64,
    pub rounds: u32,
    /// Ops received that wait here for ops they name or for their time.
    pub pending: u64,
    /// Ops sent that the other side keeps waiting for ops they name or for
    /// their time.
    pub waiting_there: u64,
    /// Ops received that contradict a device's history: quarantined.
    pub forked: u64,
    /// Ops the other side refused, and why (the first [`MAX_REASONS`]).
    pub refused: Vec<String>,
    /// How many refusals in all.
    pub refused_count: u64,
    /// Ops that could not move in this session (they wait on one side for
    /// what has not come): the session ended rather than go round again.
    pub unmoved: u64,
    /// The other side's vector at the end.
    #[serde(skip)]
    pub remote: Vector,
}

impl Report {
    /// Keeps the first [`MAX_REASONS`] refusals word for word and counts
    /// the rest.
    fn note_refusals(&mut self, reasons: impl IntoIterator<Item = String>) {
        for why in reasons {
            self.refused_count += 1;
            if self.refused.len() < MAX_REASONS {
                self.refused.push(why.chars().take(500).collect());
            }
        }
    }
}

/// The asking side of a session: pulls and pushes pages until neither side
/// lacks anything the other holds, or until a round moves nothing (what is
/// left waits for ops that have not come, or for its time): a session
/// always ends. Each page is one transaction on each side, so a session cut
/// off at any point loses nothing and the next one continues.
pub fn run(
    store: &mut Store,
    transport: &mut dyn Transport,
    page_size: u32,
    mut progress: impl FnMut(Progress),
) -> Result<Report, SyncError> {
    let mut report = Report::default();
    let mut remote: Option<Vector> = None;
    // What the other side has said it holds, over the whole session (a
    // replica never loses ops), and the pushed ops it holds waiting: none
    // of it is pushed again.
    let mut known = Vector::new();
    let mut parked = Vector::new();
    let mut state = Progress::default();
    let mut outstanding = u64::MAX;
    loop {
        let local = store.sync_vector()?;
        let push = match &remote {
            Some(_) => page(
                store,
                &plan(&local, &join(&known, &parked)),
                page_size as usize,
                PAGE_BYTES,
            )?,
            None => Vec::new(),
        };
        let request = Request {
            vector: local,
            push,
            want: page_size,
        };
        let answer = Response::decode(&transport.exchange(&request.encode())?)?;
        report.rounds += 1;
        let refused: BTreeMap<OpRef, String> = answer.refused.iter().cloned().collect();
        let kept = request.push.len() - refused.len().min(request.push.len());
        report.sent += kept as u64;
        report.note_refusals(
            refused
                .iter()
                .map(|(r, why)| format!("{}#{}: {why}", r.device.tag(), r.seq)),
        );
        for r in &answer.waiting {
            let held = parked.entry(r.device).or_insert(0);
            *held = (*held).max(r.seq);
        }
        report.waiting_there = answer.waiting.len() as u64;
        // When the hub received what it sent, and the pushed ops it kept.
        if answer.stored_at > 0 || !answer.receipts.is_empty() {
            let waiting: std::collections::BTreeSet<OpRef> =
                answer.waiting.iter().copied().collect();
            let mut receipts: Vec<(OpRef, u64)> = answer
                .pull
                .iter()
                .zip(&answer.receipts)
                .map(|(o, at)| (o.op_ref(), *at))
                .collect();
            receipts.extend(
                request
                    .push
                    .iter()
                    .map(|o| o.op_ref())
                    .filter(|r| !refused.contains_key(r) && !waiting.contains(r))
                    .map(|r| (r, answer.stored_at)),
            );
            store.keep_hub_receipts(&receipts)?;
        }
        if let Some(head) = &answer.head {
            if let Err(e) = store.keep_hub_head(head) {
                report.note_refusals([e.to_string()]);
            }
        }
        for outcome in store.ingest_batch(&answer.pull)? {
            match outcome {
                Ok(Ingest::Applied(_)) | Ok(Ingest::Duplicate) => report.received += 1,
                Ok(Ingest::Pending) => {
                    report.received += 1;
                    report.pending += 1;
                }
                Ok(Ingest::Forked) => report.forked += 1,
                Err(e) => report.note_refusals([e.to_string()]),
            }
        }
        let local = store.sync_vector()?;
        // Only what this store holds is worth remembering of the other
        // side's vector.
        let answer_vector: Vector = answer
            .vector
            .iter()
            .filter(|(d, _)| local.contains_key(d))
            .map(|(d, n)| (*d, *n))
            .collect();
        store.record_sync(&answer_vector, relevo_store_now())?;
        known = join(&known, &answer_vector);
        let left = count(&plan(&local, &join(&known, &parked)));
        state.sent = report.sent;
        state.received = report.received;
        state.to_send = left;
        state.more = answer.more;
        progress(state);
        if !request.push.is_empty() && kept == 0 {
            // Nothing pushed was kept: pushing again would not change that.
            return Err(SyncError::Refused {
                count: refused.len(),
                first: report.refused.first().cloned().unwrap_or_default(),
            });
        }
        let nothing_left = left == 0 && !answer.more;
        // A round moved something when this side now holds more, or less
        // is left to send than ever before (the other side took ops, to
        // apply or to hold waiting). Both only go one way, so a session
        // ends whatever the other side answers.
        let moved = remote.is_none() || local != request.vector || left < outstanding;
        outstanding = outstanding.min(left);
        remote = Some(answer.vector);
        if nothing_left || !moved || report.rounds >= MAX_ROUNDS {
            report.unmoved = if nothing_left {
                0
            } else {
                left.max(u64::from(answer.more))
            };
            report.remote = remote.unwrap_or_default();
            return Ok(report);
        }
    }
}

fn relevo_store_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
