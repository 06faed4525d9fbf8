//! A fake Mailchimp Marketing API on loopback, for tests, holding audiences in memory.
//!
//! It enforces the rules of the real API that a sync can break: the API key (Basic auth),
//! 500 members per batch, 1,000 items per page, 429 when more than 10 requests are in
//! flight, member statuses (`update_existing: false` leaves existing members alone; archived
//! members are brought back by a batch create), tags as static segments, addresses not in
//! the audience ignored by the bulk tag call, and forgotten addresses refused. Faults (429
//! storms, 5xx, a request that never answers) are injected with [`Fault`]. Every request is
//! logged with its body and answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::Notify;

use super::address::{normalize, subscriber_hash};
use super::client::IN_FLIGHT_MAX;
use routes::problem;

mod routes;

const PAGE_MAX: usize = 1000;
const STATUSES: [&str; 5] = [
    "subscribed",
    "unsubscribed",
    "cleaned",
    "pending",
    "transactional",
];

/// A request as the fake saw it. `path` has no `/3.0` prefix; `body` is `Null` when empty.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
    pub status: u16,
    /// When the request arrived.
    pub at: std::time::Instant,
}

impl LoggedRequest {
    /// Whether the request wrote something (any method but GET).
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

/// A member as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMember {
    pub email: String,
    pub status: String,
    pub tags: Vec<String>,
}

/// A misbehaviour to inject: requests matching `method` and `path_contains` (after `skip`
/// matching ones pass untouched) get `action`, `times` times.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<&'static str>,
    pub path_contains: Option<String>,
    pub skip: usize,
    pub times: usize,
    pub action: FaultAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status (and a `Retry-After` in seconds) without doing anything.
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Do the work, then never answer: the caller cannot know it was done.
    HangAfterApply,
}

impl Fault {
    /// The next `times` requests, whatever they are, get 429.
    pub fn storm(times: usize) -> Fault {
        Fault {
            method: None,
            path_contains: None,
            skip: 0,
            times,
            action: FaultAction::Status {
                status: 429,
                retry_after: None,
            },
        }
    }

    /// Requests with `method` whose path contains `path` get `status`.
    pub fn status(method: &'static str, path: &str, status: u16) -> Fault {
        Fault {
            method: Some(method),
            path_contains: Some(path.into()),
            skip: 0,
            times: 1,
            action: FaultAction::Status {
                status,
                retry_after: None,
            },
        }
    }

    /// Requests with `method` whose path contains `path` are done, then never answered.
    pub fn hang(method: &'static str, path: &str) -> Fault {
        Fault {
            action: FaultAction::HangAfterApply,
            ..Fault::status(method, path, 0)
        }
    }

    pub fn after(self, skip: usize) -> Fault {
        Fault { skip, ..self }
    }

    pub fn times(self, times: usize) -> Fault {
        Fault { times, ..self }
    }

    pub fn retry_after(mut self, secs: u64) -> Fault {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(secs);
        }
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
    }
}

#[derive(Debug, Default)]
struct Audience {
    members: BTreeMap<String, (String, String)>,
    forgotten: BTreeSet<String>,
    segments: BTreeMap<i64, (String, BTreeSet<String>)>,
}

#[derive(Debug, Default)]
struct World {
    lists: BTreeMap<String, Audience>,
    next_segment_id: i64,
}

struct Shared {
    api_key: String,
    world: Mutex<World>,
    log: Mutex<Vec<LoggedRequest>>,
    faults: Mutex<Vec<Fault>>,
    latency: Mutex<Duration>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    hung: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running fake; the server stops when it is dropped.
pub struct FakeMailchimp {
    shared: Arc<Shared>,
    base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeMailchimp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMailchimp {
    /// Starts a fake on `127.0.0.1` accepting `api_key`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(api_key: &str) -> FakeMailchimp {
        let shared = Arc::new(Shared {
            api_key: api_key.into(),
            world: Mutex::new(World {
                next_segment_id: 1000,
                ..World::default()
            }),
            log: Mutex::default(),
            faults: Mutex::default(),
            latency: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            hung: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base_url = format!("http://{}/3.0", listener.local_addr().expect("bound"));
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake Mailchimp serves");
        });
        FakeMailchimp {
            shared,
            base_url,
            task,
        }
    }

    /// The base URL to give the client, ending in `/3.0`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn add_list(&self, list_id: &str) {
        let mut world = lock(&self.shared.world);
        world.lists.entry(list_id.into()).or_default();
    }

    /// Puts a member in the audience with `status` (including `archived`).
    pub fn put_member(&self, list_id: &str, email: &str, status: &str) {
        let mut world = lock(&self.shared.world);
        let list = world.lists.entry(list_id.into()).or_default();
        let record = (normalize(email), status.to_string());
        list.members.insert(subscriber_hash(email), record);
    }

    /// Deletes a member permanently: its address can never be re-imported.
    pub fn forget(&self, list_id: &str, email: &str) {
        let mut world = lock(&self.shared.world);
        let list = world.lists.entry(list_id.into()).or_default();
        let hash = subscriber_hash(email);
        list.members.remove(&hash);
        list.segments.values_mut().for_each(|(_, m)| {
            m.remove(&hash);
        });
        list.forgotten.insert(hash);
    }

    /// Tags a member in Mailchimp's UI (creating the tag if needed).
    pub fn tag_by_hand(&self, list_id: &str, tag: &str, email: &str) {
        let mut world = lock(&self.shared.world);
        let id = segment_named(&mut world, list_id, tag);
        let list = world.lists.get_mut(list_id).expect("list");
        list.segments
            .get_mut(&id)
            .expect("tag")
            .1
            .insert(subscriber_hash(email));
    }

    /// Removes a tag from a member in Mailchimp's UI.
    pub fn untag_by_hand(&self, list_id: &str, tag: &str, email: &str) {
        let mut world = lock(&self.shared.world);
        let id = segment_named(&mut world, list_id, tag);
        let list = world.lists.get_mut(list_id).expect("list");
        list.segments
            .get_mut(&id)
            .expect("tag")
            .1
            .remove(&subscriber_hash(email));
    }

    /// Deletes a tag in Mailchimp's UI.
    pub fn delete_tag(&self, list_id: &str, tag: &str) {
        let mut world = lock(&self.shared.world);
        let list = world.lists.entry(list_id.into()).or_default();
        list.segments
            .retain(|_, (name, _)| !name.eq_ignore_ascii_case(tag));
    }

    pub fn member(&self, list_id: &str, email: &str) -> Option<FakeMember> {
        let world = lock(&self.shared.world);
        let list = world.lists.get(list_id)?;
        let hash = subscriber_hash(email);
        let (email, status) = list.members.get(&hash)?.clone();
        let tags = tags_of(list, &hash);
        Some(FakeMember {
            email,
            status,
            tags,
        })
    }

    /// The addresses carrying `tag`, sorted.
    pub fn tagged(&self, list_id: &str, tag: &str) -> Vec<String> {
        let world = lock(&self.shared.world);
        let Some(list) = world.lists.get(list_id) else {
            return Vec::new();
        };
        let found = list
            .segments
            .values()
            .find(|(name, _)| name.eq_ignore_ascii_case(tag));
        let hashes = found.map(|(_, m)| m.clone()).unwrap_or_default();
        let mut emails: Vec<String> = hashes
            .iter()
            .filter_map(|h| list.members.get(h).map(|(e, _)| e.clone()))
            .collect();
        emails.sort();
        emails
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).clone()
    }

    pub fn clear_log(&self) {
        lock(&self.shared.log).clear();
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Every request waits this long while counted in flight.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// The most requests ever in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Resolves when a [`FaultAction::HangAfterApply`] request has been done.
    pub async fn hung(&self) {
        self.shared.hung.notified().await;
    }
}

fn segment_named(world: &mut World, list_id: &str, name: &str) -> i64 {
    let next = world.next_segment_id;
    let list = world.lists.entry(list_id.into()).or_default();
    let found = list
        .segments
        .iter()
        .find(|(_, (n, _))| n.eq_ignore_ascii_case(name));
    if let Some((id, _)) = found {
        return *id;
    }
    list.segments.insert(next, (name.into(), BTreeSet::new()));
    world.next_segment_id += 1;
    next
}

fn tags_of(list: &Audience, hash: &str) -> Vec<String> {
    list.segments
        .values()
        .filter(|(_, members)| members.contains(hash))
        .map(|(name, _)| name.clone())
        .collect()
}

fn router(shared: Arc<Shared>) -> Router {
    let list = "/3.0/lists/{list_id}";
    let segment = "/3.0/lists/{list_id}/segments/{segment_id}";
    Router::new()
        .route(list, post(routes::batch_subscribe))
        .route(&format!("{list}/members/{{hash}}"), get(routes::get_member))
        .route(
            &format!("{list}/members/{{hash}}/tags"),
            post(routes::member_tags),
        )
        .route(
            &format!("{list}/segments"),
            get(routes::list_segments).post(routes::create_segment),
        )
        .route(segment, post(routes::batch_segment))
        .route(&format!("{segment}/members"), get(routes::segment_members))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Logging, the API key, the limit of requests in flight, latency and injected faults.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, 16 << 20).await.unwrap_or_default();
    let mut logged = LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().trim_start_matches("/3.0").to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        status: 0,
        at: std::time::Instant::now(),
    };
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _in_flight = InFlight(&shared.in_flight);
    shared.peak.fetch_max(now, Ordering::SeqCst);
    let fault = take_fault(&shared, &logged.method, &logged.path);
    let response = if !authorized(&parts.headers, &shared.api_key) {
        problem(
            StatusCode::UNAUTHORIZED,
            "API Key Invalid",
            "Your API key may be invalid.",
        )
    } else if now > IN_FLIGHT_MAX {
        problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "More than 10 simultaneous connections.",
        )
    } else {
        let latency = *lock(&shared.latency);
        tokio::time::sleep(latency).await;
        match fault {
            Some(FaultAction::Status {
                status,
                retry_after,
            }) => injected(status, retry_after),
            Some(FaultAction::HangAfterApply) => {
                let request = Request::from_parts(parts, Body::from(bytes));
                let response = next.run(request).await;
                logged.status = response.status().as_u16();
                lock(&shared.log).push(logged);
                shared.hung.notify_one();
                return std::future::pending().await;
            }
            None => {
                next.run(Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
        }
    };
    logged.status = response.status().as_u16();
    lock(&shared.log).push(logged);
    response
}

fn take_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultAction> {
    let mut faults = lock(&shared.faults);
    let fault = faults
        .iter_mut()
        .find(|f| f.times > 0 && f.matches(method, path))?;
    if fault.skip > 0 {
        fault.skip -= 1;
        return None;
    }
    fault.times -= 1;
    Some(fault.action)
}

fn injected(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = problem(
        status,
        status.canonical_reason().unwrap_or("Error"),
        "Injected fault.",
    );
    if let Some(secs) = retry_after {
        let value = secs.to_string().parse().expect("digits");
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Basic auth with any user name and the key as password.
fn authorized(headers: &HeaderMap, api_key: &str) -> bool {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let decoded = value
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(base64_decode)
        .and_then(|bytes| String::from_utf8(bytes).ok());
    decoded
        .and_then(|text| text.split_once(':').map(|(_, key)| key == api_key))
        .unwrap_or(false)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.trim().trim_end_matches('=').bytes() {
        let value = ALPHABET.iter().position(|&c| c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}
